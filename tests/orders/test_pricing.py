"""Cart pricing (commerce.orders.pricing): totals, tax contained in prices, shipping, the order builder."""

from decimal import Decimal

import pytest

from commerce.orders.models import Cart, CartLine, CategoryTaxRate, MerchantShipping, OrderStatus
from commerce.orders.pricing import cart_quote
from tests.catalog.factories import CategoryFactory
from tests.factories import UserFactory
from tests.orders.factories import order_build

pytestmark = pytest.mark.django_db


def _cart(shopper, merchant, *lines):
    cart = Cart.objects.create(user=shopper, merchant=merchant)
    for variant, quantity in lines:
        CartLine.objects.create(cart=cart, variant=variant, quantity=quantity)
    return cart


def test_totals_include_tax_at_the_category_rate_and_default_shipping_below_the_threshold(
    shopper, merchant, make_variant
):
    books = CategoryFactory(name="Books", slug="books")
    CategoryTaxRate.objects.create(category=books, rate=Decimal("5.00"))
    book = make_variant(sku="BOOK-1", price="105.00", category=books)
    shirt = make_variant(sku="SHIRT-1", price="118.00")
    quote = cart_quote(cart=_cart(shopper, merchant, (book, 2), (shirt, 1)), user=shopper)

    assert quote.subtotal == Decimal("328.00")
    assert [line.tax for line in quote.lines] == [Decimal("10.00"), Decimal("18.00")]
    assert quote.shipping == Decimal("49.00")
    assert quote.shipping_tax == Decimal("7.47")
    assert quote.tax == Decimal("35.47")
    assert quote.total == Decimal("377.00")
    assert quote.warnings == []


def test_merchant_shipping_is_waived_from_its_threshold(shopper, merchant, make_variant):
    MerchantShipping.objects.create(
        merchant=merchant, flat_fee=Decimal("30.00"), free_shipping_threshold=Decimal("900")
    )
    shirt = make_variant(sku="SHIRT-1", price="450.00")
    assert cart_quote(cart=_cart(shopper, merchant, (shirt, 1)), user=shopper).shipping == Decimal("30.00")
    assert cart_quote(cart=_cart(UserFactory(), merchant, (shirt, 2)), user=None).shipping == Decimal("0.00")


def test_short_and_off_sale_lines_are_flagged_never_dropped(shopper, merchant, make_variant):
    short = make_variant(sku="SHORT", price="100.00", stock=1)
    gone = make_variant(sku="GONE", price="100.00", status="archived")
    quote = cart_quote(cart=_cart(shopper, merchant, (short, 3), (gone, 1)), user=shopper)

    assert [(line.variant.sku, line.available, line.buyable) for line in quote.lines] == [
        ("SHORT", False, True),
        ("GONE", False, False),
    ]
    assert [w["code"] for w in quote.warnings] == ["insufficient_stock", "line_unavailable"]
    assert quote.subtotal == Decimal("300.00")


def test_order_build_allocates_pending_and_deducts_paid_units(shopper, tshirt):
    order_build(user=shopper, lines=[(tshirt, 2)])
    paid = order_build(user=shopper, lines=[(tshirt, 3)], status=OrderStatus.PAID)
    tshirt.refresh_from_db()
    assert (tshirt.stock_on_hand, tshirt.stock_allocated) == (7, 2)
    assert paid.total == Decimal("1497.00") and paid.payment_status == "paid"
