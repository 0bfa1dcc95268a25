"""Starting a payment with Stripe and Razorpay through the API: the real SDKs on the fake transports of
``stripe_fakes``/``razorpay_fakes``, asserting what would have been sent (minor units, idempotency keys) and
what the client gets; a provider that cannot be reached is a fast 503 and the retry reuses the key."""

import pytest

from payments.models import Payment, PaymentStatus, ProviderCustomer
from tests.payments.razorpay_fakes import KEY_ID
from tests.payments.stripe_fakes import PUBLISHABLE_KEY, customer, payment_intent

pytestmark = pytest.mark.django_db

INTENT_ID = "pi_3MtwBwLkdIwHu7ix28a3tqPa"


def url(number: str) -> str:
    return f"/api/v1/orders/{number}/payments"


def test_a_stripe_start_creates_a_payment_intent_in_paise_with_the_payments_idempotency_key(
    shopper_client, pending_order, stripe_http
):
    stripe_http.answer("POST", "/v1/payment_intents", payment_intent(id=INTENT_ID, amount=99800))

    response = shopper_client.post(url(pending_order.number), {"provider": "stripe"}, format="json")

    payment = Payment.objects.get()
    assert response.status_code == 201
    assert response.json() == {
        "id": payment.pk,
        "provider": "stripe",
        "status": "created",
        "amount": {"amount": "998.00", "currency": "INR"},
        "client": {
            "client_secret": f"{INTENT_ID}_secret_YrKJUKribcBjcG8HVhfZluoGH",
            "publishable_key": PUBLISHABLE_KEY,
            "payment_intent": INTENT_ID,
        },
    }
    sent = stripe_http.sent("POST", "/v1/payment_intents")
    assert len(sent) == 1
    assert sent[0].form["amount"] == "99800"
    assert sent[0].form["currency"] == "inr"
    assert sent[0].form["automatic_payment_methods[enabled]"] == "true"
    assert sent[0].form["metadata[order_number]"] == pending_order.number
    assert sent[0].idempotency_key == payment.idempotency_key
    assert payment.provider_order_id == INTENT_ID


def test_a_second_stripe_start_reuses_the_intent_without_calling_stripe(shopper_client, pending_order, stripe_http):
    stripe_http.answer("POST", "/v1/payment_intents", payment_intent(id=INTENT_ID, amount=99800))

    first = shopper_client.post(url(pending_order.number), {"provider": "stripe"}, format="json")
    second = shopper_client.post(url(pending_order.number), {"provider": "stripe"}, format="json")

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == first.json()
    assert len(stripe_http.requests) == 1


def test_stripe_unreachable_is_503_and_the_retry_sends_the_same_idempotency_key(
    shopper_client, pending_order, stripe_http
):
    stripe_http.fail("POST", "/v1/payment_intents")
    stripe_http.answer("POST", "/v1/payment_intents", payment_intent(id=INTENT_ID, amount=99800))

    down = shopper_client.post(url(pending_order.number), {"provider": "stripe"}, format="json")
    retried = shopper_client.post(url(pending_order.number), {"provider": "stripe"}, format="json")

    payment = Payment.objects.get()
    assert down.status_code == 503
    assert down.json()["code"] == "provider_unavailable"
    assert retried.status_code == 200
    assert retried.json()["id"] == payment.pk
    keys = [sent.idempotency_key for sent in stripe_http.sent("POST", "/v1/payment_intents")]
    assert keys[0] == keys[-1] == payment.idempotency_key
    assert payment.status == PaymentStatus.CREATED
    assert payment.provider_order_id == INTENT_ID


def test_a_razorpay_start_opens_an_order_in_paise_with_our_order_number_as_receipt(
    shopper_client, pending_order, razorpay_fake
):
    response = shopper_client.post(url(pending_order.number), {"provider": "razorpay"}, format="json")

    payment = Payment.objects.get()
    assert response.status_code == 201
    body = response.json()
    assert body["id"] == payment.pk
    assert (body["provider"], body["status"]) == ("razorpay", "created")
    assert body["amount"] == {"amount": "998.00", "currency": "INR"}
    assert body["client"]["key_id"] == KEY_ID
    assert body["client"]["order_id"] == payment.provider_order_id
    assert body["client"]["amount_minor"] == 99800
    created = razorpay_fake.posted("/v1/orders")
    assert len(created) == 1
    assert created[0].json["amount"] == 99800
    assert created[0].json["currency"] == "INR"
    assert created[0].json["receipt"] == pending_order.number
    assert created[0].json["notes"]["payment_key"] == payment.idempotency_key
    assert razorpay_fake.orders[payment.provider_order_id]["receipt"] == pending_order.number


def test_razorpay_unreachable_is_503_and_the_payment_stays_created(shopper_client, pending_order, razorpay_fake):
    razorpay_fake.fail_next("connection")

    response = shopper_client.post(url(pending_order.number), {"provider": "razorpay"}, format="json")

    payment = Payment.objects.get()
    assert response.status_code == 503
    assert response.json()["code"] == "provider_unavailable"
    assert payment.status == PaymentStatus.CREATED
    assert payment.provider_order_id == ""
    assert razorpay_fake.orders == {}


def test_one_order_can_have_an_open_payment_per_provider(shopper_client, pending_order, razorpay_fake):
    demo = shopper_client.post(url(pending_order.number), {"provider": "demo"}, format="json")
    razorpay = shopper_client.post(url(pending_order.number), {"provider": "razorpay"}, format="json")

    assert (demo.status_code, razorpay.status_code) == (201, 201)
    assert sorted(Payment.objects.values_list("provider", flat=True)) == ["demo", "razorpay"]


def test_save_method_with_stripe_makes_the_shoppers_customer_and_asks_stripe_to_keep_the_method(
    shopper, shopper_client, pending_order, stripe_http
):
    stripe_http.answer("POST", "/v1/customers", customer(id="cus_NffrFeUfNV2Hib", email=shopper.email))
    stripe_http.answer("POST", "/v1/payment_intents", payment_intent(id=INTENT_ID, amount=99800))

    response = shopper_client.post(
        url(pending_order.number), {"provider": "stripe", "save_method": True}, format="json"
    )

    assert response.status_code == 201
    assert ProviderCustomer.objects.get(user=shopper, provider="stripe").customer_id == "cus_NffrFeUfNV2Hib"
    intent = stripe_http.sent("POST", "/v1/payment_intents")[0].form
    assert intent["customer"] == "cus_NffrFeUfNV2Hib"
    assert intent["setup_future_usage"] == "off_session"
    assert stripe_http.sent("POST", "/v1/customers")[0].form["email"] == shopper.email
