"""Cashback entries under real parallel transactions (PostgreSQL): one entry per order however many tasks run at
once, a refund event delivered many times at once takes back once, a credit racing a refund leaves every paisa
accounted for, and parallel confirmation runs confirm each entry once. No deadlocks (lock order: the order or
conversion, then the entry, then the wallet)."""

from decimal import Decimal

import pytest
from django.db.models import Sum

from cashback.models import CashbackEntry, CashbackStatus, RiskAssessment, Wallet, WalletEntry, WalletEntryKind
from cashback.services import entries
from commerce.orders.models import Order, PaymentStatus
from commerce.orders.services.transitions import order_record_refund
from tests.concurrency import error_codes, run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def low_risk(monkeypatch):
    def fake(*, entry, now=None):
        return RiskAssessment.objects.create(entry=entry, score=0, level="low", rules=[])

    monkeypatch.setattr(entries, "risk_assess", fake)


def _ledger_adds_up(user) -> Wallet:
    wallet = Wallet.objects.get(user=user)
    assert wallet.available == (WalletEntry.objects.filter(wallet=wallet).aggregate(s=Sum("amount"))["s"] or 0)
    return wallet


def test_ten_creations_at_once_make_one_entry(paid_order, shopper):
    order = paid_order()

    results = run_together([lambda: entries.cashback_create_for_order(order_id=order.pk)] * 10)

    assert error_codes(results) == {"ok": 10}
    assert {result["value"].pk for result in results} == {CashbackEntry.objects.get(order=order).pk}
    assert Wallet.objects.get(user=shopper).pending == Decimal("49.90")


def test_a_refund_event_ten_times_at_once_takes_back_once(paid_order, shopper):
    order = paid_order()
    entry = entries.cashback_create_for_order(order_id=order.pk)
    entries.cashback_confirm(entry_id=entry.pk)
    entries.cashback_assess(entry_id=entry.pk)
    Order.objects.filter(pk=order.pk).update(
        refunded_amount=Decimal("499.00"), payment_status=PaymentStatus.PARTIALLY_REFUNDED
    )

    results = run_together([lambda: entries.cashback_order_refunded(order_id=order.pk)] * 10)

    assert error_codes(results) == {"ok": 10}
    assert WalletEntry.objects.filter(kind=WalletEntryKind.CASHBACK_REVERSAL).count() == 1
    assert CashbackEntry.objects.get(pk=entry.pk).reversed_amount == Decimal("24.95")
    assert _ledger_adds_up(shopper).available == Decimal("24.95")


def test_assessing_five_times_at_once_credits_once(paid_order, shopper):
    entry = entries.cashback_create_for_order(order_id=paid_order().pk)
    entries.cashback_confirm(entry_id=entry.pk)

    results = run_together([lambda: entries.cashback_assess(entry_id=entry.pk)] * 5)

    assert error_codes(results) == {"ok": 5}
    assert RiskAssessment.objects.count() == 1
    wallet = _ledger_adds_up(shopper)
    assert (wallet.available, wallet.pending) == (Decimal("49.90"), Decimal("0.00"))


def test_a_credit_racing_a_refund_accounts_for_every_paisa(paid_order, shopper):
    order = paid_order()
    entry = entries.cashback_create_for_order(order_id=order.pk)
    entries.cashback_confirm(entry_id=entry.pk)

    def refund():
        order_record_refund(order_id=order.pk, amount=Decimal("499.00"), reference="rf_race")
        return entries.cashback_order_refunded(order_id=order.pk)

    results = run_together([lambda: entries.cashback_assess(entry_id=entry.pk), refund])

    assert error_codes(results) == {"ok": 2}
    entry.refresh_from_db()
    assert (entry.status, entry.reversed_amount) == (CashbackStatus.CREDITED, Decimal("24.95"))
    wallet = _ledger_adds_up(shopper)
    assert (wallet.available, wallet.pending, wallet.lifetime_earned) == (
        Decimal("24.95"),
        Decimal("0.00"),
        Decimal("24.95"),
    )


def test_creation_racing_refunds_ends_in_the_same_proportion(paid_order, shopper):
    order = paid_order()

    def refund():
        order_record_refund(order_id=order.pk, amount=Decimal("499.00"), reference="rf_early")
        return entries.cashback_order_refunded(order_id=order.pk)

    results = run_together([lambda: entries.cashback_create_for_order(order_id=order.pk), refund])

    assert error_codes(results) == {"ok": 2}
    # Whichever ran first, the refund event (sent after its commit) brings the entry to the proportion.
    entries.cashback_order_refunded(order_id=order.pk)
    entry = CashbackEntry.objects.get(order=order)
    assert (entry.amount, entry.reversed_amount) == (Decimal("49.90"), Decimal("24.95"))
    assert Wallet.objects.get(user=shopper).pending == Decimal("24.95")


def test_two_confirmation_runs_at_once_confirm_each_entry_once(paid_order, make_variant):
    from datetime import UTC, datetime

    ids = []
    for n in range(6):
        order = paid_order(lines=[(make_variant(sku=f"SKU-{n}", price="100.00"), 1)])
        Order.objects.filter(pk=order.pk).update(status="delivered", delivered_at=datetime(2026, 3, 1, tzinfo=UTC))
        ids.append(entries.cashback_order_delivered(order_id=order.pk).pk)
    now = datetime(2026, 6, 1, tzinfo=UTC)

    results = run_together([lambda: entries.cashbacks_confirm_due(now=now, batch_size=2)] * 2)

    assert error_codes(results) == {"ok": 2}
    assert sum(result["value"] for result in results) == 6
    assert set(CashbackEntry.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"confirmed"}
    assert all(CashbackEntry.objects.get(pk=pk).events.filter(to_status="confirmed").count() == 1 for pk in ids)
