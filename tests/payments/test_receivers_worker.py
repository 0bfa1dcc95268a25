"""A real Celery worker on the Redis broker refunds a cancelled paid order (full stack only): the cancellation
commits, the orders' event reaches the payments receiver, which publishes ``refund_cancelled_order`` to the
``webhooks`` queue; the worker refunds the payment through the demo gateway."""

import time
from decimal import Decimal

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.db import connections

from commerce.orders.models import OrderStatus, PaymentStatus
from commerce.orders.services.transitions import order_cancel
from config.celery import app
from payments import tasks
from payments.models import Refund, RefundStatus

from .test_refunds import captured_payment, paid_order


def _close_worker_connections(**kwargs):
    # The worker runs in a thread with its own database connection; close it so the test database can be dropped.
    connections.close_all()


def test_the_refund_task_is_routed_to_the_webhooks_queue():
    router = app.amqp.router
    for task in (tasks.refund_cancelled_order, tasks.retry_pending_refunds):
        name = task.name
        assert name in app.tasks
        assert router.route({}, name)["queue"].name == "webhooks"


@pytest.mark.celery_worker
def test_a_real_worker_refunds_a_cancelled_paid_order_once(transactional_db):
    previous_eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    task_postrun.connect(_close_worker_connections, weak=False)
    order = paid_order()
    payment = captured_payment(order)
    try:
        with start_worker(app, pool="solo", queues=["webhooks"], perform_ping_check=False, shutdown_timeout=10):
            # Autocommit: the event is sent, and the task published, as soon as the cancellation commits.
            order_cancel(order_id=order.pk, reason="Out of stock after all")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if Refund.objects.filter(payment=payment).exclude(status=RefundStatus.PENDING).exists():
                    break
                time.sleep(0.1)
    finally:
        task_postrun.disconnect(_close_worker_connections)
        app.conf.task_always_eager = previous_eager

    refund = Refund.objects.get(payment=payment)
    assert (refund.amount, refund.status) == (Decimal("998.00"), RefundStatus.SUCCEEDED)
    order.refresh_from_db()
    assert (order.status, order.payment_status, order.refunded_amount) == (
        OrderStatus.CANCELLED,
        PaymentStatus.REFUNDED,
        Decimal("998.00"),
    )
