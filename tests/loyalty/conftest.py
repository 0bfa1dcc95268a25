"""Loyalty fixtures: a shopper with a client, a merchant with a variant, builders of paid orders, and a helper
that gives a member available points through the ledger service. Shared by every loyalty test module. The default
tiers (bronze 0, silver 1,000, gold 5,000, platinum 15,000) and earning rules (1 point per 10.00; first order 100,
profile completed 50, phone verified 50) come from migration 0003."""

from decimal import Decimal

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from commerce.orders.models import OrderStatus
from loyalty.models import PointsAccount, PointsEntryKind
from tests.catalog.factories import CategoryFactory, MerchantFactory, ProductFactory, ProductVariantFactory
from tests.factories import UserFactory
from tests.orders.factories import order_build


@pytest.fixture
def shopper(db):
    return UserFactory(email="shopper@example.com", phone="+919812345678", full_name="Priya Sharma")


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
    """``make_variant(sku="TSHIRT-M", price="499.00", stock=50, merchant=..., category=...)``: a public variant."""

    def build(*, sku, price="499.00", stock=50, merchant=merchant, category=None, **product_fields):
        product = ProductFactory(merchant=merchant, category=category or CategoryFactory(), **product_fields)
        return ProductVariantFactory(product=product, sku=sku, price=Decimal(price), stock_on_hand=stock)

    return build


@pytest.fixture
def tshirt(make_variant):
    return make_variant(sku="TSHIRT-M", price="499.00")


@pytest.fixture
def paid_order(shopper, tshirt):
    """``paid_order(lines=[(variant, qty)], user=..., status="paid")``: an order as ``order_mark_paid`` leaves it
    (no domain event sent; call the loyalty service yourself)."""

    def build(*, lines=None, user=None, status=OrderStatus.PAID, shipping="0.00", **kwargs):
        return order_build(
            user=user or shopper, lines=lines or [(tshirt, 2)], status=status, shipping=shipping, **kwargs
        )

    return build


def points_fund(*, user, points: int, key: str | None = None) -> PointsAccount:
    """Give ``user`` ``points`` available points with a staff-adjustment ledger row (for tests that need points
    without going through earning)."""
    from loyalty.services.ledger import points_account_lock, points_post

    with transaction.atomic():
        account = points_account_lock(user_id=user.pk)
        points_post(
            account=account,
            kind=PointsEntryKind.ADJUSTMENT,
            points=points,
            key=key or f"test-fund:{user.pk}:{account.entries.count()}",
            reason="test funding",
        )
    account.refresh_from_db()
    return account
