"""Saved payment methods with Stripe: the real ``stripe`` SDK through :class:`payments.gateways.stripe.StripeGateway`,
its HTTP faked at the transport (a :class:`stripe.HTTPClient` installed with the adapter's ``HTTP_CLIENT`` hook), so
each test asserts what would have been sent to Stripe and answers with payloads shaped like Stripe's API reference.
"""

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import stripe
import time_machine
from django.test import override_settings
from rest_framework.test import APIClient

from payments.gateways import stripe as stripe_adapter
from payments.models import ProviderCustomer, SavedPaymentMethod
from payments.services.methods import REFRESH_SECONDS, payment_methods_list, provider_customer_for
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("stripe_on"),
]

NOW = datetime.fromisoformat("2026-03-02T10:00:00+00:00")
LIST_URL = "/api/v1/me/payment-methods"
SECRET_KEY = "sk_test_51Methods"
Answer = tuple[int, dict[str, Any]] | Callable[[], tuple[int, dict[str, Any]]]


class FakeStripe(stripe.HTTPClient):
    """Stripe's API on no network: ``routes[(METHOD, path)]`` answers ``(status, json)``; ``down`` makes every
    request fail to connect. ``sent`` records ``(method, path, query, form, headers)`` of every request."""

    name = "fake"

    def __init__(self) -> None:
        super().__init__()
        self.routes: dict[tuple[str, str], Answer] = {}
        self.sent: list[dict[str, Any]] = []
        self.down = False

    def request(self, method, url, headers, post_data=None, *, _usage=None):
        parts = urlsplit(url)
        self.sent.append(
            {
                "method": method.upper(),
                "path": parts.path,
                "query": parse_qs(parts.query),
                "form": parse_qs(post_data or ""),
                "headers": dict(headers or {}),
            }
        )
        if self.down:
            raise stripe.APIConnectionError("Connection refused")
        answer = self.routes.get((method.upper(), parts.path))
        if answer is None:
            return json.dumps({"error": {"type": "invalid_request_error", "message": "No such route"}}), 404, {}
        status, body = answer() if callable(answer) else answer
        return json.dumps(body), status, {"Request-Id": "req_fake"}

    def request_stream(self, method, url, headers, post_data=None, *, _usage=None):
        raise NotImplementedError("streaming is not used")

    def close(self) -> None:
        return None

    def calls(self) -> list[tuple[str, str]]:
        return [(sent["method"], sent["path"]) for sent in self.sent]


def card(method_id: str, *, customer: str | None = "cus_Asha", brand="visa", last4="4242", month=8, year=2030):
    """A PaymentMethod as Stripe's API reference shows one (``card.fingerprint`` and the rest never stored)."""
    return {
        "id": method_id,
        "object": "payment_method",
        "billing_details": {"email": "asha@example.com", "name": "Asha Rao", "phone": None, "address": {}},
        "card": {
            "brand": brand,
            "checks": {"address_line1_check": None, "cvc_check": "pass"},
            "country": "US",
            "exp_month": month,
            "exp_year": year,
            "fingerprint": "Xt5EWLLDS7FJjR1c",
            "funding": "credit",
            "last4": last4,
            "networks": {"available": [brand], "preferred": None},
        },
        "created": 1700000000,
        "customer": customer,
        "livemode": False,
        "metadata": {},
        "type": "card",
    }


def upi(method_id: str, *, vpa="asha@okhdfc", customer: str | None = "cus_Asha"):
    return {
        "id": method_id,
        "object": "payment_method",
        "created": 1700000100,
        "customer": customer,
        "livemode": False,
        "type": "upi",
        "upi": {"vpa": vpa},
    }


def method_list(customer: str, *methods: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return 200, {
        "object": "list",
        "url": f"/v1/customers/{customer}/payment_methods",
        "has_more": False,
        "data": list(methods),
    }


@pytest.fixture
def fake_stripe(monkeypatch) -> FakeStripe:
    fake = FakeStripe()
    monkeypatch.setattr(stripe_adapter, "HTTP_CLIENT", fake)
    return fake


@pytest.fixture
def stripe_on():
    with override_settings(STRIPE_SECRET_KEY=SECRET_KEY, STRIPE_WEBHOOK_SECRET="whsec_methods", STRIPE_API_BASE=""):
        yield


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def shopper():
    return UserFactory(email="asha@example.com", phone="+919812345678", full_name="Asha Rao")


@pytest.fixture
def customer(shopper) -> ProviderCustomer:
    return ProviderCustomer.objects.create(user=shopper, provider="stripe", customer_id="cus_Asha")


@pytest.fixture
def client(shopper) -> APIClient:
    client = APIClient()
    client.force_authenticate(shopper)
    return client


def stored(user) -> list[tuple]:
    rows = SavedPaymentMethod.objects.filter(user=user).order_by("provider_method_id")
    return list(
        rows.values_list(
            "provider", "provider_method_id", "method", "brand", "last4", "exp_month", "exp_year", "vpa_handle"
        )
    )


# --- customers ------------------------------------------------------------------------------------------------


def test_the_first_customer_is_created_at_stripe_with_the_shoppers_details_and_kept(fake_stripe, shopper):
    fake_stripe.routes[("POST", "/v1/customers")] = (200, {"id": "cus_New1", "object": "customer"})

    first = provider_customer_for(user=shopper, provider="stripe")
    second = provider_customer_for(user=shopper, provider="stripe")

    assert first == second == "cus_New1"
    assert fake_stripe.calls() == [("POST", "/v1/customers")]
    assert fake_stripe.sent[0]["form"] == {
        "email": ["asha@example.com"],
        "phone": ["+919812345678"],
        "name": ["Asha Rao"],
    }
    assert fake_stripe.sent[0]["headers"]["Authorization"] == f"Bearer {SECRET_KEY}"
    assert list(ProviderCustomer.objects.values_list("user_id", "provider", "customer_id")) == [
        (shopper.pk, "stripe", "cus_New1")
    ]


def test_a_stripe_that_is_down_creates_no_customer_row(fake_stripe, shopper):
    fake_stripe.down = True

    with pytest.raises(stripe_adapter.ProviderUnavailable) as raised:
        provider_customer_for(user=shopper, provider="stripe")

    assert raised.value.status == 503
    assert not ProviderCustomer.objects.exists()


def test_a_customer_made_by_a_parallel_request_wins_and_its_id_is_answered(fake_stripe, shopper):
    def created_meanwhile():
        # Another request of the shopper stores its customer while ours is being created at Stripe.
        ProviderCustomer.objects.create(user=shopper, provider="stripe", customer_id="cus_First")
        return 200, {"id": "cus_Second", "object": "customer"}

    fake_stripe.routes[("POST", "/v1/customers")] = created_meanwhile

    assert provider_customer_for(user=shopper, provider="stripe") == "cus_First"
    assert list(ProviderCustomer.objects.values_list("customer_id", flat=True)) == ["cus_First"]


# --- listing --------------------------------------------------------------------------------------------------


def test_listing_reads_stripe_and_stores_only_what_identifies_a_method(fake_stripe, customer, client, shopper, frozen):
    fake_stripe.routes[("GET", "/v1/customers/cus_Asha/payment_methods")] = method_list(
        "cus_Asha", card("pm_Visa"), upi("pm_Upi")
    )

    response = client.get(LIST_URL)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    # Newest first; both were stored by one refresh (same time), so the later row first.
    assert [{k: v for k, v in row.items() if k not in ("id", "created_at")} for row in body["results"]] == [
        {
            "provider": "stripe",
            "method": "upi",
            "brand": "",
            "last4": "",
            "exp_month": None,
            "exp_year": None,
            "vpa_handle": "okhdfc",
        },
        {
            "provider": "stripe",
            "method": "card",
            "brand": "visa",
            "last4": "4242",
            "exp_month": 8,
            "exp_year": 2030,
            "vpa_handle": "",
        },
    ]
    assert body["results"][0]["created_at"] == "2026-03-02T10:00:00Z"
    assert stored(shopper) == [
        ("stripe", "pm_Upi", "upi", "", "", None, None, "okhdfc"),
        ("stripe", "pm_Visa", "card", "visa", "4242", 8, 2030, ""),
    ]
    assert "Xt5EWLLDS7FJjR1c" not in json.dumps(body)
    assert fake_stripe.calls() == [("GET", "/v1/customers/cus_Asha/payment_methods")]
    assert fake_stripe.sent[0]["query"] == {"limit": ["100"]}


def test_a_second_read_within_the_refresh_window_serves_stored_rows_without_calling_stripe(
    fake_stripe, customer, shopper, frozen
):
    fake_stripe.routes[("GET", "/v1/customers/cus_Asha/payment_methods")] = method_list("cus_Asha", card("pm_Visa"))
    list(payment_methods_list(user=shopper))
    frozen.shift(timedelta(seconds=REFRESH_SECONDS - 1))

    listed = list(payment_methods_list(user=shopper))

    assert [row.provider_method_id for row in listed] == ["pm_Visa"]
    assert len(fake_stripe.sent) == 1


def test_after_the_window_a_read_refreshes_adds_updates_and_removes(fake_stripe, customer, shopper, frozen):
    fake_stripe.routes[("GET", "/v1/customers/cus_Asha/payment_methods")] = method_list(
        "cus_Asha", card("pm_Visa"), card("pm_Amex", brand="amex", last4="0005")
    )
    list(payment_methods_list(user=shopper))
    kept_id = SavedPaymentMethod.objects.get(provider_method_id="pm_Visa").pk
    fake_stripe.routes[("GET", "/v1/customers/cus_Asha/payment_methods")] = method_list(
        "cus_Asha", card("pm_Visa", month=9, year=2031), upi("pm_Upi")
    )
    frozen.shift(timedelta(seconds=REFRESH_SECONDS + 1))

    listed = list(payment_methods_list(user=shopper))

    assert len(fake_stripe.sent) == 2
    assert sorted(row.provider_method_id for row in listed) == ["pm_Upi", "pm_Visa"]
    assert stored(shopper) == [
        ("stripe", "pm_Upi", "upi", "", "", None, None, "okhdfc"),
        ("stripe", "pm_Visa", "card", "visa", "4242", 9, 2031, ""),
    ]
    assert SavedPaymentMethod.objects.get(provider_method_id="pm_Visa").pk == kept_id


def test_a_stripe_that_is_down_never_fails_the_read_the_stored_rows_are_served(fake_stripe, customer, client, shopper):
    SavedPaymentMethod.objects.create(
        user=shopper, provider="stripe", provider_method_id="pm_Visa", method="card", brand="visa", last4="4242"
    )
    fake_stripe.down = True

    response = client.get(LIST_URL)

    assert response.status_code == 200
    assert [(row["brand"], row["last4"]) for row in response.json()["results"]] == [("visa", "4242")]
    assert fake_stripe.calls() == [("GET", "/v1/customers/cus_Asha/payment_methods")]


def test_a_method_stripe_lists_that_another_shopper_holds_is_not_taken_over(fake_stripe, customer, shopper):
    other = UserFactory()
    SavedPaymentMethod.objects.create(user=other, provider="stripe", provider_method_id="pm_Theirs", method="card")
    fake_stripe.routes[("GET", "/v1/customers/cus_Asha/payment_methods")] = method_list(
        "cus_Asha", card("pm_Mine"), card("pm_Theirs")
    )

    listed = list(payment_methods_list(user=shopper))

    assert [row.provider_method_id for row in listed] == ["pm_Mine"]
    assert SavedPaymentMethod.objects.get(provider_method_id="pm_Theirs").user == other


def test_a_shopper_without_a_stripe_customer_costs_no_stripe_call(fake_stripe, client):
    response = client.get(LIST_URL)

    assert response.status_code == 200
    assert response.json()["results"] == []
    assert fake_stripe.sent == []


# --- deleting -------------------------------------------------------------------------------------------------


@pytest.fixture
def visa(shopper, customer) -> SavedPaymentMethod:
    return SavedPaymentMethod.objects.create(
        user=shopper, provider="stripe", provider_method_id="pm_Visa", method="card", brand="visa", last4="4242"
    )


def test_deleting_detaches_the_method_at_stripe_then_forgets_it(fake_stripe, visa, client):
    fake_stripe.routes[("GET", "/v1/payment_methods/pm_Visa")] = (200, card("pm_Visa"))
    fake_stripe.routes[("POST", "/v1/payment_methods/pm_Visa/detach")] = (200, card("pm_Visa", customer=None))

    response = client.delete(f"{LIST_URL}/{visa.pk}")

    assert response.status_code == 204
    assert fake_stripe.calls() == [
        ("GET", "/v1/payment_methods/pm_Visa"),
        ("POST", "/v1/payment_methods/pm_Visa/detach"),
    ]
    assert not SavedPaymentMethod.objects.filter(pk=visa.pk).exists()


def test_a_stripe_that_is_down_keeps_the_method_and_answers_503(fake_stripe, visa, client):
    fake_stripe.down = True

    response = client.delete(f"{LIST_URL}/{visa.pk}")

    assert response.status_code == 503
    assert response.json()["code"] == "provider_unavailable"
    assert SavedPaymentMethod.objects.filter(pk=visa.pk).exists()


def test_a_method_already_gone_at_stripe_is_forgotten(fake_stripe, visa, client):
    fake_stripe.routes[("GET", "/v1/payment_methods/pm_Visa")] = (200, card("pm_Visa", customer=None))
    fake_stripe.routes[("GET", "/v1/customers/cus_Asha/payment_methods")] = method_list("cus_Asha")

    response = client.delete(f"{LIST_URL}/{visa.pk}")

    assert response.status_code == 204
    assert ("POST", "/v1/payment_methods/pm_Visa/detach") not in fake_stripe.calls()
    assert not SavedPaymentMethod.objects.filter(pk=visa.pk).exists()


def test_a_refusal_for_a_method_stripe_still_lists_is_a_400_and_the_method_is_kept(fake_stripe, visa, client):
    fake_stripe.routes[("GET", "/v1/payment_methods/pm_Visa")] = (200, card("pm_Visa"))
    fake_stripe.routes[("POST", "/v1/payment_methods/pm_Visa/detach")] = (
        400,
        {"error": {"type": "invalid_request_error", "message": "This PaymentMethod cannot be detached now."}},
    )
    fake_stripe.routes[("GET", "/v1/customers/cus_Asha/payment_methods")] = method_list("cus_Asha", card("pm_Visa"))

    response = client.delete(f"{LIST_URL}/{visa.pk}")

    assert response.status_code == 400
    assert response.json() == {
        "code": "provider_refused",
        "detail": "This PaymentMethod cannot be detached now.",
    }
    assert SavedPaymentMethod.objects.filter(pk=visa.pk).exists()


def test_another_shoppers_stripe_method_is_404_without_calling_stripe(fake_stripe, visa):
    intruder = APIClient()
    intruder.force_authenticate(UserFactory())

    response = intruder.delete(f"{LIST_URL}/{visa.pk}")

    assert response.status_code == 404
    assert fake_stripe.sent == []
    assert SavedPaymentMethod.objects.filter(pk=visa.pk).exists()


def test_a_payment_captured_since_the_last_refresh_makes_the_next_read_refresh_at_once(
    fake_stripe, customer, shopper, frozen, tshirt, make_payment
):
    from tests.orders.factories import order_build

    fake_stripe.routes[("GET", "/v1/customers/cus_Asha/payment_methods")] = method_list("cus_Asha")
    assert list(payment_methods_list(user=shopper)) == []
    # The shopper pays and saves the card (setup_future_usage): Stripe now lists it.
    frozen.shift(timedelta(seconds=30))
    order = order_build(user=shopper, lines=[(tshirt, 1)])
    make_payment(order, provider="stripe", status="captured", captured_amount=order.total)
    fake_stripe.routes[("GET", "/v1/customers/cus_Asha/payment_methods")] = method_list("cus_Asha", card("pm_Saved"))
    frozen.shift(timedelta(seconds=1))

    listed = list(payment_methods_list(user=shopper))
    again = list(payment_methods_list(user=shopper))

    assert [row.provider_method_id for row in listed] == ["pm_Saved"]
    assert [row.provider_method_id for row in again] == ["pm_Saved"]
    assert len(fake_stripe.sent) == 2
