"""Earning under real parallel transactions (PostgreSQL): the same order's earning task delivered several times at
once writes one pending entry and one first-order award; refund events racing each other, or racing the
confirmation, take back exactly what the refunds owe; one event's points racing are awarded once."""

from datetime import timedelta
from decimal import Decimal
from importlib import import_module

import pytest
from django.utils import timezone

from commerce.orders.models import Order, OrderStatus, PaymentStatus
from loyalty.models import PointsAccount, PointsEntry
from loyalty.services.earning import (
    points_award_event,
    points_confirm_due,
    points_earn_for_order,
    points_order_refunded,
)
from tests.concurrency import error_codes, run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _default_rules(db):
    """The default tiers and earning rules of migration 0003 (a transactional test flushes them afterwards)."""
    from django.apps import apps

    import_module("loyalty.migrations.0003_default_tiers_and_rules").create(apps, None)


def balances(user) -> tuple[int, int]:
    account = PointsAccount.objects.get(user=user)
    return account.available, account.pending


def test_earning_task_delivered_four_times_at_once_earns_once(paid_order, shopper):
    order = paid_order()

    results = run_together([lambda: points_earn_for_order(order_id=order.pk) for _ in range(4)])

    assert error_codes(results) == {"ok": 4}
    assert len({result["value"].pk for result in results}) == 1
    assert PointsEntry.objects.filter(order=order, kind="earn_pending").count() == 1
    assert PointsEntry.objects.filter(key=f"event:first_order:{shopper.pk}").count() == 1
    assert balances(shopper) == (100, 99)


def test_refund_events_racing_take_back_exactly_once(paid_order, shopper):
    order = paid_order()
    points_earn_for_order(order_id=order.pk)
    Order.objects.filter(pk=order.pk).update(
        refunded_amount=Decimal("499.00"), payment_status=PaymentStatus.PARTIALLY_REFUNDED
    )

    results = run_together([lambda: points_order_refunded(order_id=order.pk) for _ in range(4)])

    assert error_codes(results) == {"ok": 4}
    assert sorted(result["value"] is None for result in results) == [False, True, True, True]
    assert balances(shopper) == (100, 50)


def test_confirmation_racing_a_full_refund_leaves_nothing_of_the_order(paid_order, shopper):
    order = paid_order()
    points_earn_for_order(order_id=order.pk)
    Order.objects.filter(pk=order.pk).update(
        status=OrderStatus.DELIVERED,
        delivered_at=timezone.now() - timedelta(days=60),
        refunded_amount=order.total,
        payment_status=PaymentStatus.REFUNDED,
    )

    results = run_together([lambda: points_confirm_due(), lambda: points_order_refunded(order_id=order.pk)])

    assert error_codes(results) == {"ok": 2}
    # whichever commits first, the order's 99 points are gone and the first-order points stay
    assert balances(shopper) == (100, 0)
    assert points_order_refunded(order_id=order.pk) is None


def test_one_event_racing_is_awarded_once(shopper):
    results = run_together([lambda: points_award_event(user_id=shopper.pk, event="phone_verified") for _ in range(4)])

    assert error_codes(results) == {"ok": 4}
    assert PointsEntry.objects.filter(key=f"event:phone_verified:{shopper.pk}").count() == 1
    assert balances(shopper) == (50, 0)
