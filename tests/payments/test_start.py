"""Starting a payment: ``payment_start`` / ``POST orders/{number}/payments`` on the demo gateway (Stripe and
Razorpay through their transport fakes are in ``test_start_providers.py``): the answer, reuse of the open
payment, the refusals (401/400/404/409/503) and the query budget."""

import pytest
from django.db import transaction

from commerce.orders.models import OrderStatus
from payments.gateways.base import ProviderRefused, ProviderUnavailable, StartedPayment
from payments.gateways.demo import DemoGateway
from payments.models import Payment, PaymentStatus, ProviderCustomer
from payments.services.payments import payment_open, payment_start
from tests.orders.factories import order_build

pytestmark = pytest.mark.django_db


def url(number: str) -> str:
    return f"/api/v1/orders/{number}/payments"


def test_starting_a_demo_payment_answers_201_with_what_the_client_needs(shopper_client, pending_order):
    response = shopper_client.post(url(pending_order.number), {"provider": "demo"}, format="json")

    payment = Payment.objects.get()
    assert response.status_code == 201
    assert response.json() == {
        "id": payment.pk,
        "provider": "demo",
        "status": "created",
        "amount": {"amount": "998.00", "currency": "INR"},
        "client": {"complete_url": f"/api/v1/payments/demo/{payment.pk}/complete"},
    }
    assert payment.order_id == pending_order.pk
    assert payment.user_id == pending_order.user_id
    assert str(payment.amount) == "998.00"
    assert payment.currency == "INR"
    assert payment.provider_order_id == f"demo_{payment.idempotency_key}"
    assert len(payment.idempotency_key) == 36


def test_a_second_start_with_the_same_provider_reuses_the_open_payment_with_200(shopper_client, pending_order):
    first = shopper_client.post(url(pending_order.number), {"provider": "demo"}, format="json")
    second = shopper_client.post(url(pending_order.number), {"provider": "demo", "save_method": False}, format="json")

    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json() == first.json()
    assert Payment.objects.count() == 1


def test_reuse_does_not_call_the_provider_again(shopper, pending_order, monkeypatch):
    calls = []
    original = DemoGateway.start

    def spy(self, **kwargs):
        calls.append(kwargs["payment"].pk)
        return original(self, **kwargs)

    monkeypatch.setattr(DemoGateway, "start", spy)

    first, created = payment_open(user=shopper, order_number=pending_order.number, provider="demo")
    again, created_again = payment_open(user=shopper, order_number=pending_order.number, provider="demo")

    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert calls == [first.pk]


def test_an_authorised_payment_is_still_the_open_one(shopper, pending_order, make_payment):
    authorised = make_payment(pending_order, status=PaymentStatus.AUTHORIZED)

    assert payment_start(user=shopper, order_number=pending_order.number, provider="demo").pk == authorised.pk


def test_after_a_failed_payment_a_start_opens_a_new_one(shopper, pending_order, make_payment):
    failed = make_payment(pending_order, status=PaymentStatus.FAILED)

    payment, created = payment_open(user=shopper, order_number=pending_order.number, provider="demo")

    assert created is True
    assert payment.pk != failed.pk
    assert payment.idempotency_key != failed.idempotency_key
    assert Payment.objects.filter(order=pending_order).count() == 2


def test_starting_needs_a_signed_in_shopper(api_client, pending_order):
    response = api_client.post(url(pending_order.number), {"provider": "demo"}, format="json")

    assert response.status_code == 401
    assert Payment.objects.count() == 0


def test_another_users_order_is_404_like_an_unknown_number(other_client, shopper_client, pending_order):
    theirs = other_client.post(url(pending_order.number), {"provider": "demo"}, format="json")
    unknown = shopper_client.post(url("ORD-NOPE1"), {"provider": "demo"}, format="json")

    assert theirs.status_code == 404
    assert unknown.status_code == 404
    assert theirs.json() == unknown.json() == {"code": "not_found", "detail": "No such order."}
    assert Payment.objects.count() == 0


@pytest.mark.parametrize("status", [OrderStatus.PAID, OrderStatus.CANCELLED, OrderStatus.EXPIRED])
def test_an_order_that_is_not_waiting_for_payment_is_409(shopper, shopper_client, tshirt, status):
    order = order_build(user=shopper, lines=[(tshirt, 1)], status=status)

    response = shopper_client.post(url(order.number), {"provider": "demo"}, format="json")

    assert response.status_code == 409
    assert response.json() == {
        "code": "invalid_transition",
        "detail": f"Order {order.number} cannot be paid: it is {status}.",
        "from_status": status,
        "to_status": "paid",
    }
    assert Payment.objects.count() == 0


@pytest.mark.parametrize("provider", ["paypal", "stripe", "razorpay", "DEMO", ""])
def test_an_unknown_or_unconfigured_provider_is_400(shopper_client, pending_order, settings, provider):
    settings.STRIPE_SECRET_KEY = ""
    settings.RAZORPAY_KEY_ID = ""

    response = shopper_client.post(url(pending_order.number), {"provider": provider}, format="json")

    assert response.status_code == 400
    body = response.json()
    if provider == "":
        assert body["code"] == "invalid"
        assert body["fields"] == {"provider": ["This field may not be blank."]}
    else:
        assert body["code"] == "provider_unavailable"
        assert body["fields"] == {"provider": ["Choose one of: demo."]}
    assert Payment.objects.count() == 0


def test_the_demo_provider_is_400_when_it_is_off(shopper_client, pending_order, settings):
    settings.PAYMENTS_DEMO_ENABLED = False

    response = shopper_client.post(url(pending_order.number), {"provider": "demo"}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "code": "provider_unavailable",
        "detail": "demo is not available here (available: none).",
        "fields": {"provider": ["Choose one of: none."]},
    }


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "provider"),
        ({"provider": 42}, "provider"),
        ({"provider": ["demo"]}, "provider"),
        ({"provider": "demo" * 10}, "provider"),
        ({"provider": "demo", "save_method": "yes"}, "save_method"),
        ({"provider": "demo", "save_method": 1}, "save_method"),
    ],
)
def test_a_malformed_body_is_400_with_the_field(shopper_client, pending_order, body, field):
    response = shopper_client.post(url(pending_order.number), body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["fields"]) == [field]
    assert Payment.objects.count() == 0


def test_a_provider_that_is_down_is_503_and_the_retry_reuses_the_payment_and_its_key(
    shopper_client, pending_order, monkeypatch
):
    keys = []
    original = DemoGateway.start

    def down(self, *, payment, **kwargs):
        keys.append(payment.idempotency_key)
        raise ProviderUnavailable("Demo provider timed out.")

    monkeypatch.setattr(DemoGateway, "start", down)
    failed = shopper_client.post(url(pending_order.number), {"provider": "demo"}, format="json")

    payment = Payment.objects.get()
    assert failed.status_code == 503
    assert failed.json() == {"code": "provider_unavailable", "detail": "Demo provider timed out."}
    assert payment.status == PaymentStatus.CREATED
    assert payment.provider_order_id == ""
    assert payment.last_error == "Demo provider timed out."

    def up(self, *, payment, **kwargs):
        keys.append(payment.idempotency_key)
        return original(self, payment=payment, **kwargs)

    monkeypatch.setattr(DemoGateway, "start", up)
    retried = shopper_client.post(url(pending_order.number), {"provider": "demo"}, format="json")

    payment.refresh_from_db()
    assert retried.status_code == 200
    assert retried.json()["id"] == payment.pk
    assert keys == [payment.idempotency_key, payment.idempotency_key]
    assert payment.provider_order_id == f"demo_{payment.idempotency_key}"
    assert payment.last_error == ""
    assert Payment.objects.count() == 1


def test_a_provider_refusal_is_400_and_fails_the_payment_so_the_next_start_opens_another(
    shopper_client, pending_order, monkeypatch
):
    def refuse(self, **kwargs):
        raise ProviderRefused("Amount below the provider's minimum.")

    monkeypatch.setattr(DemoGateway, "start", refuse)
    refused = shopper_client.post(url(pending_order.number), {"provider": "demo"}, format="json")

    assert refused.status_code == 400
    assert refused.json() == {"code": "provider_refused", "detail": "Amount below the provider's minimum."}
    failed = Payment.objects.get()
    assert failed.status == PaymentStatus.FAILED
    assert failed.last_error == "Amount below the provider's minimum."

    monkeypatch.undo()
    again = shopper_client.post(url(pending_order.number), {"provider": "demo"}, format="json")

    assert again.status_code == 201
    assert again.json()["id"] != failed.pk


def test_the_provider_is_called_outside_any_transaction(shopper, pending_order, monkeypatch):
    seen = []

    def start(self, *, payment, customer_id="", save_method=False):
        seen.append(transaction.get_connection().in_atomic_block)
        return StartedPayment(provider_order_id="demo_x", client={"complete_url": "/x"})

    monkeypatch.setattr(DemoGateway, "start", start)

    payment_start(user=shopper, order_number=pending_order.number, provider="demo")

    # pytest-django wraps each test in a transaction; the service itself opens none around the call.
    assert seen == [transaction.get_connection().in_atomic_block]
    assert Payment.objects.get().client_data == {"complete_url": "/x"}


def test_save_method_passes_the_shoppers_provider_customer_to_the_gateway(shopper, pending_order, monkeypatch):
    received = []
    original = DemoGateway.start

    def spy(self, *, payment, customer_id="", save_method=False):
        received.append((customer_id, save_method))
        return original(self, payment=payment, customer_id=customer_id, save_method=save_method)

    monkeypatch.setattr(DemoGateway, "start", spy)

    payment_start(user=shopper, order_number=pending_order.number, provider="demo", save_method=True)

    customer = ProviderCustomer.objects.get(user=shopper, provider="demo")
    assert received == [(customer.customer_id, True)]


def test_without_save_method_no_customer_is_made(shopper, pending_order):
    payment_start(user=shopper, order_number=pending_order.number, provider="demo")

    assert ProviderCustomer.objects.count() == 0


def test_the_start_endpoint_has_a_fixed_query_budget(shopper_client, pending_order, django_assert_num_queries):
    with django_assert_num_queries(13):  # order id; lock, open payment, insert; re-lock both, store
        created = shopper_client.post(url(pending_order.number), {"provider": "demo"}, format="json")
    with django_assert_num_queries(5):  # order id; lock, the open payment (already started: no provider call)
        reused = shopper_client.post(url(pending_order.number), {"provider": "demo"}, format="json")

    assert (created.status_code, reused.status_code) == (201, 200)


def test_the_unique_index_is_the_last_guard_against_a_second_open_payment(
    shopper, pending_order, make_payment, monkeypatch
):
    from payments.services import payments as service

    existing = make_payment(pending_order, provider="demo")
    original = service._open_payment
    calls = []

    def miss_once(**kwargs):
        calls.append(1)
        return None if len(calls) == 1 else original(**kwargs)

    monkeypatch.setattr(service, "_open_payment", miss_once)

    payment, created = payment_open(user=shopper, order_number=pending_order.number, provider="demo")

    assert (payment.pk, created) == (existing.pk, False)
    assert Payment.objects.count() == 1
