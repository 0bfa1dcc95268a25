"""Refunds through the real provider SDKs with HTTP faked at the transport: what ``refund_create`` makes the
Stripe adapter send (the amount in minor units, the refund's idempotency key), and what each answer does."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from commerce.core.errors import DomainError
from commerce.orders.models import PaymentStatus
from payments.models import Payment, Refund, RefundStatus
from payments.services.refunds import refund_create, refunds_retry_pending
from tests.payments import razorpay_fakes, stripe_fakes

from .test_refunds import captured_payment, paid_order

pytestmark = pytest.mark.django_db

INTENT = "pi_3MtwBwLkdIwHu7ix28a3tqPa"


def stripe_payment() -> Payment:
    order = paid_order()  # 998.00 INR
    payment = captured_payment(order, provider="stripe")
    Payment.objects.filter(pk=payment.pk).update(provider_order_id=INTENT)
    payment.refresh_from_db()
    return payment


def test_a_stripe_refund_sends_minor_units_and_the_refunds_idempotency_key(stripe_http):
    payment = stripe_payment()
    stripe_http.answer("POST", "/v1/refunds", stripe_fakes.refund(id="re_partial", amount=29950, payment_intent=INTENT))

    refund = refund_create(payment_id=payment.pk, amount=Decimal("299.50"), reason="One item returned")

    sent = stripe_http.last
    assert (sent.method, sent.path) == ("POST", "/v1/refunds")
    assert sent.params["amount"] == "29950"
    assert sent.params["payment_intent"] == INTENT
    assert sent.params["metadata[refund_id]"] == str(refund.pk)
    assert sent.idempotency_key == refund.idempotency_key
    assert (refund.status, refund.provider_refund_id) == (RefundStatus.SUCCEEDED, "re_partial")
    payment.refresh_from_db()
    payment.order.refresh_from_db()
    assert payment.refunded_amount == Decimal("299.50")
    assert (payment.order.refunded_amount, payment.order.payment_status) == (
        Decimal("299.50"),
        PaymentStatus.PARTIALLY_REFUNDED,
    )


def test_stripe_unreachable_leaves_the_refund_pending_and_the_retry_sends_the_same_key(stripe_http, settings):
    payment = stripe_payment()
    stripe_http.fail("POST", "/v1/refunds")

    with pytest.raises(DomainError) as caught:
        refund_create(payment_id=payment.pk, amount=Decimal("998.00"), reason="Cancelled")

    assert (caught.value.status, caught.value.code) == (503, "provider_unavailable")
    refund = Refund.objects.get()
    assert refund.status == RefundStatus.PENDING
    first_key = stripe_http.last.idempotency_key
    assert first_key == refund.idempotency_key

    stripe_http.routes.clear()
    stripe_http.answer("POST", "/v1/refunds", stripe_fakes.refund(id="re_full", amount=99800, payment_intent=INTENT))
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        assert refunds_retry_pending() == 1

    assert stripe_http.last.idempotency_key == first_key
    assert stripe_http.last.params["amount"] == "99800"
    refund.refresh_from_db()
    assert (refund.status, refund.provider_refund_id) == (RefundStatus.SUCCEEDED, "re_full")


def test_a_stripe_refusal_is_recorded_failed_with_stripes_message(stripe_http):
    payment = stripe_payment()
    stripe_http.answer(
        "POST",
        "/v1/refunds",
        stripe_fakes.error("Charge ch_1 has already been refunded.", code="charge_already_refunded"),
        status=400,
    )

    with pytest.raises(DomainError) as caught:
        refund_create(payment_id=payment.pk, amount=Decimal("10.00"), reason="Again")

    assert (caught.value.status, caught.value.code) == (400, "provider_refused")
    refund = Refund.objects.get()
    assert refund.status == RefundStatus.FAILED
    assert "already been refunded" in refund.last_error
    payment.refresh_from_db()
    assert payment.refunded_amount == Decimal("0.00")


def test_a_stripe_refund_still_pending_keeps_its_id_for_the_webhook(stripe_http):
    payment = stripe_payment()
    stripe_http.answer(
        "POST",
        "/v1/refunds",
        stripe_fakes.refund(id="re_pending", amount=1000, status="pending", payment_intent=INTENT),
    )

    refund = refund_create(payment_id=payment.pk, amount=Decimal("10.00"), reason="Bank transfer refund")

    assert (refund.status, refund.provider_refund_id) == (RefundStatus.PENDING, "re_pending")
    payment.refresh_from_db()
    assert payment.refunded_amount == Decimal("0.00")


# --- Razorpay ----------------------------------------------------------------------------------------------------


def razorpay_payment(fake) -> Payment:
    order = paid_order()  # 998.00 INR
    fake.orders["order_Refunds0001"] = razorpay_fakes.order_entity(
        order_id="order_Refunds0001", amount=99800, receipt=order.number
    )
    paid = fake.pay("order_Refunds0001")
    payment = captured_payment(order, provider="razorpay")
    Payment.objects.filter(pk=payment.pk).update(provider_order_id="order_Refunds0001", provider_payment_id=paid["id"])
    payment.refresh_from_db()
    return payment


def test_a_razorpay_refund_sends_paise_and_the_refunds_key_in_its_notes(razorpay_fake):
    payment = razorpay_payment(razorpay_fake)

    refund = refund_create(payment_id=payment.pk, amount=Decimal("299.50"), reason="One item returned")

    [sent] = razorpay_fake.posted(f"/v1/payments/{payment.provider_payment_id}/refund")
    assert sent.json["amount"] == 29950
    assert sent.json["notes"]["refund_key"] == refund.idempotency_key
    assert refund.status == RefundStatus.SUCCEEDED
    assert refund.provider_refund_id in razorpay_fake.refunds
    payment.order.refresh_from_db()
    assert (payment.order.refunded_amount, payment.order.payment_status) == (
        Decimal("299.50"),
        PaymentStatus.PARTIALLY_REFUNDED,
    )


def test_razorpay_unreachable_then_the_retry_refunds_once(razorpay_fake):
    payment = razorpay_payment(razorpay_fake)
    razorpay_fake.fail_next("connection")

    with pytest.raises(DomainError) as caught:
        refund_create(payment_id=payment.pk, amount=Decimal("998.00"), reason="Cancelled")

    assert caught.value.status == 503
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        assert refunds_retry_pending() == 1
        assert refunds_retry_pending() == 0

    refund = Refund.objects.get()
    assert refund.status == RefundStatus.SUCCEEDED
    assert len(razorpay_fake.refunds) == 1
    payment.order.refresh_from_db()
    assert payment.order.payment_status == PaymentStatus.REFUNDED
