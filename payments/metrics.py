"""Prometheus metrics of payments and the webhook inbox.

Two kinds, because webhooks are received by the web server but processed by Celery workers, and Prometheus
scrapes only the web server (``ops/prometheus/prometheus.yml``, job ``web``):

* **counted where it happens** (prometheus_client, multiprocess-safe under gunicorn):
  ``payments_webhooks_received_total{provider, outcome}`` with outcome ``accepted``, ``duplicate`` or
  ``invalid`` (bad signature, nothing stored), counted by the web server; and
  ``payments_webhooks_processed_total{provider, status}`` (``processed``, ``ignored``, ``retry``, ``failed``) with
  the histogram ``payments_webhook_processing_lag_seconds{provider}`` (receipt to processed), counted by the
  process that processes: the web server in the embedded default (eager Celery), a worker in the full stack.
* **read from the database at scrape time** (:class:`PaymentsCollector`), so they are right whichever process
  did the work: ``payments_payments{provider, status}`` (payments by status), ``payments_webhook_backlog{provider}``
  (``received`` rows not yet processed), ``payments_webhook_oldest_age_seconds{provider}`` (how long the oldest
  of those has waited: the lag as it grows) and ``payments_webhook_failed{provider}`` (``failed`` rows waiting for
  a replay). Every figure is one grouped query over an indexed status; the processed rows are never counted.

Under gunicorn, django-prometheus' ``/metrics`` view serves only prometheus_client's multiprocess files (a fresh
registry), never collectors registered in-process. :func:`export_metrics` is that view plus
:class:`PaymentsCollector`; ``config/urls.py`` must route ``/metrics`` to it for the gauges (and the alerts on
them) to exist in the full stack. Without ``PROMETHEUS_MULTIPROC_DIR`` both views serve the default registry,
which has the collector already.
"""

import logging
import os
from collections.abc import Iterator

from django.db.models import Count, Min
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

WEBHOOKS_RECEIVED = Counter(
    "payments_webhooks_received",
    "Webhook deliveries by outcome: accepted (stored), duplicate (already stored), invalid (bad signature).",
    ["provider", "outcome"],
)
WEBHOOKS_PROCESSED = Counter(
    "payments_webhooks_processed",
    "Webhook processing attempts by resulting status: processed, ignored, retry (scheduled again), failed.",
    ["provider", "status"],
)
WEBHOOK_LAG = Histogram(
    "payments_webhook_processing_lag_seconds",
    "Seconds from a webhook's receipt to its processing (processed, ignored or failed).",
    ["provider"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200),
)


def webhook_received(*, provider: str, outcome: str) -> None:
    WEBHOOKS_RECEIVED.labels(provider, outcome).inc()


def webhook_processed(*, provider: str, status: str, lag_seconds: float | None) -> None:
    WEBHOOKS_PROCESSED.labels(provider, status).inc()
    if lag_seconds is not None:
        WEBHOOK_LAG.labels(provider).observe(max(lag_seconds, 0.0))


class PaymentsCollector(Collector):
    """The database-derived gauges (see the module docstring). A database that cannot be read yields nothing
    (logged) rather than failing the whole scrape."""

    def collect(self) -> Iterator[Metric]:
        from .models import Payment, WebhookEvent, WebhookStatus

        try:
            payments = list(
                Payment.objects.order_by()
                .values("provider", "status")
                .annotate(n=Count("pk"))
                .values_list("provider", "status", "n")
            )
            waiting = list(
                WebhookEvent.objects.filter(status__in=[WebhookStatus.RECEIVED, WebhookStatus.FAILED])
                .order_by()
                .values("provider", "status")
                .annotate(n=Count("pk"), oldest=Min("received_at"))
                .values_list("provider", "status", "n", "oldest")
            )
        except Exception as exc:  # the scrape must not fail because of one collector
            logger.warning("Payments metrics not collected: %s", exc)
            return
        now = timezone.now()
        by_status = GaugeMetricFamily(
            "payments_payments", "Payments by provider and status.", labels=["provider", "status"]
        )
        for provider, status, n in payments:
            by_status.add_metric([provider, status], n)
        backlog = GaugeMetricFamily(
            "payments_webhook_backlog", "Webhooks received and not processed yet.", labels=["provider"]
        )
        oldest = GaugeMetricFamily(
            "payments_webhook_oldest_age_seconds",
            "Seconds the oldest webhook not processed yet has waited (0 when none waits).",
            labels=["provider"],
        )
        failed = GaugeMetricFamily(
            "payments_webhook_failed", "Webhooks that failed every attempt, waiting for a replay.", labels=["provider"]
        )
        from .models import Provider

        seen = {(provider, status): (n, first) for provider, status, n, first in waiting}
        for provider in Provider.values:
            n, first = seen.get((provider, WebhookStatus.RECEIVED), (0, None))
            backlog.add_metric([provider], n)
            oldest.add_metric([provider], max((now - first).total_seconds(), 0.0) if first else 0.0)
            failed.add_metric([provider], seen.get((provider, WebhookStatus.FAILED), (0, None))[0])
        yield by_status
        yield backlog
        yield oldest
        yield failed

    def describe(self) -> Iterator[Metric]:
        # Described without touching the database (registering a collector calls this).
        return iter(())


COLLECTOR = PaymentsCollector()
REGISTRY.register(COLLECTOR)


def export_metrics(request: HttpRequest) -> HttpResponse:
    """``/metrics``: django-prometheus' view (multiprocess files under gunicorn) plus the payments gauges."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ or "prometheus_multiproc_dir" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(COLLECTOR)
    else:
        registry = REGISTRY
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
