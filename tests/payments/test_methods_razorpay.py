"""Saved payment methods with Razorpay: the real ``razorpay`` SDK through
:class:`payments.gateways.razorpay.RazorpayGateway`, its ``requests`` session on the in-memory Razorpay of
``tests/payments/razorpay_fakes.py`` (a transport adapter), with tokens shaped like Razorpay's documented ones."""

import pytest
from rest_framework.test import APIClient

from payments.models import ProviderCustomer, SavedPaymentMethod
from payments.services.methods import provider_customer_for
from tests.factories import UserFactory
from tests.payments.razorpay_fakes import KEY_ID, KEY_SECRET

pytestmark = pytest.mark.django_db

LIST_URL = "/api/v1/me/payment-methods"


def card_token(token_id: str, *, last4="1111", network="Visa", month=12, year=2030):
    """A saved-card token (Razorpay API reference, "Fetch Tokens by Customer ID")."""
    return {
        "id": token_id,
        "entity": "token",
        "token": "FHfZ7hXlkw3pLu",
        "bank": None,
        "wallet": None,
        "method": "card",
        "card": {
            "entity": "card",
            "name": "Asha Rao",
            "last4": last4,
            "network": network,
            "type": "debit",
            "issuer": "HDFC",
            "international": False,
            "emi": False,
            "sub_type": "consumer",
            "expiry_month": month,
            "expiry_year": year,
            "flows": {"otp": True, "recurring": True},
        },
        "recurring": False,
        "auth_type": None,
        "mrn": None,
        "used_at": 1767225600,
        "created_at": 1767225600,
        "expired_at": 1924905599,
        "dcc_enabled": False,
    }


def upi_token(token_id: str):
    return {
        "id": token_id,
        "entity": "token",
        "token": "EhYXHrLsJdwRhM",
        "bank": None,
        "wallet": None,
        "method": "upi",
        "vpa": {"username": "asha.rao", "handle": "okhdfcbank", "name": None},
        "recurring": False,
        "used_at": 1767225700,
        "created_at": 1767225700,
        "expired_at": 1924905599,
    }


@pytest.fixture
def shopper(db):
    return UserFactory(email="asha@example.com", phone="+919812345678", full_name="Asha Rao")


@pytest.fixture
def client(shopper) -> APIClient:
    client = APIClient()
    client.force_authenticate(shopper)
    return client


def test_saved_tokens_are_listed_with_only_what_identifies_them_and_deleted_at_razorpay(razorpay_fake, shopper, client):
    customer_id = provider_customer_for(user=shopper, provider="razorpay")
    (created,) = razorpay_fake.posted("/v1/customers")
    assert created.json == {
        "fail_existing": "0",
        "name": "Asha Rao",
        "email": "asha@example.com",
        "contact": "+919812345678",
    }
    assert created.auth == (KEY_ID, KEY_SECRET)
    assert ProviderCustomer.objects.get(user=shopper, provider="razorpay").customer_id == customer_id
    # The shopper saved a card and a UPI id while paying (Razorpay keeps them as tokens of the customer).
    razorpay_fake.add_token(customer_id, card_token("token_Card0001"))
    razorpay_fake.add_token(customer_id, upi_token("token_Upi00001"))

    listed = client.get(LIST_URL)

    assert listed.status_code == 200
    rows = {row["vpa_handle"] or row["last4"]: row for row in listed.json()["results"]}
    assert {
        key: (row["provider"], row["method"], row["brand"], row["exp_month"], row["exp_year"])
        for key, row in rows.items()
    } == {
        "1111": ("razorpay", "card", "Visa", 12, 2030),
        "okhdfcbank": ("razorpay", "upi", "", None, None),
    }
    assert "asha.rao" not in listed.content.decode()
    assert "FHfZ7hXlkw3pLu" not in listed.content.decode()

    deleted = client.delete(f"{LIST_URL}/{rows['1111']['id']}")

    assert deleted.status_code == 204
    assert [(c.method, c.path) for c in razorpay_fake.calls][-1] == (
        "DELETE",
        f"/v1/customers/{customer_id}/tokens/token_Card0001",
    )
    assert list(razorpay_fake.tokens[customer_id]) == ["token_Upi00001"]
    assert list(SavedPaymentMethod.objects.filter(user=shopper).values_list("provider_method_id", flat=True)) == [
        "token_Upi00001"
    ]


def test_a_razorpay_that_is_down_keeps_the_token_and_answers_503(razorpay_fake, shopper, client):
    customer = ProviderCustomer.objects.create(user=shopper, provider="razorpay", customer_id="cust_Down000001")
    razorpay_fake.add_token(customer.customer_id, card_token("token_Card0002"))
    method = SavedPaymentMethod.objects.create(
        user=shopper, provider="razorpay", provider_method_id="token_Card0002", method="card", last4="1111"
    )
    razorpay_fake.fail_next("connection")

    response = client.delete(f"{LIST_URL}/{method.pk}")

    assert response.status_code == 503
    assert response.json()["code"] == "provider_unavailable"
    assert SavedPaymentMethod.objects.filter(pk=method.pk).exists()
    assert list(razorpay_fake.tokens[customer.customer_id]) == ["token_Card0002"]
