"""Order points: pending when paid (plus the first-order points), confirmed after the return window, taken back by
refunds and cancellations in proportion; event points once per member; duplicate calls change nothing."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import import_module

import pytest
import time_machine
from django.db import transaction

from commerce.core.errors import InvalidInput
from commerce.orders.models import Order, OrderStatus, PaymentStatus
from loyalty.models import EarningRule, PointsAccount, PointsEntry, PointsEntryKind, Tier
from loyalty.services.earning import (
    points_award_event,
    points_backfill,
    points_confirm_due,
    points_earn_for_order,
    points_order_refunded,
)
from loyalty.services.ledger import points_account_lock, points_post
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _default_rules(db):
    """The default tiers and earning rules of migration 0003 (a transactional test run before may have flushed
    them)."""
    from django.apps import apps

    import_module("loyalty.migrations.0003_default_tiers_and_rules").create(apps, None)


NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def account_of(user) -> PointsAccount:
    return PointsAccount.objects.get(user=user)


def balances(user) -> tuple[int, int, int]:
    account = account_of(user)
    return account.available, account.pending, account.lifetime


def kinds(order) -> list[tuple[str, int, int]]:
    return list(
        PointsEntry.objects.filter(order=order)
        .exclude(kind="earn")  # the first-order points name the order too
        .order_by("id")
        .values_list("kind", "points", "pending_points")
    )


def deliver(order, *, at):
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.DELIVERED, delivered_at=at)


def refund(order, amount: str):
    order.refresh_from_db()
    refunded = Decimal(amount)
    status = PaymentStatus.REFUNDED if refunded >= order.total else PaymentStatus.PARTIALLY_REFUNDED
    Order.objects.filter(pk=order.pk).update(refunded_amount=refunded, payment_status=status)


def spend(user, points: int):
    with transaction.atomic():
        account = points_account_lock(user_id=user.pk)
        points_post(account=account, kind=PointsEntryKind.REDEEM, points=-points, key=f"test-spend:{points}")


# --- earning --------------------------------------------------------------------------------------------------


def test_paid_order_earns_pending_points_and_the_first_order_points(paid_order, shopper):
    order = paid_order()

    entry = points_earn_for_order(order_id=order.pk)

    assert entry is not None
    assert (entry.kind, entry.points, entry.pending_points, entry.qualifying) == ("earn_pending", 0, 99, True)
    assert (entry.key, entry.order_id, entry.rule_code) == (f"order-earn:{order.pk}", order.pk, "spend")
    assert entry.reason == f"Order {order.number}: 1 pt per 10.00: 99.8 pts = 99"
    first = PointsEntry.objects.get(key=f"event:first_order:{shopper.pk}")
    assert (first.kind, first.points, first.rule_code, first.qualifying) == ("earn", 100, "first-order", True)
    assert balances(shopper) == (100, 99, 100)


def test_earning_twice_changes_nothing(paid_order, shopper):
    order = paid_order()
    first = points_earn_for_order(order_id=order.pk)

    again = points_earn_for_order(order_id=order.pk)

    assert again == first
    assert PointsEntry.objects.count() == 2
    assert balances(shopper) == (100, 99, 100)


@pytest.mark.parametrize(
    ("status", "payment_status"),
    [
        (OrderStatus.PENDING_PAYMENT, PaymentStatus.UNPAID),
        (OrderStatus.CANCELLED, PaymentStatus.REFUNDED),
        (OrderStatus.EXPIRED, PaymentStatus.UNPAID),
    ],
)
def test_unpaid_or_cancelled_orders_earn_nothing(paid_order, status, payment_status):
    order = paid_order(status=status)
    Order.objects.filter(pk=order.pk).update(payment_status=payment_status)

    assert points_earn_for_order(order_id=order.pk) is None
    assert PointsEntry.objects.count() == 0


def test_missing_order_earns_nothing():
    assert points_earn_for_order(order_id=987654) is None


def test_only_the_first_paid_order_earns_the_first_order_points(paid_order, shopper):
    older = paid_order(placed_at=NOW - timedelta(days=10))
    newer = paid_order()

    points_earn_for_order(order_id=newer.pk)  # an earlier paid order exists (before loyalty, say)
    points_earn_for_order(order_id=older.pk)  # the member's first paid order

    assert not PointsEntry.objects.filter(key=f"event:first_order:{shopper.pk}", order=newer).exists()
    assert PointsEntry.objects.filter(key=f"event:first_order:{shopper.pk}", order=older).count() == 1


def test_foreign_currency_order_earns_nothing(paid_order, shopper):
    order = paid_order()
    Order.objects.filter(pk=order.pk).update(currency="USD")

    assert points_earn_for_order(order_id=order.pk) is None
    assert PointsEntry.objects.filter(account__user=shopper).count() == 0


def test_the_members_tier_multiplies(paid_order, shopper):
    with transaction.atomic():
        points_account_lock(user_id=shopper.pk)
    PointsAccount.objects.filter(user=shopper).update(tier=Tier.objects.get(code="gold"))

    entry = points_earn_for_order(order_id=paid_order().pk)

    assert entry.pending_points == 149  # floor(99.8 * 1.5)
    assert entry.reason.endswith("99.8 pts x1.5 Gold = 149")


def test_campaign_applies_as_of_payment_not_when_the_task_runs(paid_order):
    from loyalty.models import Campaign

    Campaign.objects.create(
        name="Flash", multiplier=Decimal("2"), starts_at=NOW - timedelta(hours=1), ends_at=NOW + timedelta(hours=1)
    )
    order = paid_order()  # paid at NOW, inside the campaign

    with time_machine.travel(NOW + timedelta(hours=5), tick=False):
        entry = points_earn_for_order(order_id=order.pk)

    assert entry.pending_points == 199


def test_a_partly_refunded_order_is_created_already_reduced(paid_order, shopper):
    order = paid_order()
    refund(order, "499.00")

    points_earn_for_order(order_id=order.pk)

    assert kinds(order) == [("earn_pending", 0, 99), ("pending_reversal", 0, -49)]
    assert balances(shopper) == (100, 50, 100)


# --- confirmation ---------------------------------------------------------------------------------------------


def test_points_become_available_after_the_return_window(paid_order, shopper, settings):
    settings.CASHBACK_RETURN_WINDOW_DAYS = 30
    order = paid_order()
    points_earn_for_order(order_id=order.pk)
    deliver(order, at=NOW - timedelta(days=30) + timedelta(seconds=1))

    assert points_confirm_due(now=NOW) == 0
    assert balances(shopper) == (100, 99, 100)

    assert points_confirm_due(now=NOW + timedelta(seconds=1)) == 1
    confirm = PointsEntry.objects.get(key=f"order-confirm:{order.pk}")
    assert (confirm.kind, confirm.points, confirm.pending_points, confirm.qualifying) == ("confirm", 99, -99, False)
    assert balances(shopper) == (199, 0, 199)
    assert points_confirm_due(now=NOW + timedelta(days=1)) == 0
    assert balances(shopper) == (199, 0, 199)


def test_undelivered_orders_are_not_confirmed(paid_order, shopper):
    order = paid_order()
    points_earn_for_order(order_id=order.pk)

    assert points_confirm_due(now=NOW + timedelta(days=365)) == 0
    assert balances(shopper) == (100, 99, 100)


def test_confirm_due_works_in_batches(paid_order, shopper):
    orders = [paid_order() for _ in range(3)]
    for order in orders:
        points_earn_for_order(order_id=order.pk)
        deliver(order, at=NOW - timedelta(days=40))

    assert points_confirm_due(now=NOW, batch_size=2) == 3
    assert balances(shopper) == (100 + 3 * 99, 0, 100 + 3 * 99)


def test_confirm_due_refuses_a_bad_batch_size():
    with pytest.raises(ValueError):
        points_confirm_due(batch_size=0)


def test_backfill_creates_lost_entries_of_recent_orders_only(paid_order, shopper):
    recent = paid_order(placed_at=NOW - timedelta(days=2))
    old = paid_order(placed_at=NOW - timedelta(days=4))

    assert points_backfill(now=NOW) == 1
    assert PointsEntry.objects.filter(order=recent, kind="earn_pending").count() == 1
    assert not PointsEntry.objects.filter(order=old, kind="earn_pending").exists()
    assert points_backfill(now=NOW) == 0


# --- refunds --------------------------------------------------------------------------------------------------


def test_partial_then_full_refund_while_pending(paid_order, shopper):
    order = paid_order()  # total 998.00, 99 points
    points_earn_for_order(order_id=order.pk)

    refund(order, "499.00")
    entry = points_order_refunded(order_id=order.pk)
    assert (entry.kind, entry.pending_points, entry.qualifying) == ("pending_reversal", -49, True)
    assert entry.reason == f"Order {order.number} refunded: 49 pending points taken back"
    assert points_order_refunded(order_id=order.pk) is None  # the same event again
    assert balances(shopper) == (100, 50, 100)

    refund(order, "998.00")
    points_order_refunded(order_id=order.pk)
    assert kinds(order) == [("earn_pending", 0, 99), ("pending_reversal", 0, -49), ("pending_reversal", 0, -50)]
    assert balances(shopper) == (100, 0, 100)
    assert points_order_refunded(order_id=order.pk) is None


def test_refund_after_confirmation_takes_from_available(paid_order, shopper):
    order = paid_order()
    points_earn_for_order(order_id=order.pk)
    deliver(order, at=NOW - timedelta(days=60))
    points_confirm_due(now=NOW)

    refund(order, "250.00")
    entry = points_order_refunded(order_id=order.pk)

    assert (entry.kind, entry.points, entry.pending_points) == ("reversal", -24, 0)  # floor(99 * 250 / 998)
    assert balances(shopper) == (175, 0, 175)
    refund(order, "998.00")
    points_order_refunded(order_id=order.pk)
    assert balances(shopper) == (100, 0, 100)
    assert points_order_refunded(order_id=order.pk) is None


def test_refund_of_points_already_spent_takes_what_is_there(paid_order, shopper):
    order = paid_order()
    points_earn_for_order(order_id=order.pk)
    deliver(order, at=NOW - timedelta(days=60))
    points_confirm_due(now=NOW)
    spend(shopper, 150)  # 199 available -> 49

    refund(order, "998.00")
    entry = points_order_refunded(order_id=order.pk)

    assert (entry.kind, entry.points) == ("reversal", -49)
    assert entry.reason == f"Order {order.number} refunded: 49 points taken back; 50 already spent, not taken"
    assert account_of(shopper).available == 0
    assert points_order_refunded(order_id=order.pk) is None  # nothing left to take: no entry, no error


def test_cancelled_paid_order_gives_back_everything(paid_order, shopper):
    order = paid_order()
    points_earn_for_order(order_id=order.pk)
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.CANCELLED)

    entry = points_order_refunded(order_id=order.pk)

    assert entry.pending_points == -99
    assert balances(shopper) == (100, 0, 100)


def test_refund_of_an_order_without_points_does_nothing(paid_order):
    order = paid_order()
    refund(order, "998.00")

    assert points_order_refunded(order_id=order.pk) is None
    assert PointsEntry.objects.count() == 0


# --- event points ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("event", "points"), [("phone_verified", 50), ("profile_completed", 50), ("first_order", 100)])
def test_event_points_are_awarded_once(event, points):
    user = UserFactory()

    entry = points_award_event(user_id=user.pk, event=event)
    again = points_award_event(user_id=user.pk, event=event)

    assert again == entry
    assert (entry.kind, entry.points, entry.qualifying, entry.key) == ("earn", points, True, f"event:{event}:{user.pk}")
    assert balances(user) == (points, 0, points)
    assert PointsEntry.objects.filter(account__user=user).count() == 1


def test_event_without_an_active_rule_awards_nothing():
    user = UserFactory()
    EarningRule.objects.filter(event="phone_verified").update(is_active=False)

    assert points_award_event(user_id=user.pk, event="phone_verified") is None
    assert not PointsEntry.objects.exists()


def test_unknown_event_is_invalid_input():
    with pytest.raises(InvalidInput):
        points_award_event(user_id=UserFactory().pk, event="birthday")


def test_the_periodic_task_repairs_confirms_and_rewards_referrals(paid_order, shopper, settings):
    from loyalty.tasks.earning import confirm_due_points

    settings.CASHBACK_RETURN_WINDOW_DAYS = 30
    delivered = paid_order(placed_at=NOW - timedelta(days=50))
    points_earn_for_order(order_id=delivered.pk)
    deliver(delivered, at=NOW - timedelta(days=31))
    lost = paid_order(placed_at=NOW - timedelta(days=1))  # its earning task never ran

    assert confirm_due_points() == {"repaired": 1, "confirmed": 1, "referrals": 0}
    assert PointsEntry.objects.filter(order=lost, kind="earn_pending").count() == 1
    assert balances(shopper) == (100 + 99, 99, 199)
    assert confirm_due_points() == {"repaired": 0, "confirmed": 0, "referrals": 0}
