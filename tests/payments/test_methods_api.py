"""``GET me/payment-methods`` and ``DELETE me/payment-methods/{id}`` through the API, on the demo gateway (the
embedded default; it keeps no saved methods) and with Stripe switched off or on, so what is listed and what may be
deleted follows the enabled providers. The provider calls themselves are in ``test_methods_stripe.py``."""

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from payments.models import ProviderCustomer, SavedPaymentMethod
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LIST_URL = "/api/v1/me/payment-methods"


def detail_url(pk: int) -> str:
    return f"/api/v1/me/payment-methods/{pk}"


def saved(user, *, provider="stripe", method_id="pm_card_visa", **fields) -> SavedPaymentMethod:
    values = {"method": "card", "brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030, **fields}
    return SavedPaymentMethod.objects.create(user=user, provider=provider, provider_method_id=method_id, **values)


@pytest.fixture
def shopper():
    return UserFactory(email="asha@example.com")


@pytest.fixture
def client(shopper) -> APIClient:
    client = APIClient()
    client.force_authenticate(shopper)
    return client


def test_listing_needs_a_signed_in_shopper(api_client):
    response = api_client.get(LIST_URL)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_deleting_needs_a_signed_in_shopper(api_client, shopper):
    method = saved(shopper, provider="demo", method_id="demo_pm_1")

    response = api_client.delete(detail_url(method.pk))

    assert response.status_code == 401
    assert SavedPaymentMethod.objects.filter(pk=method.pk).exists()


def test_a_shopper_without_saved_methods_gets_an_empty_page(client):
    response = client.get(LIST_URL)

    assert response.status_code == 200
    assert response.json()["count"] == 0
    assert response.json()["results"] == []


@override_settings(STRIPE_SECRET_KEY="", STRIPE_WEBHOOK_SECRET="")
def test_methods_of_a_provider_that_is_not_enabled_are_neither_listed_nor_deletable(client, shopper):
    method = saved(shopper, provider="stripe")

    listed = client.get(LIST_URL)
    deleted = client.delete(detail_url(method.pk))

    assert listed.json()["results"] == []
    assert deleted.status_code == 404
    assert deleted.json() == {"code": "not_found", "detail": "No such payment method."}
    assert SavedPaymentMethod.objects.filter(pk=method.pk).exists()


def test_another_shoppers_method_is_not_found_and_kept(client):
    other = UserFactory()
    method = saved(other, provider="demo", method_id="demo_pm_other")

    response = client.delete(detail_url(method.pk))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert SavedPaymentMethod.objects.filter(pk=method.pk).exists()


def test_an_unknown_method_is_not_found(client):
    response = client.delete(detail_url(999999))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_demo_method_is_deleted_with_204(client, shopper):
    ProviderCustomer.objects.create(user=shopper, provider="demo", customer_id="demo_cus_1")
    method = saved(shopper, provider="demo", method_id="demo_pm_1")

    response = client.delete(detail_url(method.pk))

    assert response.status_code == 204
    assert response.content == b""
    assert not SavedPaymentMethod.objects.filter(pk=method.pk).exists()
