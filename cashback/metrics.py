"""Prometheus gauges of the cashback app, read at scrape time (so they are right whichever process did the work):

* ``cashback_wallet_audit_mismatches``: mismatches found by the last nightly wallet audit
  (``cashback.tasks.audit.audit_wallets``), and ``cashback_wallet_audit_last_run_timestamp_seconds``: when it
  finished (Unix time). Both come from the cache entry the task writes (Redis in the full stack, so the worker's
  result reaches the web server); neither is exported before the first run. Alerts: ``WalletLedgerMismatch``,
  ``WalletAuditNotRun``.
* ``cashback_withdrawals_open{status}``: withdrawals still holding money (requested, approved, processing); one
  grouped query over the indexed status.
* ``cashback_review_queue`` and ``cashback_review_queue_oldest_age_seconds``: confirmed cashback scored high risk,
  waiting for staff, and how long the oldest has waited since it was confirmed; one query over the review index.

A cache or database that cannot be read yields none of its gauges (logged) rather than failing the scrape.
``config.metrics.export_metrics`` serves these beside the payments gauges, under gunicorn too.
"""

import logging
from collections.abc import Iterator

from django.core.cache import cache
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .tasks.audit import AUDIT_CACHE_KEY

logger = logging.getLogger(__name__)


class CashbackCollector(Collector):
    """The cashback gauges (see the module docstring)."""

    def collect(self) -> Iterator[Metric]:
        yield from self._audit()
        yield from self._queues()

    def _audit(self) -> Iterator[Metric]:
        try:
            last = cache.get(AUDIT_CACHE_KEY)
        except Exception as exc:  # the scrape must not fail because the cache is down
            logger.warning("Wallet audit metrics not collected: %s", exc)
            return
        if not isinstance(last, dict):
            return
        yield GaugeMetricFamily(
            "cashback_wallet_audit_mismatches",
            "Wallet balances that did not match their ledger in the last wallet audit.",
            value=last["mismatches"],
        )
        yield GaugeMetricFamily(
            "cashback_wallet_audit_last_run_timestamp_seconds",
            "When the last wallet audit finished (Unix time).",
            value=last["finished_at"],
        )

    def _queues(self) -> Iterator[Metric]:
        from .models import OPEN_WITHDRAWAL_STATUSES, CashbackEntry, CashbackStatus, RiskLevel, Withdrawal

        try:
            withdrawals = dict(
                Withdrawal.objects.filter(status__in=OPEN_WITHDRAWAL_STATUSES)
                .order_by()
                .values("status")
                .annotate(n=Count("pk"))
                .values_list("status", "n")
            )
            review = CashbackEntry.objects.filter(status=CashbackStatus.CONFIRMED, risk_level=RiskLevel.HIGH).aggregate(
                n=Count("pk"), oldest=Min("confirmed_at")
            )
        except Exception as exc:  # the scrape must not fail because of one collector
            logger.warning("Cashback metrics not collected: %s", exc)
            return
        open_ = GaugeMetricFamily(
            "cashback_withdrawals_open",
            "Withdrawals holding wallet money: requested (awaiting approval), approved, processing (payout sent).",
            labels=["status"],
        )
        for status in OPEN_WITHDRAWAL_STATUSES:
            open_.add_metric([status], withdrawals.get(status, 0))
        yield open_
        yield GaugeMetricFamily(
            "cashback_review_queue", "Confirmed cashback scored high risk, waiting for staff review.", value=review["n"]
        )
        oldest = review["oldest"]
        age = max((timezone.now() - oldest).total_seconds(), 0.0) if oldest else 0.0
        yield GaugeMetricFamily(
            "cashback_review_queue_oldest_age_seconds",
            "Seconds the oldest cashback in the review queue has waited since it was confirmed (0 when none).",
            value=age,
        )

    def describe(self) -> Iterator[Metric]:
        # Described without touching the cache or the database (registering a collector calls this).
        return iter(())


COLLECTOR = CashbackCollector()
REGISTRY.register(COLLECTOR)
