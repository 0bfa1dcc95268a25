"""``manage.py seed_demo`` pays the demo shopper's paid orders with the demo gateway (``payments/demo.py``), through
the webhook inbox, so the admin shows payments; a second run changes nothing; with the demo gateway off, nothing."""

import json
from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.apps import apps
from django.core.management import call_command

from commerce.orders.models import Order, OrderEvent, OrderEventType, OrderStatus
from payments.models import Payment, PaymentStatus, WebhookEvent, WebhookStatus

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 5, 4, 14, 30, tzinfo=UTC)


def seed(settings) -> str:
    settings.DEMO_ADMIN_PASSWORD = "demo-pass-123!"
    settings.DEMO_SHOPPER_PASSWORD = "shopper-pass-123!"
    out = StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("seed_demo", stdout=out)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


def test_the_demo_shoppers_paid_orders_get_captured_demo_payments_through_the_inbox(settings):
    out = seed(settings)

    paid = Order.objects.filter(user__email="shopper@example.com", paid_at__isnull=False).order_by("id")
    assert sorted(paid.values_list("status", flat=True)) == sorted(
        [OrderStatus.DELIVERED, OrderStatus.FULFILLED, OrderStatus.PAID]
    )
    payments = Payment.objects.filter(order__in=paid).order_by("order_id")
    assert [
        (p.order_id, p.provider, p.status, p.amount, p.captured_amount, p.refunded_amount, p.method, p.vpa_handle)
        for p in payments
    ] == [
        (order.pk, "demo", PaymentStatus.CAPTURED, order.total, order.total, Decimal("0.00"), "upi", "okdemo")
        for order in paid
    ]
    assert all(p.provider_order_id == f"demo_{p.idempotency_key}" for p in payments)
    inbox = WebhookEvent.objects.order_by("received_at", "id")
    assert [(e.provider, e.type, e.status, e.attempts) for e in inbox] == [
        ("demo", "payment.succeeded", WebhookStatus.PROCESSED, 1)
    ] * 3
    assert sorted(json_payment(e) for e in inbox) == sorted(p.provider_order_id for p in payments)
    # The orders were paid already: no second "paid" event, nothing flagged for staff.
    assert OrderEvent.objects.filter(order__in=paid, type=OrderEventType.PAID).count() == 3
    assert not OrderEvent.objects.filter(order__in=paid, type=OrderEventType.FLAGGED).exists()
    assert not Payment.objects.exclude(order__in=paid).exists()
    assert "Payments: 3 of 3 demo payment(s) captured through the webhook inbox." in out


def json_payment(event: WebhookEvent) -> str:
    return json.loads(event.body)["payment"]


def test_a_second_seed_changes_nothing(settings):
    seed(settings)
    before = row_counts()

    out = seed(settings)

    assert row_counts() == before
    assert "Payments: demo payments exist." in out


def test_with_the_demo_gateway_off_no_payment_is_made(settings):
    settings.PAYMENTS_DEMO_ENABLED = False

    out = seed(settings)

    assert not Payment.objects.exists()
    assert not WebhookEvent.objects.exists()
    assert "Payments: the demo gateway is off, no demo payments." in out
