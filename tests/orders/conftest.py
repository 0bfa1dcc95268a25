"""Orders fixtures: a signed-in shopper, public variants with stock. Builders: ``tests/orders/factories.py``."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from tests.catalog.factories import CategoryFactory, MerchantFactory, ProductFactory, ProductVariantFactory
from tests.factories import UserFactory


@pytest.fixture
def shopper(db):
    return UserFactory(email="shopper@example.com", phone="+919812345678")


@pytest.fixture
def shopper_client(shopper) -> APIClient:
    client = APIClient()
    client.force_authenticate(shopper)
    return client


@pytest.fixture
def merchant(db):
    return MerchantFactory(name="Threads", slug="threads")


@pytest.fixture
def make_variant(merchant):
    """``make_variant(sku="TSHIRT-M", price="499.00", stock=10, merchant=..., category=...)``: a public variant."""

    def build(*, sku, price="499.00", stock=10, merchant=merchant, category=None, title=None, **product_fields):
        product = ProductFactory(
            merchant=merchant, category=category or CategoryFactory(), title=title or f"Product {sku}", **product_fields
        )
        return ProductVariantFactory(product=product, sku=sku, price=Decimal(price), stock_on_hand=stock)

    return build


@pytest.fixture
def tshirt(make_variant):
    return make_variant(sku="TSHIRT-M", price="499.00", stock=10, title="Cotton T-shirt")
