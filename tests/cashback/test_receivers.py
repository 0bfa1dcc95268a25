"""The orders' domain events queue the cashback tasks after commit, and through the real order services (Celery
eager, as in the embedded default) a paid, delivered and refunded order moves its cashback."""

from datetime import UTC, date, datetime
from decimal import Decimal
from unittest import mock

import pytest
import time_machine

from cashback import receivers
from cashback.models import CashbackEntry, CashbackStatus, Wallet
from cashback.tasks import entries as tasks
from commerce.orders import events
from commerce.orders.models import Order, OrderStatus
from commerce.orders.services.transitions import order_deliver, order_fulfil, order_mark_paid, order_record_refund

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("signal", "task_name", "extra"),
    [
        (events.order_paid, "create_order_cashback", {}),
        (events.order_delivered, "mark_order_delivered", {}),
        (
            events.order_refunded,
            "apply_order_refund",
            {"amount": Decimal("1.00"), "currency": "INR", "refunded_total": Decimal("1.00"), "fully_refunded": False},
        ),
    ],
)
def test_each_event_queues_its_task_after_commit(signal, task_name, extra, django_capture_on_commit_callbacks):
    with mock.patch.object(getattr(tasks, task_name), "delay") as delay:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            signal.send_robust(sender=Order, order_id=42, number="ORD-42", **extra)
            assert delay.call_count == 0
        for callback in callbacks:
            callback()

    delay.assert_called_once_with(42)


def test_a_broker_that_is_down_does_not_break_the_sender(django_capture_on_commit_callbacks):
    broken = mock.patch.object(tasks.create_order_cashback, "delay", side_effect=ConnectionError("broker down"))
    with broken, django_capture_on_commit_callbacks(execute=True):
        responses = events.order_paid.send_robust(sender=Order, order_id=42, number="ORD-42")

    assert [error for _, error in responses if isinstance(error, Exception)] == []


def test_the_receivers_are_connected_once():
    receivers.connect()
    receivers.connect()

    assert [r for r in events.order_paid._live_receivers(Order)[0] if r is receivers.on_order_paid] == [
        receivers.on_order_paid
    ]


def test_an_order_through_the_real_services(paid_order, shopper, django_capture_on_commit_callbacks, eager_celery):
    order = paid_order(status=OrderStatus.PENDING_PAYMENT)

    with time_machine.travel(datetime(2026, 3, 1, 9, 0, tzinfo=UTC), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            order_mark_paid(order_id=order.pk)
        assert Wallet.objects.get(user=shopper).pending == Decimal("49.90")
        with django_capture_on_commit_callbacks(execute=True):
            order_fulfil(order_id=order.pk, carrier="Delhivery", tracking_number="DL123")
    with time_machine.travel(datetime(2026, 3, 5, 14, 0, tzinfo=UTC), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            order_deliver(order_id=order.pk)
        with django_capture_on_commit_callbacks(execute=True):
            order_record_refund(order_id=order.pk, amount=Decimal("499.00"), reference="rf_1")

    entry = CashbackEntry.objects.get(order=order)
    assert (entry.status, entry.expected_on, entry.reversed_amount) == (
        CashbackStatus.PENDING,
        date(2026, 4, 4),
        Decimal("24.95"),
    )
    assert Wallet.objects.get(user=shopper).pending == Decimal("24.95")
