"""Refunds take cashback back in proportion: from pending before the credit (all of it: rejected), with a reversal
ledger row after it (all of it: reversed); a refund event delivered twice changes nothing."""

from decimal import Decimal

import pytest

from cashback.models import CashbackEntry, CashbackStatus, RiskAssessment, Wallet, WalletEntry, WalletEntryKind
from cashback.services import entries
from commerce.notifications.models import Notification
from commerce.orders.models import Order, PaymentStatus

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def low_risk(monkeypatch):
    def fake(*, entry, now=None):
        return RiskAssessment.objects.create(entry=entry, score=0, level="low", rules=[])

    monkeypatch.setattr(entries, "risk_assess", fake)


def _refund(order, amount: str) -> None:
    """Record that ``amount`` more was refunded, as ``order_refund_record`` leaves the order."""
    order.refresh_from_db()
    refunded = order.refunded_amount + Decimal(amount)
    status = PaymentStatus.REFUNDED if refunded == order.total else PaymentStatus.PARTIALLY_REFUNDED
    Order.objects.filter(pk=order.pk).update(refunded_amount=refunded, payment_status=status)


def _wallet(user) -> Wallet:
    return Wallet.objects.get(user=user)


def _credited(order) -> CashbackEntry:
    entry = entries.cashback_create_for_order(order_id=order.pk)
    entries.cashback_confirm(entry_id=entry.pk)
    return entries.cashback_assess(entry_id=entry.pk)


def test_a_partial_refund_of_a_pending_entry_lowers_what_will_be_credited(paid_order, shopper):
    order = paid_order()  # 998.00, cashback 49.90
    entries.cashback_create_for_order(order_id=order.pk)
    _refund(order, "499.00")

    entry = entries.cashback_order_refunded(order_id=order.pk)

    assert (entry.status, entry.amount, entry.reversed_amount, entry.net_amount) == (
        CashbackStatus.PENDING,
        Decimal("49.90"),
        Decimal("24.95"),
        Decimal("24.95"),
    )
    assert _wallet(shopper).pending == Decimal("24.95")
    event = entry.events.last()
    assert (event.amount, event.note) == (Decimal("24.95"), "Order refunded: 24.95 INR taken back")


def test_a_full_refund_of_a_pending_entry_rejects_it(paid_order, shopper, django_capture_on_commit_callbacks):
    order = paid_order()
    entries.cashback_create_for_order(order_id=order.pk)
    _refund(order, "998.00")

    with django_capture_on_commit_callbacks(execute=True):
        entry = entries.cashback_order_refunded(order_id=order.pk)

    assert (entry.status, entry.reason, entry.reversed_amount) == ("rejected", "Order refunded", Decimal("49.90"))
    assert entry.closed_at is not None
    assert _wallet(shopper).pending == Decimal("0.00")
    assert Notification.objects.get(template="cashback/rejected").subject == (
        f"Cashback on order {order.number} not approved"
    )


def test_refunds_in_steps_add_up_to_the_whole_amount(paid_order, shopper, make_variant):
    order = paid_order(lines=[(make_variant(sku="X", price="100.00"), 3)])  # 300.00, cashback 15.00
    entries.cashback_create_for_order(order_id=order.pk)

    for _ in range(3):
        _refund(order, "100.00")
        entry = entries.cashback_order_refunded(order_id=order.pk)

    assert [e.amount for e in entry.events.filter(to_status="")] == [Decimal("5.00")] * 3
    assert (entry.status, entry.reversed_amount) == ("rejected", Decimal("15.00"))
    assert _wallet(shopper).pending == Decimal("0.00")


def test_a_partial_refund_of_a_credited_entry_posts_a_reversal(paid_order, shopper, django_capture_on_commit_callbacks):
    order = paid_order()
    entry = _credited(order)
    _refund(order, "199.60")  # a fifth

    with django_capture_on_commit_callbacks(execute=True):
        entry = entries.cashback_order_refunded(order_id=order.pk)

    assert (entry.status, entry.reversed_amount, entry.reason) == ("credited", Decimal("9.98"), "Order refunded")
    wallet = _wallet(shopper)
    assert (wallet.available, wallet.lifetime_earned, wallet.pending) == (
        Decimal("39.92"),
        Decimal("39.92"),
        Decimal("0.00"),
    )
    reversal = WalletEntry.objects.get(kind=WalletEntryKind.CASHBACK_REVERSAL)
    assert (reversal.amount, reversal.balance_after, reversal.key, reversal.cashback_entry_id) == (
        Decimal("-9.98"),
        Decimal("39.92"),
        f"cashback-reversal:{entry.pk}:9.98",
        entry.pk,
    )
    message = Notification.objects.get(template="cashback/reversed")
    assert "₹9.98 of the cashback credited" in message.body
    assert "₹39.92 of it remains yours" in message.body


def test_a_full_refund_of_a_credited_entry_reverses_it(paid_order, shopper):
    order = paid_order()
    _credited(order)
    _refund(order, "500.00")
    entries.cashback_order_refunded(order_id=order.pk)
    _refund(order, "498.00")

    entry = entries.cashback_order_refunded(order_id=order.pk)

    assert (entry.status, entry.reversed_amount, entry.net_amount) == ("reversed", Decimal("49.90"), 0)
    assert entry.closed_at is not None
    rows = list(WalletEntry.objects.order_by("pk").values_list("kind", "amount", "balance_after"))
    assert rows == [
        ("cashback_credit", Decimal("49.90"), Decimal("49.90")),
        ("cashback_reversal", Decimal("-25.00"), Decimal("24.90")),  # 49.90 * 500 / 998 = 25.0000...
        ("cashback_reversal", Decimal("-24.90"), Decimal("0.00")),
    ]
    wallet = _wallet(shopper)
    assert (wallet.available, wallet.lifetime_earned) == (Decimal("0.00"), Decimal("0.00"))


def test_a_reversal_after_a_withdrawal_may_leave_the_balance_negative(paid_order, shopper):
    from django.db import transaction

    from cashback.services.wallet import wallet_lock, wallet_post

    order = paid_order()
    _credited(order)
    with transaction.atomic():
        wallet_post(
            wallet=wallet_lock(user_id=shopper.pk),
            kind=WalletEntryKind.WITHDRAWAL_HOLD,
            amount=Decimal("-40.00"),
            held_amount=Decimal("40.00"),
            key="withdrawal-hold:test",
        )
    _refund(order, "998.00")

    entries.cashback_order_refunded(order_id=order.pk)

    wallet = _wallet(shopper)
    assert (wallet.available, wallet.held) == (Decimal("-40.00"), Decimal("40.00"))


def test_a_refund_event_twice_changes_nothing(paid_order, shopper):
    order = paid_order()
    _credited(order)
    _refund(order, "499.00")

    entries.cashback_order_refunded(order_id=order.pk)
    entry = entries.cashback_order_refunded(order_id=order.pk)

    assert entry.reversed_amount == Decimal("24.95")
    assert WalletEntry.objects.filter(kind=WalletEntryKind.CASHBACK_REVERSAL).count() == 1
    assert _wallet(shopper).available == Decimal("24.95")


def test_a_refund_after_rejection_changes_nothing(paid_order, shopper):
    order = paid_order()
    entry = entries.cashback_create_for_order(order_id=order.pk)
    entries.cashback_reject(entry_id=entry.pk, actor=None, reason="Duplicate order")
    _refund(order, "998.00")

    entry = entries.cashback_order_refunded(order_id=order.pk)

    assert (entry.status, entry.reversed_amount) == ("rejected", Decimal("0.00"))
    assert _wallet(shopper).pending == Decimal("0.00")


def test_a_refund_of_an_order_without_cashback_is_ignored(paid_order):
    order = paid_order()
    _refund(order, "998.00")

    assert entries.cashback_order_refunded(order_id=order.pk) is None


def test_a_confirmed_entry_refunded_in_part_credits_the_rest(paid_order, shopper):
    order = paid_order()
    entry = entries.cashback_create_for_order(order_id=order.pk)
    entries.cashback_confirm(entry_id=entry.pk)
    _refund(order, "499.00")
    entries.cashback_order_refunded(order_id=order.pk)

    entry = entries.cashback_assess(entry_id=entry.pk)

    assert entry.status == CashbackStatus.CREDITED
    assert WalletEntry.objects.get().amount == Decimal("24.95")
    wallet = _wallet(shopper)
    assert (wallet.available, wallet.pending) == (Decimal("24.95"), Decimal("0.00"))
