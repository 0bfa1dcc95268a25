"""``/metrics``: django-prometheus' exporter plus the gauges each app reads from its database at scrape time.

Under gunicorn (``PROMETHEUS_MULTIPROC_DIR`` set) django-prometheus' view serves a fresh registry of the
multiprocess files only, so the apps' in-process collectors are added to it here; without it the default registry
already has them (each collector registers itself when its module is imported, which this module does).
"""

import os

from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

from cashback.metrics import COLLECTOR as CASHBACK_COLLECTOR
from payments.metrics import COLLECTOR as PAYMENTS_COLLECTOR

COLLECTORS = (PAYMENTS_COLLECTOR, CASHBACK_COLLECTOR)


def export_metrics(request: HttpRequest) -> HttpResponse:
    """Every process's counters and histograms (multiprocess files under gunicorn) plus the database gauges."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ or "prometheus_multiproc_dir" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        for collector in COLLECTORS:
            registry.register(collector)
    else:
        registry = REGISTRY
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
