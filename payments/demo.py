"""Demo payments for ``manage.py seed_demo`` (runs after the orders' demo data: apps seed in ``INSTALLED_APPS``
order), so the admin's payments and webhook inbox are not empty on a fresh install.

The orders' demo marks the demo shopper's delivered, fulfilled and paid orders paid directly. Here each of those
orders gets the demo-gateway payment that would have paid it, taking the path a real payment takes from the
provider's side: the payment is opened with the demo gateway (``DemoGateway.start``), then a signed demo
``payment.succeeded`` webhook goes through the inbox (:func:`payments.services.webhooks.webhook_receive`, stored
first) and is processed (:func:`payments.services.webhooks.webhook_process`: the payment is captured, audited, and
the order, already paid, stays as it is). The payment row itself is written here, not by ``payment_start``, which
only opens payments of orders still awaiting payment. The shopper's pending order is left for the walk-through
(pay it with ``POST orders/{number}/payments {"provider": "demo"}`` and its ``complete_url``).

Idempotent: an order that has a demo payment already is skipped. Nothing happens when the demo gateway is off
(production) or the demo shopper does not exist.
"""

import uuid

from django.conf import settings

from accounts.models import User
from commerce.orders.models import Order, OrderStatus

from .gateways.demo import SIGNATURE_HEADER, DemoGateway, demo_event_body, demo_sign
from .gateways.registry import enabled_providers
from .models import Payment, PaymentStatus, Provider
from .services.webhooks import webhook_process, webhook_receive

PAID_STATES = (OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.DELIVERED)
#: How the demo shopper "paid": UPI with a demo handle (shown in the admin's payment list).
METHOD, VPA = "upi", "okdemo"


def seed(*, stdout) -> None:
    if Provider.DEMO not in enabled_providers():
        stdout.write("Payments: the demo gateway is off, no demo payments.")
        return
    email = User.objects.normalize_email(getattr(settings, "DEMO_SHOPPER_EMAIL", "") or "shopper@example.com")
    shopper = User.objects.filter(email=email).first()
    if shopper is None:
        stdout.write("Payments: no demo shopper, no demo payments.")
        return
    orders = (
        Order.objects.filter(user=shopper, status__in=PAID_STATES, paid_at__isnull=False)
        .exclude(payments__provider=Provider.DEMO)
        .order_by("id")
    )
    paid = [_pay(order=order, shopper=shopper) for order in orders]
    if not paid:
        stdout.write("Payments: demo payments exist.")
        return
    captured = sum(1 for payment in paid if payment.status == PaymentStatus.CAPTURED)
    stdout.write(f"Payments: {captured} of {len(paid)} demo payment(s) captured through the webhook inbox.")


def _pay(*, order: Order, shopper: User) -> Payment:
    payment = Payment.objects.create(
        order=order,
        user=shopper,
        provider=Provider.DEMO,
        amount=order.total,
        currency=order.currency,
        idempotency_key=str(uuid.uuid4()),
    )
    started = DemoGateway().start(payment=payment)
    payment.provider_order_id = started.provider_order_id
    payment.client_data = started.client
    payment.save(update_fields=["provider_order_id", "client_data", "updated_at"])
    body = demo_event_body(
        type="payment.succeeded",
        provider_order_id=payment.provider_order_id,
        amount=payment.amount,
        currency=payment.currency,
        method=METHOD,
        vpa=VPA,
    )
    event, _ = webhook_receive(provider=Provider.DEMO, body=body, headers={SIGNATURE_HEADER: demo_sign(body)})
    webhook_process(webhook_id=event.pk)
    payment.refresh_from_db()
    return payment
