"""The demo gateway end to end on the full stack: ``POST payments/demo/{id}/complete`` stores the signed demo
webhook and answers at once; a real Celery worker on the Redis broker (``webhooks`` queue) processes it and the
order is paid, its stock deducted."""

import time
from decimal import Decimal

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.db import connections

from commerce.orders.models import Order, OrderStatus
from config.celery import app
from payments.models import Payment, PaymentStatus, WebhookEvent, WebhookStatus


def _close_worker_connections(**kwargs):
    # The worker thread has its own database connection; close it so the test database can be dropped.
    connections.close_all()


@pytest.mark.celery_worker
def test_a_real_worker_pays_the_order_of_a_demo_completion(transactional_db, shopper_client, pending_order, tshirt):
    previous_eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    task_postrun.connect(_close_worker_connections, weak=False)
    try:
        started = shopper_client.post(
            f"/api/v1/orders/{pending_order.number}/payments", {"provider": "demo"}, format="json"
        )
        payment_id = started.json()["id"]
        with start_worker(app, pool="solo", queues=["webhooks"], perform_ping_check=False, shutdown_timeout=10):
            completed = shopper_client.post(
                f"/api/v1/payments/demo/{payment_id}/complete", {"outcome": "succeeded"}, format="json"
            )
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if Order.objects.filter(pk=pending_order.pk, status=OrderStatus.PAID).exists():
                    break
                time.sleep(0.1)
    finally:
        task_postrun.disconnect(_close_worker_connections)
        app.conf.task_always_eager = previous_eager

    assert started.status_code == 201
    assert completed.status_code == 200
    payment = Payment.objects.get(pk=payment_id)
    pending_order.refresh_from_db()
    tshirt.refresh_from_db()
    assert (payment.status, payment.captured_amount) == (PaymentStatus.CAPTURED, Decimal("998.00"))
    assert pending_order.status == OrderStatus.PAID
    assert (tshirt.stock_on_hand, tshirt.stock_allocated) == (8, 0)
    assert WebhookEvent.objects.get().status == WebhookStatus.PROCESSED
