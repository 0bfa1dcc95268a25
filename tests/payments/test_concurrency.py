"""Payments under real parallel transactions (PostgreSQL): one payment per order and provider, one customer per
shopper and provider, a webhook delivered twice at once applied once, refunds racing never past the capture.

Workers are threads with their own database connections, started together on a barrier by
:func:`tests.orders.test_concurrency.run_together` (which also sets a ``lock_timeout``, so a lock wait that never
ends or a deadlock fails the test instead of hanging it). Rows are committed for real (``transaction=True``).
The providers are the demo gateway (no network) unless a test says otherwise.
"""

from collections.abc import Callable
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from commerce.orders.models import Order, OrderEvent, OrderEventType, OrderStatus
from commerce.orders.models import PaymentStatus as OrderPaymentStatus
from payments.gateways import stripe as stripe_adapter
from payments.models import (
    Payment,
    PaymentStatus,
    ProviderCustomer,
    Refund,
    RefundStatus,
    SavedPaymentMethod,
    WebhookEvent,
    WebhookStatus,
)
from payments.services import webhooks
from payments.services.methods import payment_method_delete, payment_methods_refresh, provider_customer_for
from payments.services.payments import payment_start
from payments.services.refunds import refund_create
from tests.factories import UserFactory
from tests.orders.factories import order_build
from tests.orders.test_concurrency import error_codes, run_together
from tests.payments import stripe_fakes
from tests.payments.conftest import FAKE_KEYS
from tests.payments.test_methods_stripe import FakeStripe, card, method_list

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_eight_concurrent_starts_of_one_order_with_one_provider_make_one_payment(shopper, pending_order):
    order = pending_order

    results = run_together([lambda: payment_start(user=shopper, order_number=order.number, provider="demo")] * 8)

    assert error_codes(results) == {"ok": 8}
    payment = Payment.objects.get(order=order)
    assert {result["value"].pk for result in results} == {payment.pk}
    assert payment.status == PaymentStatus.CREATED
    assert payment.provider_order_id == f"demo_{payment.idempotency_key}"
    assert payment.amount == order.total


def test_concurrent_first_saves_make_one_customer_per_shopper_and_provider(db):
    shopper = UserFactory()

    results = run_together([lambda: provider_customer_for(user=shopper, provider="demo")] * 6)

    assert error_codes(results) == {"ok": 6}
    customer = ProviderCustomer.objects.get(user=shopper, provider="demo")
    assert {result["value"] for result in results} == {customer.customer_id}


# --- webhooks ---------------------------------------------------------------------------------------------------


@pytest.fixture
def published(monkeypatch) -> list[int]:
    """The inbox rows whose processing task was published; the test then plays the workers (so processing runs
    exactly when and as often as the test says, with or without a broker)."""
    ids: list[int] = []
    monkeypatch.setattr(webhooks, "_enqueue_on_commit", ids.append)
    return ids


def stripe_capture(payment, *, event_id: str) -> bytes:
    minor = int(payment.amount * 100)
    intent = stripe_fakes.payment_intent(
        id=payment.provider_order_id,
        amount=minor,
        amount_received=minor,
        currency=payment.currency.lower(),
        status="succeeded",
        latest_charge="ch_3MtwBwLkdIwHu7ix28a3tqPa",
        payment_method_types=["card"],
    )
    return stripe_fakes.event_body(stripe_fakes.event("payment_intent.succeeded", intent, id=event_id))


def deliver(body: bytes) -> Callable[[], int]:
    def post() -> int:
        client = APIClient()
        headers = stripe_fakes.signed_headers(body, FAKE_KEYS["STRIPE_WEBHOOK_SECRET"])
        response = client.post(
            "/api/v1/webhooks/stripe",
            data=body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=headers["Stripe-Signature"],
        )
        return response.status_code

    return post


def paid_events(order) -> int:
    return OrderEvent.objects.filter(order=order, type=OrderEventType.PAID).count()


def test_one_stripe_event_delivered_twice_at_once_is_stored_once_and_applied_once(
    payment_keys, pending_order, make_payment, published
):
    payment = make_payment(pending_order, provider="stripe", provider_order_id="pi_3RaceTwiceAtOnce")
    body = stripe_capture(payment, event_id="evt_1RaceTwiceAtOnce")

    delivered = run_together([deliver(body), deliver(body)])

    assert [result.get("value") for result in delivered] == [200, 200]
    row = WebhookEvent.objects.get()
    assert (row.provider, row.event_id, row.status) == ("stripe", "evt_1RaceTwiceAtOnce", WebhookStatus.RECEIVED)
    assert published == [row.pk]

    # The task delivered twice (a redelivery after a lost ack) and run by two workers at once.
    processed = run_together([lambda: webhooks.webhook_process(webhook_id=row.pk)] * 2)

    assert [result.get("value") for result in processed] == ["processed", "processed"]
    row.refresh_from_db()
    assert (row.status, row.attempts) == (WebhookStatus.PROCESSED, 1)
    payment.refresh_from_db()
    assert (payment.status, payment.captured_amount) == (PaymentStatus.CAPTURED, payment.amount)
    pending_order.refresh_from_db()
    assert pending_order.status == OrderStatus.PAID
    assert paid_events(pending_order) == 1


def test_two_events_reporting_one_capture_processed_at_once_capture_it_once(
    payment_keys, pending_order, make_payment, published
):
    payment = make_payment(pending_order, provider="stripe", provider_order_id="pi_3TwoEventsOneCapture")
    rows = [
        webhooks.webhook_receive(
            provider="stripe",
            body=(body := stripe_capture(payment, event_id=f"evt_1TwoEvents{n}")),
            headers=stripe_fakes.signed_headers(body, FAKE_KEYS["STRIPE_WEBHOOK_SECRET"]),
        )[0]
        for n in range(4)
    ]

    results = run_together([lambda row=row: webhooks.webhook_process(webhook_id=row.pk) for row in rows])

    assert error_codes(results) == {"ok": 4}
    assert sorted(WebhookEvent.objects.values_list("status", flat=True)) == [WebhookStatus.PROCESSED] * 4
    payment.refresh_from_db()
    assert (payment.status, payment.captured_amount) == (PaymentStatus.CAPTURED, payment.amount)
    pending_order.refresh_from_db()
    assert pending_order.status == OrderStatus.PAID
    assert paid_events(pending_order) == 1


# --- saved methods ----------------------------------------------------------------------------------------------


@pytest.fixture
def stripe_methods(monkeypatch, payment_keys, shopper):
    """The shopper's Stripe customer, and Stripe (faked at the transport) listing two saved cards of it."""
    fake = FakeStripe()
    monkeypatch.setattr(stripe_adapter, "HTTP_CLIENT", fake)
    ProviderCustomer.objects.create(user=shopper, provider="stripe", customer_id="cus_Asha")
    fake.routes[("GET", "/v1/customers/cus_Asha/payment_methods")] = method_list(
        "cus_Asha", card("pm_Visa"), card("pm_Amex", brand="amex", last4="0005")
    )
    return fake


def test_concurrent_refreshes_of_one_shoppers_methods_store_each_method_once(shopper, stripe_methods):
    results = run_together([lambda: payment_methods_refresh(user=shopper, provider="stripe")] * 6)

    assert [result.get("value") for result in results] == [True] * 6
    rows = SavedPaymentMethod.objects.filter(user=shopper).order_by("provider_method_id")
    assert list(rows.values_list("provider_method_id", "brand", "last4")) == [
        ("pm_Amex", "amex", "0005"),
        ("pm_Visa", "visa", "4242"),
    ]


def test_concurrent_deletes_of_one_method_detach_it_and_all_answer_done(shopper, stripe_methods):
    payment_methods_refresh(user=shopper, provider="stripe")
    visa = SavedPaymentMethod.objects.get(provider_method_id="pm_Visa")
    attached = {"customer": "cus_Asha"}

    def retrieve():
        return 200, card("pm_Visa", customer=attached["customer"])

    def detach():
        attached["customer"] = None
        return 200, card("pm_Visa", customer=None)

    stripe_methods.routes[("GET", "/v1/payment_methods/pm_Visa")] = retrieve
    stripe_methods.routes[("POST", "/v1/payment_methods/pm_Visa/detach")] = detach
    stripe_methods.routes[("GET", "/v1/customers/cus_Asha/payment_methods")] = method_list(
        "cus_Asha", card("pm_Amex", brand="amex", last4="0005")
    )

    results = run_together([lambda: payment_method_delete(user=shopper, method_id=visa.pk)] * 3)

    # Each request either detached it, found it gone at Stripe, or found the row gone here: all are done (204),
    # or (when the row was already deleted before it looked) the documented 404.
    assert set(error_codes(results)) <= {"ok", "not_found"}
    assert error_codes(results)["ok"] >= 1
    assert attached["customer"] is None
    assert list(SavedPaymentMethod.objects.filter(user=shopper).values_list("provider_method_id", flat=True)) == [
        "pm_Amex"
    ]


# --- refunds ----------------------------------------------------------------------------------------------------


@pytest.fixture
def captured(shopper, tshirt, make_payment):
    """A paid order of 998.00 INR and its captured demo payment."""
    order = order_build(user=shopper, lines=[(tshirt, 2)], status=OrderStatus.PAID)
    return make_payment(order, provider="demo", status=PaymentStatus.CAPTURED, captured_amount=order.total)


def test_five_concurrent_refunds_of_300_on_a_capture_of_998_refund_three(captured):
    assert captured.amount == Decimal("998.00")

    results = run_together(
        [lambda: refund_create(payment_id=captured.pk, amount=Decimal("300.00"), reason="Damaged in transit")] * 5
    )

    assert error_codes(results) == {"ok": 3, "refund_exceeds_captured": 2}
    captured.refresh_from_db()
    assert captured.refunded_amount == Decimal("900.00")
    assert (
        sorted(Refund.objects.filter(payment=captured).values_list("status", "amount"))
        == [(RefundStatus.SUCCEEDED, Decimal("300.00"))] * 3
    )
    order = Order.objects.get(pk=captured.order_id)
    assert order.payment_status == OrderPaymentStatus.PARTIALLY_REFUNDED


def test_concurrent_full_refunds_refund_the_capture_once(captured):
    full = [lambda: refund_create(payment_id=captured.pk, amount=Decimal("998.00"), reason="Cancelled")] * 4
    partial = [lambda: refund_create(payment_id=captured.pk, amount=Decimal("0.01"), reason="Goodwill")] * 2

    results = run_together(full + partial)

    captured.refresh_from_db()
    assert captured.refunded_amount <= captured.captured_amount
    outcomes = error_codes(results)
    assert outcomes["ok"] in (1, 2, 3)
    succeeded = Refund.objects.filter(payment=captured, status=RefundStatus.SUCCEEDED)
    assert sum(succeeded.values_list("amount", flat=True)) == captured.refunded_amount
    # Either the full refund won (and every other request was refused) or some cents went first and no full
    # refund could follow.
    full_refunds = succeeded.filter(amount=Decimal("998.00")).count()
    assert (full_refunds, outcomes["ok"]) in ((1, 1), (0, outcomes["ok"]))
    assert outcomes["refund_exceeds_captured"] == 6 - outcomes["ok"]
