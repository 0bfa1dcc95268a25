"""Catalog test fixtures: building products with variants, and role users (``admin_login`` is in tests/conftest.py)."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group

from accounts.roles import CATALOG_MANAGER, MERCHANT_STAFF
from tests.catalog.factories import (
    MerchantMembershipFactory,
    ProductFactory,
    ProductImageFactory,
    ProductVariantFactory,
)
from tests.factories import StaffFactory


def build_product(*, prices=("499.00",), stock=10, allocated=0, image=True, **fields):
    """A product with one variant per price (``stock`` on hand each) and, by default, one image."""
    product = ProductFactory(**fields)
    for price in prices:
        ProductVariantFactory(product=product, price=Decimal(price), stock_on_hand=stock, stock_allocated=allocated)
    if image:
        ProductImageFactory(product=product)
    product.refresh_from_db()
    return product


@pytest.fixture
def make_product():
    return build_product


def _staff_in(role: str, **fields):
    user = StaffFactory(**fields)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def merchant_staff_user():
    """Returns ``make(merchant)``: a staff user in the merchant_staff role, member of ``merchant``."""

    def make(merchant, **fields):
        user = _staff_in(MERCHANT_STAFF, **fields)
        MerchantMembershipFactory(merchant=merchant, user=user)
        return user

    return make


@pytest.fixture
def catalog_manager_user(db):
    return _staff_in(CATALOG_MANAGER)
