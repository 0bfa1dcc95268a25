"""The life of an order's cashback: paid -> pending (wallet pending up) -> delivered (expected_on) -> return window
passed -> confirmed -> risk assessed -> credited (one ledger row) or staff review -> approved or rejected; and
the sweep that repairs what lost tasks missed."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from accounts.models import AuditEntry
from cashback.models import (
    CashbackEntry,
    CashbackEntryEvent,
    CashbackSource,
    CashbackStatus,
    RiskAssessment,
    Wallet,
    WalletEntry,
    WalletEntryKind,
)
from cashback.services import entries
from commerce.core.errors import Conflict, InvalidInput, NotFoundError
from commerce.notifications.models import Notification
from commerce.orders.models import Order, OrderStatus, PaymentStatus
from tests.catalog.factories import MerchantFactory, ProductFactory, ProductVariantFactory
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

PAID_AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DELIVERED_AT = datetime(2026, 3, 5, 14, 0, tzinfo=UTC)


@pytest.fixture
def risk(monkeypatch):
    """The risk area's scorer, faked: set ``risk["level"]``/``risk["score"]`` before assessing."""
    outcome = {"score": 10, "level": "low"}

    def fake(*, entry, now=None):
        return RiskAssessment.objects.create(entry=entry, score=outcome["score"], level=outcome["level"], rules=[])

    monkeypatch.setattr(entries, "risk_assess", fake)
    return outcome


@pytest.fixture
def finance():
    return StaffFactory(email="finance@example.com")


def _wallet(user) -> Wallet:
    return Wallet.objects.get(user=user)


def _deliver(order, when=DELIVERED_AT) -> Order:
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.DELIVERED, delivered_at=when)
    return Order.objects.get(pk=order.pk)


def _confirmed_entry(paid_order):
    order = paid_order()
    entry = entries.cashback_create_for_order(order_id=order.pk)
    return entries.cashback_confirm(entry_id=entry.pk)


# --- creation --------------------------------------------------------------------------------------------------


def test_a_paid_order_earns_pending_cashback(paid_order, shopper):
    order = paid_order()  # 2 x 499.00 at 5 %

    entry = entries.cashback_create_for_order(order_id=order.pk)

    assert entry.status == CashbackStatus.PENDING
    assert entry.source == CashbackSource.ORDER
    assert (entry.user_id, entry.merchant_id, entry.order_id) == (shopper.pk, order.merchant_id, order.pk)
    assert (entry.base_amount, entry.rate, entry.amount) == (Decimal("998.00"), Decimal("5.00"), Decimal("49.90"))
    assert entry.expected_on is None
    wallet = _wallet(shopper)
    assert (wallet.pending, wallet.available, wallet.lifetime_earned) == (Decimal("49.90"), 0, 0)
    assert list(entry.events.values_list("from_status", "to_status", "amount")) == [("", "pending", Decimal("49.90"))]
    assert WalletEntry.objects.count() == 0


def test_creating_twice_makes_one_entry(paid_order, shopper):
    order = paid_order()

    first = entries.cashback_create_for_order(order_id=order.pk)
    second = entries.cashback_create_for_order(order_id=order.pk)

    assert second.pk == first.pk
    assert CashbackEntry.objects.count() == 1
    assert _wallet(shopper).pending == Decimal("49.90")


def test_an_unpaid_order_earns_nothing(paid_order):
    order = paid_order(status=OrderStatus.PENDING_PAYMENT)

    assert entries.cashback_create_for_order(order_id=order.pk) is None
    assert CashbackEntry.objects.count() == 0


def test_a_missing_order_earns_nothing():
    assert entries.cashback_create_for_order(order_id=999_999) is None


def test_a_zero_rate_earns_no_entry(paid_order):
    merchant = MerchantFactory(default_cashback_rate=Decimal("0.00"))
    variant = ProductVariantFactory(product=ProductFactory(merchant=merchant), price=Decimal("100.00"))
    order = paid_order(lines=[(variant, 1)])

    assert entries.cashback_create_for_order(order_id=order.pk) is None
    assert CashbackEntry.objects.count() == 0
    assert not Wallet.objects.filter(pending__gt=0).exists()


def test_an_order_created_late_after_a_partial_refund_is_reduced_at_once(paid_order, shopper):
    order = paid_order()
    Order.objects.filter(pk=order.pk).update(
        refunded_amount=Decimal("499.00"), payment_status=PaymentStatus.PARTIALLY_REFUNDED
    )

    entry = entries.cashback_create_for_order(order_id=order.pk)

    assert (entry.amount, entry.reversed_amount, entry.status) == (Decimal("49.90"), Decimal("24.95"), "pending")
    assert _wallet(shopper).pending == Decimal("24.95")


# --- delivery and the return window ----------------------------------------------------------------------------


def test_delivery_sets_expected_on_to_the_delivery_day_plus_the_window(paid_order, settings):
    settings.CASHBACK_RETURN_WINDOW_DAYS = 30
    order = paid_order()
    entries.cashback_create_for_order(order_id=order.pk)
    _deliver(order)

    entry = entries.cashback_order_delivered(order_id=order.pk)

    assert entry.expected_on == date(2026, 4, 4)
    assert entry.status == CashbackStatus.PENDING
    assert entry.events.last().note == f"Order {order.number} delivered; expected on 2026-04-04"


def test_delivery_twice_changes_nothing(paid_order):
    order = paid_order()
    entries.cashback_create_for_order(order_id=order.pk)
    _deliver(order)
    entries.cashback_order_delivered(order_id=order.pk)
    Order.objects.filter(pk=order.pk).update(delivered_at=datetime(2026, 5, 1, tzinfo=UTC))

    entry = entries.cashback_order_delivered(order_id=order.pk)

    assert entry.expected_on == date(2026, 4, 4)
    assert entry.events.count() == 2


def test_delivery_creates_the_entry_when_its_paid_task_was_lost(paid_order, shopper):
    order = _deliver(paid_order())

    entry = entries.cashback_order_delivered(order_id=order.pk)

    assert entry.expected_on == date(2026, 4, 4)
    assert _wallet(shopper).pending == Decimal("49.90")


def test_delivery_of_an_order_not_delivered_sets_nothing(paid_order):
    order = paid_order()

    entry = entries.cashback_order_delivered(order_id=order.pk)

    assert entry.expected_on is None


def test_entries_are_confirmed_once_the_window_has_passed(paid_order, shopper):
    order = paid_order()
    entries.cashback_create_for_order(order_id=order.pk)
    _deliver(order)
    entries.cashback_order_delivered(order_id=order.pk)

    with time_machine.travel(datetime(2026, 4, 3, 23, 0, tzinfo=timezone.get_current_timezone()), tick=False):
        assert entries.cashbacks_confirm_due() == 0
    with time_machine.travel(datetime(2026, 4, 4, 0, 30, tzinfo=timezone.get_current_timezone()), tick=False):
        assert entries.cashbacks_confirm_due() == 1
        assert entries.cashbacks_confirm_due() == 0

    entry = CashbackEntry.objects.get(order=order)
    assert entry.status == CashbackStatus.CONFIRMED
    assert entry.confirmed_at == datetime(2026, 4, 4, 0, 30, tzinfo=timezone.get_current_timezone())
    assert _wallet(shopper).pending == Decimal("49.90")


def test_confirm_due_works_in_batches_and_skips_undated_and_emptied_entries(paid_order, make_variant):
    dated = []
    for n in range(5):
        order = _deliver(paid_order(lines=[(make_variant(sku=f"SKU-{n}", price="100.00"), 1)]))
        dated.append(entries.cashback_order_delivered(order_id=order.pk))
    undated = entries.cashback_create_for_order(order_id=paid_order().pk)
    emptied_order = dated[-1].order
    Order.objects.filter(pk=emptied_order.pk).update(
        refunded_amount=emptied_order.total, payment_status=PaymentStatus.REFUNDED
    )
    entries.cashback_order_refunded(order_id=emptied_order.pk)

    assert entries.cashbacks_confirm_due(now=datetime(2026, 6, 1, tzinfo=UTC), batch_size=2) == 4

    statuses = dict(CashbackEntry.objects.values_list("pk", "status"))
    assert [statuses[e.pk] for e in dated] == ["confirmed"] * 4 + ["rejected"]
    assert statuses[undated.pk] == "pending"


def test_confirm_due_refuses_a_bad_batch_size():
    with pytest.raises(ValueError):
        entries.cashbacks_confirm_due(batch_size=0)


# --- risk assessment and crediting -----------------------------------------------------------------------------


def test_low_risk_is_credited_with_one_ledger_row(paid_order, shopper, risk, django_capture_on_commit_callbacks):
    entry = _confirmed_entry(paid_order)

    with django_capture_on_commit_callbacks(execute=True):
        entry = entries.cashback_assess(entry_id=entry.pk)

    assert entry.status == CashbackStatus.CREDITED
    assert (entry.risk_score, entry.risk_level) == (10, "low")
    assert entry.credited_at is not None
    wallet = _wallet(shopper)
    assert (wallet.available, wallet.pending, wallet.lifetime_earned) == (
        Decimal("49.90"),
        Decimal("0.00"),
        Decimal("49.90"),
    )
    rows = list(WalletEntry.objects.values_list("kind", "amount", "balance_after", "key", "cashback_entry_id"))
    assert rows == [
        (WalletEntryKind.CASHBACK_CREDIT, Decimal("49.90"), Decimal("49.90"), f"cashback-credit:{entry.pk}", entry.pk)
    ]
    message = Notification.objects.get(template="cashback/credited")
    assert message.recipient == "shopper@example.com"
    assert message.subject == "₹49.90 cashback credited to your wallet"
    assert f"on order {entry.order.number}" in message.body
    assert "balance is now ₹49.90" in message.body


def test_assessing_twice_credits_once(paid_order, shopper, risk):
    entry = _confirmed_entry(paid_order)

    entries.cashback_assess(entry_id=entry.pk)
    entries.cashback_assess(entry_id=entry.pk)

    assert WalletEntry.objects.count() == 1
    assert RiskAssessment.objects.count() == 1
    assert _wallet(shopper).available == Decimal("49.90")


def test_a_pending_entry_is_not_assessed(paid_order, risk):
    entry = entries.cashback_create_for_order(order_id=paid_order().pk)

    assert entries.cashback_assess(entry_id=entry.pk).status == CashbackStatus.PENDING
    assert RiskAssessment.objects.count() == 0


def test_high_risk_stays_confirmed_for_review(paid_order, shopper, risk):
    risk.update(score=80, level="high")
    entry = _confirmed_entry(paid_order)

    entry = entries.cashback_assess(entry_id=entry.pk)

    assert entry.status == CashbackStatus.CONFIRMED
    assert (entry.risk_score, entry.risk_level) == (80, "high")
    assert WalletEntry.objects.count() == 0
    assert _wallet(shopper).pending == Decimal("49.90")
    assert entry.events.last().note == "Risk assessed: 80/100 (high)"


def test_process_confirmed_assesses_each_unscored_entry_once(paid_order, make_variant, risk):
    first = _confirmed_entry(paid_order)
    second = entries.cashback_create_for_order(
        order_id=paid_order(lines=[(make_variant(sku="B", price="100.00"), 1)]).pk
    )
    entries.cashback_confirm(entry_id=second.pk)
    pending = entries.cashback_create_for_order(
        order_id=paid_order(lines=[(make_variant(sku="C", price="100.00"), 1)]).pk
    )

    assert entries.cashbacks_process_confirmed() == 2
    assert entries.cashbacks_process_confirmed() == 0

    statuses = dict(CashbackEntry.objects.values_list("pk", "status"))
    assert statuses == {first.pk: "credited", second.pk: "credited", pending.pk: "pending"}


def test_staff_approve_a_reviewed_entry(paid_order, shopper, risk, finance):
    risk.update(score=80, level="high")
    entry = entries.cashback_assess(entry_id=_confirmed_entry(paid_order).pk)

    entry = entries.cashback_approve(entry_id=entry.pk, actor=finance, note="Known customer")

    assert entry.status == CashbackStatus.CREDITED
    assert _wallet(shopper).available == Decimal("49.90")
    event = entry.events.last()
    assert (event.from_status, event.to_status, event.actor_id, event.note) == (
        "confirmed",
        "credited",
        finance.pk,
        "Known customer",
    )
    audit = AuditEntry.objects.get(action="cashback.approved")
    assert (audit.actor_id, audit.target_id) == (finance.pk, str(entry.pk))
    assert audit.after == {"status": "credited", "amount": "49.90", "note": "Known customer"}


def test_approving_a_credited_entry_is_a_conflict(paid_order, risk, finance):
    entry = entries.cashback_assess(entry_id=_confirmed_entry(paid_order).pk)

    with pytest.raises(Conflict) as caught:
        entries.cashback_approve(entry_id=entry.pk, actor=finance)

    assert caught.value.code == "invalid_transition"
    assert WalletEntry.objects.count() == 1


def test_staff_reject_a_reviewed_entry(paid_order, shopper, risk, finance, django_capture_on_commit_callbacks):
    risk.update(score=80, level="high")
    entry = entries.cashback_assess(entry_id=_confirmed_entry(paid_order).pk)

    with django_capture_on_commit_callbacks(execute=True):
        entry = entries.cashback_reject(entry_id=entry.pk, actor=finance, reason="Accounts share a device")

    assert entry.status == CashbackStatus.REJECTED
    assert entry.reason == "Accounts share a device"
    assert entry.closed_at is not None
    assert _wallet(shopper).pending == Decimal("0.00")
    assert WalletEntry.objects.count() == 0
    audit = AuditEntry.objects.get(action="cashback.rejected")
    assert audit.after == {"status": "rejected", "amount": "49.90", "reason": "Accounts share a device"}
    message = Notification.objects.get(template="cashback/rejected")
    assert "Reason: Accounts share a device" in message.body


def test_rejecting_needs_a_reason(paid_order):
    entry = entries.cashback_create_for_order(order_id=paid_order().pk)

    with pytest.raises(InvalidInput) as caught:
        entries.cashback_reject(entry_id=entry.pk, actor=None, reason="  ")

    assert caught.value.fields == {"reason": ["A reason is required."]}


def test_a_rejection_without_staff_is_not_audited(paid_order, shopper):
    entry = entries.cashback_create_for_order(order_id=paid_order().pk)

    entries.cashback_reject(entry_id=entry.pk, actor=None, reason="Duplicate order")

    assert not AuditEntry.objects.filter(action="cashback.rejected").exists()
    assert _wallet(shopper).pending == Decimal("0.00")


def test_rejecting_a_credited_entry_is_a_conflict(paid_order, risk, finance):
    entry = entries.cashback_assess(entry_id=_confirmed_entry(paid_order).pk)

    with pytest.raises(Conflict):
        entries.cashback_reject(entry_id=entry.pk, actor=finance, reason="Too late")


def test_confirming_a_rejected_entry_is_a_conflict(paid_order):
    entry = entries.cashback_create_for_order(order_id=paid_order().pk)
    entries.cashback_reject(entry_id=entry.pk, actor=None, reason="Duplicate order")

    with pytest.raises(Conflict):
        entries.cashback_confirm(entry_id=entry.pk)


def test_an_unknown_entry_is_not_found(finance):
    with pytest.raises(NotFoundError):
        entries.cashback_approve(entry_id=999_999, actor=finance)


def test_the_full_lifecycle_by_the_periodic_tasks(paid_order, shopper, risk):
    from cashback.tasks.entries import confirm_due_cashback, process_confirmed_cashback

    with time_machine.travel(PAID_AT, tick=False):
        order = paid_order()
        entries.cashback_create_for_order(order_id=order.pk)
    with time_machine.travel(DELIVERED_AT, tick=False):
        _deliver(order)
        entries.cashback_order_delivered(order_id=order.pk)
    with time_machine.travel(datetime(2026, 4, 4, 6, 0, tzinfo=UTC), tick=False):
        assert confirm_due_cashback() == {"repaired": 0, "confirmed": 1}
        assert process_confirmed_cashback() == {"assessed": 1}

    entry = CashbackEntry.objects.get(order=order)
    assert entry.status == CashbackStatus.CREDITED
    assert list(entry.events.values_list("from_status", "to_status")) == [
        ("", "pending"),
        ("", ""),
        ("pending", "confirmed"),
        ("", ""),
        ("confirmed", "credited"),
    ]
    assert _wallet(shopper).available == Decimal("49.90")


# --- the sweep for lost tasks ------------------------------------------------------------------------------------


def test_backfill_creates_missing_entries_of_recent_paid_orders(paid_order, shopper):
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    recent = paid_order(placed_at=datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    old = paid_order(placed_at=datetime(2026, 2, 1, 9, 0, tzinfo=UTC))
    unpaid = paid_order(status=OrderStatus.PENDING_PAYMENT, placed_at=datetime(2026, 3, 1, 9, 0, tzinfo=UTC))

    assert entries.cashbacks_backfill(now=now) == 1
    assert entries.cashbacks_backfill(now=now) == 0

    assert list(CashbackEntry.objects.values_list("order_id", flat=True)) == [recent.pk]
    assert not CashbackEntry.objects.filter(order__in=[old, unpaid]).exists()


def test_backfill_dates_delivered_orders_whose_delivery_task_was_lost(paid_order):
    order = paid_order(placed_at=datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    entries.cashback_create_for_order(order_id=order.pk)
    _deliver(order)

    assert entries.cashbacks_backfill(now=datetime(2026, 4, 20, tzinfo=UTC)) == 1

    assert CashbackEntry.objects.get(order=order).expected_on == date(2026, 4, 4)


def test_events_are_append_only(paid_order):
    entry = entries.cashback_create_for_order(order_id=paid_order().pk)

    with pytest.raises(Exception, match="cannot be"):
        CashbackEntryEvent.objects.filter(entry=entry).update(note="edited")


def test_other_users_entries_are_untouched(paid_order):
    other = UserFactory()
    mine = entries.cashback_create_for_order(order_id=paid_order().pk)
    theirs = entries.cashback_create_for_order(order_id=paid_order(user=other).pk)

    entries.cashback_reject(entry_id=mine.pk, actor=None, reason="Duplicate order")

    assert _wallet(other).pending == Decimal("49.90")
    assert CashbackEntry.objects.get(pk=theirs.pk).status == CashbackStatus.PENDING


# --- with the real risk rules --------------------------------------------------------------------------------------


def test_real_risk_rules_credit_a_low_score(paid_order, shopper):
    entry = _confirmed_entry(paid_order)  # a brand-new account: "new_account" (20) alone

    entry = entries.cashback_assess(entry_id=entry.pk)

    assert (entry.status, entry.risk_score, entry.risk_level) == ("credited", 20, "low")
    assert [rule["code"] for rule in RiskAssessment.objects.get(entry=entry).rules] == ["new_account"]


def test_real_risk_rules_send_a_high_score_to_review(paid_order, shopper, merchant):
    from cashback.models import MerchantCashback

    MerchantCashback.objects.create(merchant=merchant, flagged_risky=True)
    entry = _confirmed_entry(paid_order)  # new account (20) + risky merchant (30) = 50, the threshold

    entry = entries.cashback_assess(entry_id=entry.pk)

    assert (entry.status, entry.risk_score, entry.risk_level) == ("confirmed", 50, "high")
    assert WalletEntry.objects.count() == 0


def test_a_shopper_with_only_a_phone_gets_an_sms(paid_order, risk, django_capture_on_commit_callbacks):
    phone_only = UserFactory(email="", phone="+919800000001", full_name="Ravi")
    order = paid_order(user=phone_only)
    entry = entries.cashback_create_for_order(order_id=order.pk)
    entries.cashback_confirm(entry_id=entry.pk)

    with django_capture_on_commit_callbacks(execute=True):
        entries.cashback_assess(entry_id=entry.pk)

    message = Notification.objects.get(template="cashback/credited")
    assert (message.channel, message.recipient) == ("sms", "+919800000001")
    assert message.body == (
        f"Commerce: ₹49.90 cashback on order {order.number} credited to your wallet. Balance: ₹49.90."
    )
    assert not Notification.objects.filter(channel="email").exists()
