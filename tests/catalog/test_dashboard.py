"""The catalog's dashboard card: live and out-of-stock products, per merchant scope, in one query."""

from datetime import UTC, date, datetime

import pytest

from commerce.catalog.dashboard import products_card
from commerce.catalog.models import MerchantStatus, ProductStatus
from commerce.core.dashboard import CardContext, Figure, period_ending
from tests.catalog.conftest import build_product
from tests.catalog.factories import MerchantFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


def _context(scope):
    return CardContext(scope=scope, period=period_ending(days=30, today=date(2026, 3, 15)), now=NOW)


@pytest.fixture
def merchants():
    acme = MerchantFactory(slug="acme")
    globex = MerchantFactory(slug="globex")
    closed = MerchantFactory(slug="closed", status=MerchantStatus.SUSPENDED)
    build_product(merchant=acme)  # live, in stock
    build_product(merchant=acme, stock=0)  # live, out of stock
    build_product(merchant=acme, stock=3, allocated=3)  # live, everything allocated: out of stock
    build_product(merchant=acme, status=ProductStatus.DRAFT, stock=0)  # not live
    build_product(merchant=acme, status=ProductStatus.ARCHIVED)  # not live
    build_product(merchant=globex, stock=0)  # live, out of stock
    build_product(merchant=closed)  # active product of a suspended merchant: not live
    return acme, globex, closed


def test_products_card_counts_everything_for_an_unscoped_user(merchants, django_assert_num_queries):
    with django_assert_num_queries(1):
        data = products_card(_context(None))
    assert data.figures == (Figure(label="Live", value=4), Figure(label="Out of stock", value=3))
    assert data.chart is None
    assert data.table is None


def test_products_card_counts_only_the_merchants_in_scope(merchants, django_assert_num_queries):
    acme, globex, closed = merchants
    with django_assert_num_queries(1):
        data = products_card(_context(frozenset({acme.pk})))
    assert data.figures == (Figure(label="Live", value=3), Figure(label="Out of stock", value=2))
    assert products_card(_context(frozenset({globex.pk, closed.pk}))).figures == (
        Figure(label="Live", value=1),
        Figure(label="Out of stock", value=1),
    )


def test_products_card_of_a_scope_without_merchants_is_zero(merchants):
    assert products_card(_context(frozenset())).figures == (
        Figure(label="Live", value=0),
        Figure(label="Out of stock", value=0),
    )
