"""Cashback tasks: the nightly wallet audit (beat entry ``wallets-audit-nightly``).

The result is kept in the cache under :data:`AUDIT_CACHE_KEY` (Redis in the full stack, shared by the worker that
runs the audit and the web server that serves ``/metrics``), read by :mod:`cashback.metrics` as
``cashback_wallet_audit_mismatches`` and ``cashback_wallet_audit_last_run_timestamp_seconds``; the alerts
``WalletLedgerMismatch`` and ``WalletAuditNotRun`` watch them.
"""

import logging

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from ..services.ledger_audit import wallets_audit_run

logger = logging.getLogger(__name__)

AUDIT_CACHE_KEY = "cashback:wallet-audit:last-run"


@shared_task(name="cashback.tasks.audit.audit_wallets")
def audit_wallets() -> dict[str, int]:
    """Check every wallet against its ledger, log each mismatch at ERROR and record the outcome for ``/metrics``.
    Read-only, so safe to run twice or by hand (``manage.py wallet_audit`` is the same check)."""
    result = wallets_audit_run()
    for mismatch in result.mismatches:
        logger.error("Wallet ledger mismatch: %s", mismatch.describe())
    outcome = {"checked": result.checked, "mismatches": len(result.mismatches)}
    # No expiry: the alert on a stale run needs the last finish time however old it is.
    cache.set(AUDIT_CACHE_KEY, {**outcome, "finished_at": timezone.now().timestamp()}, timeout=None)
    return outcome
