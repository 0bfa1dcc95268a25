"""Cashback fixtures: a shopper with a client, a merchant with a variant, and builders of paid orders and of
wallets with money in them. Shared by every cashback test module."""

from decimal import Decimal

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from cashback.models import Wallet, WalletEntryKind
from cashback.services.wallet import wallet_lock, wallet_post
from commerce.orders.models import OrderStatus
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
    """A merchant with a 5 % default cashback rate."""
    return MerchantFactory(name="Threads", slug="threads", default_cashback_rate=Decimal("5.00"))


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
    """``paid_order(lines=[(variant, qty)], user=..., status="paid", shipping="0.00")``: an order as
    ``order_mark_paid`` leaves it (no domain event sent; call the cashback service yourself)."""

    def build(*, lines=None, user=None, status=OrderStatus.PAID, shipping="0.00", **kwargs):
        return order_build(
            user=user or shopper, lines=lines or [(tshirt, 2)], status=status, shipping=shipping, **kwargs
        )

    return build


def wallet_fund(*, user, amount: str, key: str | None = None) -> Wallet:
    """Put ``amount`` into ``user``'s available balance with a staff-adjustment ledger row (for tests that need
    money in a wallet without going through cashback)."""
    with transaction.atomic():
        wallet = wallet_lock(user_id=user.pk)
        wallet_post(
            wallet=wallet,
            kind=WalletEntryKind.ADJUSTMENT,
            amount=Decimal(amount),
            key=key or f"test-fund:{user.pk}:{Wallet.objects.get(pk=wallet.pk).entries.count()}",
            reason="test funding",
        )
    wallet.refresh_from_db()
    return wallet


@pytest.fixture
def funded_wallet(shopper):
    """``funded_wallet("100.00", user=...)``: the user's wallet with that much available."""

    def build(amount: str = "100.00", *, user=None):
        return wallet_fund(user=user or shopper, amount=amount)

    return build
