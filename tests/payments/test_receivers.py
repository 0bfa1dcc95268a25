"""Payments reacting to the orders' domain events: a paid order cancelled is refunded in full through
``payments.tasks.refund_cancelled_order``; the receiver itself only enqueues that task, after commit."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from commerce.orders import events
from commerce.orders.models import OrderStatus, PaymentStatus
from commerce.orders.services.transitions import order_cancel
from payments import receivers, tasks
from payments.models import Refund, RefundStatus
from tests.factories import StaffFactory

from .test_refunds import captured_payment, paid_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    """The ids ``refund_cancelled_order.delay`` was called with (nothing runs)."""
    calls: list[int] = []
    monkeypatch.setattr(tasks.refund_cancelled_order, "delay", lambda order_id: calls.append(order_id))
    return calls


def test_the_receiver_is_connected_to_order_cancelled_once():
    def connected():
        return [
            row[0] for row in events.order_cancelled.receivers if row[0][0] == receivers.DISPATCH_UID_ORDER_CANCELLED
        ]

    assert len(connected()) == 1
    receivers.connect()  # connecting again (a second ready()) changes nothing
    assert len(connected()) == 1


def test_cancelling_a_paid_order_enqueues_its_refund_after_commit_and_nothing_more(
    django_capture_on_commit_callbacks, queued
):
    order = paid_order()
    captured_payment(order)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        order_cancel(order_id=order.pk, actor=StaffFactory(), reason="Out of stock after all")

    assert queued == [order.pk]
    assert len(callbacks) >= 2  # the order's event, then the receiver's enqueue
    assert Refund.objects.count() == 0  # the receiver only enqueued


def test_nothing_is_enqueued_before_the_cancellation_commits(django_capture_on_commit_callbacks, queued):
    order = paid_order()

    with django_capture_on_commit_callbacks(execute=False):
        order_cancel(order_id=order.pk, reason="Changed my mind", by_shopper=True)

    assert queued == []


def test_cancelling_an_unpaid_order_enqueues_nothing(django_capture_on_commit_callbacks, queued):
    order = paid_order(status=OrderStatus.PENDING_PAYMENT)

    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(order_id=order.pk, reason="Changed my mind", by_shopper=True)

    assert queued == []


def test_a_cancelled_paid_order_is_refunded_in_full_through_the_task(django_capture_on_commit_callbacks, eager_celery):
    order = paid_order()
    payment = captured_payment(order)

    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(order_id=order.pk, actor=StaffFactory(), reason="Out of stock after all")

    refund = Refund.objects.get()
    assert (refund.payment_id, refund.amount, refund.status, refund.reason, refund.requested_by) == (
        payment.pk,
        Decimal("998.00"),
        RefundStatus.SUCCEEDED,
        "Order cancelled after payment: refunded in full.",
        None,
    )
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.refunded_amount == Decimal("998.00")
    assert (order.status, order.payment_status, order.refunded_amount) == (
        OrderStatus.CANCELLED,
        PaymentStatus.REFUNDED,
        Decimal("998.00"),
    )


def test_the_task_is_safe_to_run_twice_and_skips_an_unknown_order():
    order = paid_order()
    captured_payment(order)

    assert tasks.refund_cancelled_order(order.pk) == 1
    assert tasks.refund_cancelled_order(order.pk) == 0
    assert tasks.refund_cancelled_order(987_654) == 0
    assert Refund.objects.filter(status=RefundStatus.SUCCEEDED).count() == 1


def test_the_retry_task_sends_pending_refunds_again():
    order = paid_order()
    payment = captured_payment(order)
    refund = Refund.objects.create(
        payment=payment,
        amount=Decimal("10.00"),
        currency="INR",
        reason="Provider was down",
        provider="demo",
        idempotency_key="rf_lost_answer",
    )

    assert tasks.retry_pending_refunds() == {"refunds_sent": 0, "cancelled_orders_refunded": 0}
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        assert tasks.retry_pending_refunds() == {"refunds_sent": 1, "cancelled_orders_refunded": 0}

    refund.refresh_from_db()
    assert (refund.status, refund.provider_refund_id) == (RefundStatus.SUCCEEDED, "demo_re_rf_lost_answer")


def test_a_cancelled_paid_order_whose_refund_task_was_lost_is_refunded_by_the_sweep(
    django_capture_on_commit_callbacks, monkeypatch
):
    def broker_down(order_id):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.refund_cancelled_order, "delay", broker_down)
    order = paid_order()
    payment = captured_payment(order)
    refused = paid_order()  # cancelled too, its refund refused earlier: not asked again
    refused_payment = captured_payment(refused)
    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(order_id=order.pk, reason="Lost task")  # the enqueue fails; the cancellation stands
        order_cancel(order_id=refused.pk, reason="Refused before")
    Refund.objects.create(
        payment=refused_payment,
        amount=Decimal("998.00"),
        currency="INR",
        reason="Refused",
        status=RefundStatus.FAILED,
        provider="demo",
        idempotency_key="rf_refused",
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED

    assert tasks.retry_pending_refunds() == {"refunds_sent": 0, "cancelled_orders_refunded": 0}  # too recent
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        assert tasks.retry_pending_refunds() == {"refunds_sent": 0, "cancelled_orders_refunded": 1}
        assert tasks.retry_pending_refunds() == {"refunds_sent": 0, "cancelled_orders_refunded": 0}

    refund = Refund.objects.get(payment=payment)
    assert (refund.amount, refund.status) == (Decimal("998.00"), RefundStatus.SUCCEEDED)
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.REFUNDED
    assert Refund.objects.filter(payment=refused_payment).count() == 1
