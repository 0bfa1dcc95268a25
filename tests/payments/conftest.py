"""Payments fixtures, for every payments test: a shopper with a pending order, fake provider keys, payments.

* ``shopper`` / ``shopper_client``: a signed-in shopper; ``other_client``: another one.
* ``tshirt``: a public variant (499.00 INR, 10 on hand); ``pending_order``: the shopper's order of two of them
  (998.00 INR, ``pending_payment``, 2 units allocated), built with ``tests.orders.factories.order_build``.
* ``payment_keys``: settings with fake Stripe and Razorpay keys (both enabled; no API base, so nothing leaves
  the process unless a test fakes the transport); the demo gateway stays on, as in the embedded default.
* ``stripe_http`` / ``razorpay_fake``: the fake transports of ``stripe_fakes`` / ``razorpay_fakes``, with keys.
* ``make_payment(order, provider="demo", **fields)``: a payment row written directly (``provider_order_id``
  defaults to a unique ``<provider>_po_<n>``), for tests of applying events, refunds and webhooks.
"""

import itertools
import uuid
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from payments.models import Payment
from tests.catalog.factories import CategoryFactory, MerchantFactory, ProductFactory, ProductVariantFactory
from tests.factories import UserFactory
from tests.orders.factories import order_build
from tests.payments.razorpay_fakes import razorpay_fake  # noqa: F401 (a fixture, for every payments test)
from tests.payments.stripe_fakes import stripe_http  # noqa: F401 (a fixture, for every payments test)

FAKE_KEYS = {
    "STRIPE_SECRET_KEY": "sk_test_51Fake",
    "STRIPE_WEBHOOK_SECRET": "whsec_test_fake",
    "RAZORPAY_KEY_ID": "rzp_test_fake",
    "RAZORPAY_KEY_SECRET": "rzp_test_secret_fake",
    "RAZORPAY_WEBHOOK_SECRET": "rzp_webhook_secret_fake",
}

_ids = itertools.count(1)


@pytest.fixture
def shopper(db):
    return UserFactory(email="shopper@example.com", phone="+919812345678")


@pytest.fixture
def shopper_client(shopper) -> APIClient:
    client = APIClient()
    client.force_authenticate(shopper)
    return client


@pytest.fixture
def other_client(db) -> APIClient:
    client = APIClient()
    client.force_authenticate(UserFactory(email="someone.else@example.com"))
    return client


@pytest.fixture
def tshirt(db):
    merchant = MerchantFactory(name="Threads", slug="threads")
    product = ProductFactory(merchant=merchant, category=CategoryFactory(), title="Cotton T-shirt")
    return ProductVariantFactory(product=product, sku="TSHIRT-M", price=Decimal("499.00"), stock_on_hand=10)


@pytest.fixture
def pending_order(shopper, tshirt):
    return order_build(user=shopper, lines=[(tshirt, 2)])


@pytest.fixture
def payment_keys(settings):
    for name, value in FAKE_KEYS.items():
        setattr(settings, name, value)
    settings.STRIPE_API_BASE = ""
    settings.RAZORPAY_API_BASE = ""
    settings.PAYMENTS_DEMO_ENABLED = True
    return settings


@pytest.fixture
def make_payment():
    def build(order, *, provider="demo", **fields) -> Payment:
        values = {
            "order": order,
            "user": order.user,
            "provider": provider,
            "amount": order.total,
            "currency": order.currency,
            "idempotency_key": str(uuid.uuid4()),
            "provider_order_id": f"{provider}_po_{next(_ids)}",
            **fields,
        }
        return Payment.objects.create(**values)

    return build
