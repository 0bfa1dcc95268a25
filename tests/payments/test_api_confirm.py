"""The client-side confirmations through the API: ``POST payments/razorpay/verify`` (Razorpay's real signature
over ``order_id|payment_id``, the SDK on the fake transport) and ``POST payments/demo/{id}/complete`` (a signed
demo webhook through the inbox, end to end: the order paid and its stock deducted)."""

import pytest

from commerce.orders.models import OrderStatus
from commerce.orders.models import PaymentStatus as OrderPaymentStatus
from payments.models import Payment, PaymentStatus, WebhookEvent, WebhookStatus
from tests.orders.factories import order_build
from tests.payments.razorpay_fakes import razorpay_payment_signature

pytestmark = pytest.mark.django_db

VERIFY = "/api/v1/payments/razorpay/verify"


def start(client, order, provider):
    response = client.post(f"/api/v1/orders/{order.number}/payments", {"provider": provider}, format="json")
    assert response.status_code == 201
    return Payment.objects.get(pk=response.json()["id"])


def complete_url(payment_id) -> str:
    return f"/api/v1/payments/demo/{payment_id}/complete"


@pytest.fixture
def complete(shopper_client, eager_celery):
    """``complete(payment, outcome)``: the shopper's call. Tests using it run with real commits
    (``transaction=True``), so the inbox row commits and the eager task runs before the answer, as in the
    embedded default."""

    def call(payment, outcome):
        return shopper_client.post(complete_url(payment.pk), {"outcome": outcome}, format="json")

    return call


def confirmation(order_id: str, payment_id: str, **overrides) -> dict[str, str]:
    body = {
        "razorpay_order_id": order_id,
        "razorpay_payment_id": payment_id,
        "razorpay_signature": razorpay_payment_signature(order_id, payment_id),
    }
    return {**body, **overrides}


# --- Razorpay ---------------------------------------------------------------------------------------------


def test_a_verified_captured_upi_payment_is_recorded_and_the_order_paid(
    shopper_client, pending_order, razorpay_fake, tshirt
):
    payment = start(shopper_client, pending_order, "razorpay")
    paid = razorpay_fake.pay(payment.provider_order_id, method="upi", vpa="gaurav.kumar@okhdfc")

    response = shopper_client.post(VERIFY, confirmation(payment.provider_order_id, paid["id"]), format="json")

    payment.refresh_from_db()
    pending_order.refresh_from_db()
    tshirt.refresh_from_db()
    assert response.status_code == 200
    assert response.json() == {
        "id": payment.pk,
        "provider": "razorpay",
        "status": "captured",
        "amount": {"amount": "998.00", "currency": "INR"},
        "client": payment.client_data,
    }
    assert payment.provider_payment_id == paid["id"]
    assert (payment.method, payment.vpa_handle) == ("upi", "okhdfc")
    assert payment.captured_amount == payment.amount
    assert pending_order.status == OrderStatus.PAID
    assert (tshirt.stock_on_hand, tshirt.stock_allocated) == (8, 0)


def test_a_verified_authorised_payment_waits_for_the_capture(shopper_client, pending_order, razorpay_fake):
    payment = start(shopper_client, pending_order, "razorpay")
    paid = razorpay_fake.pay(payment.provider_order_id, status="authorized", method="card", vpa=None)

    response = shopper_client.post(VERIFY, confirmation(payment.provider_order_id, paid["id"]), format="json")

    pending_order.refresh_from_db()
    assert response.status_code == 200
    assert response.json()["status"] == "authorized"
    assert pending_order.status == OrderStatus.PENDING_PAYMENT


def test_a_forged_signature_is_400_and_changes_nothing(shopper_client, pending_order, razorpay_fake):
    payment = start(shopper_client, pending_order, "razorpay")
    paid = razorpay_fake.pay(payment.provider_order_id)
    forged = confirmation(payment.provider_order_id, paid["id"], razorpay_signature="0" * 64)

    response = shopper_client.post(VERIFY, forged, format="json")

    payment.refresh_from_db()
    assert response.status_code == 400
    assert response.json() == {
        "code": "signature_invalid",
        "detail": "The Razorpay payment signature does not verify.",
    }
    assert payment.status == PaymentStatus.CREATED


def test_a_signature_for_another_payment_id_is_400(shopper_client, pending_order, razorpay_fake):
    payment = start(shopper_client, pending_order, "razorpay")
    paid = razorpay_fake.pay(payment.provider_order_id)
    other = confirmation(payment.provider_order_id, "pay_Someoneelses1")["razorpay_signature"]

    response = shopper_client.post(
        VERIFY, confirmation(payment.provider_order_id, paid["id"], razorpay_signature=other), format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "signature_invalid"


def test_another_users_razorpay_payment_is_404(shopper_client, other_client, pending_order, razorpay_fake):
    payment = start(shopper_client, pending_order, "razorpay")
    paid = razorpay_fake.pay(payment.provider_order_id)

    response = other_client.post(VERIFY, confirmation(payment.provider_order_id, paid["id"]), format="json")

    payment.refresh_from_db()
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "No such payment."}
    assert payment.status == PaymentStatus.CREATED


def test_an_unknown_razorpay_order_is_404(shopper_client, razorpay_fake):
    response = shopper_client.post(VERIFY, confirmation("order_Unknown000001", "pay_Unknown0000001"), format="json")

    assert response.status_code == 404


def test_verify_is_400_when_razorpay_is_not_configured(shopper_client, settings):
    settings.RAZORPAY_KEY_ID = ""

    response = shopper_client.post(VERIFY, confirmation("order_X", "pay_X"), format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "provider_unavailable"


@pytest.mark.parametrize(
    "body, fields",
    [
        ({}, ["razorpay_order_id", "razorpay_payment_id", "razorpay_signature"]),
        ({"razorpay_order_id": 1, "razorpay_payment_id": "pay_1", "razorpay_signature": "ab"}, ["razorpay_order_id"]),
        (
            {"razorpay_order_id": "o", "razorpay_payment_id": "p", "razorpay_signature": "s" * 300},
            ["razorpay_signature"],
        ),
    ],
)
def test_a_malformed_confirmation_is_400_with_the_fields(shopper_client, razorpay_fake, body, fields):
    response = shopper_client.post(VERIFY, body, format="json")

    assert response.status_code == 400
    assert sorted(response.json()["fields"]) == fields


def test_verify_needs_a_signed_in_shopper(api_client, razorpay_fake):
    assert api_client.post(VERIFY, confirmation("order_X", "pay_X"), format="json").status_code == 401


# --- demo --------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_demo_end_to_end_pays_the_order_through_the_webhook_inbox(shopper_client, pending_order, tshirt, complete):
    payment = start(shopper_client, pending_order, "demo")

    response = complete(payment, "succeeded")

    pending_order.refresh_from_db()
    tshirt.refresh_from_db()
    assert response.status_code == 200
    assert response.json() == {
        "id": payment.pk,
        "provider": "demo",
        "status": "captured",
        "amount": {"amount": "998.00", "currency": "INR"},
        "client": {"complete_url": complete_url(payment.pk)},
    }
    assert pending_order.status == OrderStatus.PAID
    assert pending_order.payment_status == OrderPaymentStatus.PAID
    assert (tshirt.stock_on_hand, tshirt.stock_allocated) == (8, 0)
    webhook = WebhookEvent.objects.get()
    assert (webhook.provider, webhook.type, webhook.status) == ("demo", "payment.succeeded", WebhookStatus.PROCESSED)
    assert "X-Demo-Signature" in webhook.headers


@pytest.mark.django_db(transaction=True)
def test_a_failed_demo_payment_leaves_the_order_waiting_and_may_succeed_after(shopper_client, pending_order, complete):
    payment = start(shopper_client, pending_order, "demo")

    failed = complete(payment, "failed")
    pending_order.refresh_from_db()

    assert failed.status_code == 200
    assert failed.json()["status"] == "failed"
    assert pending_order.status == OrderStatus.PENDING_PAYMENT

    succeeded = complete(payment, "succeeded")
    pending_order.refresh_from_db()

    assert succeeded.json()["status"] == "captured"
    assert pending_order.status == OrderStatus.PAID
    assert WebhookEvent.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_completing_a_captured_demo_payment_again_is_409(shopper_client, pending_order, complete):
    payment = start(shopper_client, pending_order, "demo")
    complete(payment, "succeeded")

    again = complete(payment, "succeeded")

    assert again.status_code == 409
    assert again.json() == {
        "code": "invalid_transition",
        "detail": f"Payment {payment.pk} cannot be completed: it is captured.",
        "from_status": "captured",
        "to_status": "succeeded",
    }
    assert WebhookEvent.objects.count() == 1


def test_another_users_demo_payment_is_404(shopper_client, other_client, pending_order):
    payment = start(shopper_client, pending_order, "demo")

    response = other_client.post(complete_url(payment.pk), {"outcome": "succeeded"}, format="json")

    payment.refresh_from_db()
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "No such payment."}
    assert payment.status == PaymentStatus.CREATED
    assert WebhookEvent.objects.count() == 0


def test_a_payment_of_another_provider_is_404_on_the_demo_endpoint(shopper_client, pending_order, razorpay_fake):
    payment = start(shopper_client, pending_order, "razorpay")

    response = shopper_client.post(complete_url(payment.pk), {"outcome": "succeeded"}, format="json")

    assert response.status_code == 404


@pytest.mark.parametrize("payment_id", ["999999", str(2**70)])
def test_an_unknown_or_huge_payment_id_is_404(shopper_client, payment_id):
    response = shopper_client.post(complete_url(payment_id), {"outcome": "succeeded"}, format="json")

    assert response.status_code == 404


def test_the_demo_endpoint_is_404_when_the_demo_gateway_is_off(shopper_client, pending_order, settings):
    payment = start(shopper_client, pending_order, "demo")
    settings.PAYMENTS_DEMO_ENABLED = False

    response = shopper_client.post(complete_url(payment.pk), {"outcome": "succeeded"}, format="json")

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "The demo gateway is off."}


@pytest.mark.parametrize("body", [{}, {"outcome": "refunded"}, {"outcome": True}, {"outcome": ["succeeded"]}])
def test_an_outcome_other_than_succeeded_or_failed_is_400(shopper_client, pending_order, body):
    payment = start(shopper_client, pending_order, "demo")

    response = shopper_client.post(complete_url(payment.pk), body, format="json")

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["outcome"]


def test_the_demo_endpoint_needs_a_signed_in_shopper(api_client):
    assert api_client.post(complete_url(1), {"outcome": "succeeded"}, format="json").status_code == 401


@pytest.mark.django_db(transaction=True)
def test_a_demo_payment_of_an_expired_order_is_a_late_payment_refunded_at_once(shopper, tshirt, make_payment, complete):
    order = order_build(user=shopper, lines=[(tshirt, 1)], status=OrderStatus.EXPIRED)
    payment = make_payment(order, provider="demo")

    response = complete(payment, "succeeded")

    payment.refresh_from_db()
    order.refresh_from_db()
    assert response.status_code == 200
    assert order.status == OrderStatus.EXPIRED
    assert order.needs_attention is True
    assert payment.status == PaymentStatus.CAPTURED
    assert payment.refunded_amount == payment.captured_amount == payment.amount
