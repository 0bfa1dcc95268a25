"""Cashback metrics: the nightly wallet audit's result, open withdrawals and the review queue, read at scrape time
and served on /metrics (also under gunicorn's multiprocess registry, beside the payments gauges)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client, RequestFactory
from prometheus_client import CollectorRegistry

from cashback.metrics import CashbackCollector
from cashback.models import CashbackEntry, CashbackSource, CashbackStatus, RiskLevel
from cashback.services.withdrawals import withdrawal_approve, withdrawal_mark_paid, withdrawal_request
from cashback.tasks.audit import AUDIT_CACHE_KEY, audit_wallets
from config.metrics import export_metrics
from tests.cashback.conftest import wallet_fund
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 14, 2, 30, tzinfo=UTC)
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def collected() -> Samples:
    registry = CollectorRegistry()
    registry.register(CashbackCollector())
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for family in registry.collect() for s in family.samples}


def queued(*, user, merchant, order, confirmed_at, level=RiskLevel.HIGH, status=CashbackStatus.CONFIRMED):
    return CashbackEntry.objects.create(
        user=user,
        merchant=merchant,
        source=CashbackSource.ORDER,
        order=order,
        currency="INR",
        base_amount=Decimal("998.00"),
        rate=Decimal("5.00"),
        amount=Decimal("49.90"),
        status=status,
        risk_level=level,
        risk_score=80 if level == RiskLevel.HIGH else 10,
        confirmed_at=confirmed_at,
    )


def test_nothing_about_the_audit_is_exported_before_its_first_run():
    values = collected()

    assert [name for name, _ in values if name.startswith("cashback_wallet_audit")] == []
    assert values[("cashback_review_queue", ())] == 0
    assert values[("cashback_review_queue_oldest_age_seconds", ())] == 0
    assert values[("cashback_withdrawals_open", (("status", "requested"),))] == 0


def test_the_audit_result_is_exported_after_the_task_ran(shopper):
    wallet_fund(user=shopper, amount="10.00")
    with time_machine.travel(NOW, tick=False):
        audit_wallets()

    values = collected()

    assert values[("cashback_wallet_audit_mismatches", ())] == 0
    assert values[("cashback_wallet_audit_last_run_timestamp_seconds", ())] == NOW.timestamp()


def test_mismatches_of_the_last_run_are_exported():
    cache.set(AUDIT_CACHE_KEY, {"checked": 12, "mismatches": 3, "finished_at": NOW.timestamp()}, timeout=None)

    values = collected()

    assert values[("cashback_wallet_audit_mismatches", ())] == 3
    assert values[("cashback_wallet_audit_last_run_timestamp_seconds", ())] == NOW.timestamp()


def test_open_withdrawals_are_counted_by_status():
    admin = UserFactory(is_staff=True, is_superuser=True)
    users = [UserFactory() for _ in range(4)]
    for user in users:
        wallet_fund(user=user, amount="500.00")
    withdrawals = [
        withdrawal_request(user_id=user.pk, amount="150.00", method="upi", vpa="priya@okaxis") for user in users
    ]
    withdrawal_approve(withdrawal_id=withdrawals[1].pk, actor=admin)
    withdrawal_approve(withdrawal_id=withdrawals[2].pk, actor=admin)
    withdrawal_approve(withdrawal_id=withdrawals[3].pk, actor=admin)
    withdrawal_mark_paid(withdrawal_id=withdrawals[3].pk, reference="UTR123", actor=admin)

    values = collected()

    assert values[("cashback_withdrawals_open", (("status", "requested"),))] == 1
    assert values[("cashback_withdrawals_open", (("status", "approved"),))] == 2
    assert values[("cashback_withdrawals_open", (("status", "processing"),))] == 0


def test_the_review_queue_counts_high_risk_confirmed_cashback_and_ages_the_oldest(shopper, merchant, paid_order):
    queued(user=shopper, merchant=merchant, order=paid_order(), confirmed_at=NOW - timedelta(hours=3))
    queued(user=shopper, merchant=merchant, order=paid_order(), confirmed_at=NOW - timedelta(minutes=10))
    # Not waiting for staff: low risk (credited at once), or already decided.
    queued(user=shopper, merchant=merchant, order=paid_order(), confirmed_at=NOW - timedelta(days=2), level="")
    queued(
        user=shopper,
        merchant=merchant,
        order=paid_order(),
        confirmed_at=NOW - timedelta(days=3),
        status=CashbackStatus.REJECTED,
    )

    with time_machine.travel(NOW, tick=False):
        values = collected()

    assert values[("cashback_review_queue", ())] == 2
    assert values[("cashback_review_queue_oldest_age_seconds", ())] == 3 * 3600


def test_a_cache_or_database_that_cannot_be_read_leaves_its_gauges_out(monkeypatch):
    def down(*args, **kwargs):
        raise RuntimeError("connection refused")

    cache.set(AUDIT_CACHE_KEY, {"checked": 1, "mismatches": 0, "finished_at": NOW.timestamp()}, timeout=None)
    monkeypatch.setattr(cache, "get", down)
    monkeypatch.setattr(CashbackEntry.objects, "filter", down)

    assert collected() == {}


def test_metrics_endpoint_serves_cashback_and_payments_gauges():
    cache.set(AUDIT_CACHE_KEY, {"checked": 1, "mismatches": 0, "finished_at": NOW.timestamp()}, timeout=None)

    text = Client().get("/metrics").content.decode()

    assert "# TYPE cashback_wallet_audit_mismatches gauge" in text
    assert "cashback_wallet_audit_mismatches 0.0" in text
    assert "cashback_wallet_audit_last_run_timestamp_seconds 1.7734554e+09" in text
    assert 'cashback_withdrawals_open{status="requested"} 0.0' in text
    assert 'payments_webhook_backlog{provider="demo"} 0.0' in text


def test_the_multiprocess_registry_gets_both_apps_gauges(tmp_path, monkeypatch):
    """Under gunicorn (PROMETHEUS_MULTIPROC_DIR set) django-prometheus' view loses in-process collectors."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    cache.set(AUDIT_CACHE_KEY, {"checked": 1, "mismatches": 2, "finished_at": NOW.timestamp()}, timeout=None)

    text = export_metrics(RequestFactory().get("/metrics")).content.decode()

    assert "cashback_wallet_audit_mismatches 2.0" in text
    assert "cashback_review_queue 0.0" in text
    assert 'payments_webhook_backlog{provider="demo"} 0.0' in text
