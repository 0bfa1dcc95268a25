"""Cart pricing (commerce.orders.pricing): totals, tax contained in prices, shipping, the order builder."""

from decimal import Decimal

import pytest

from commerce.orders.models import Cart, CartLine, CategoryTaxRate, MerchantShipping, OrderStatus
from commerce.orders.pricing import cart_quote
from tests.catalog.factories import CategoryFactory
from tests.factories import UserFactory
from tests.offers.factories import OfferFactory
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


# --- edges: rounding, zero prices, shares, thresholds -----------------------------------------------------------


def test_a_line_tax_of_exactly_half_a_paisa_rounds_up(shopper, merchant, make_variant):
    """0.42 at 12% holds 0.045 of tax: half up gives 0.05 (banker's rounding would give 0.04)."""
    twelve = CategoryFactory(name="Twelve", slug="twelve")
    CategoryTaxRate.objects.create(category=twelve, rate=Decimal("12.00"))
    sweet = make_variant(sku="SWEET", price="0.42", category=twelve)

    quote = cart_quote(cart=_cart(shopper, merchant, (sweet, 1)), user=shopper)

    assert quote.lines[0].tax == Decimal("0.05")


def test_tax_is_rounded_once_per_line_not_on_the_sum(shopper, merchant, make_variant):
    """Three lines of 1.00 at 18% hold 0.1525... each: 0.15 three times, 0.45 (not round(0.4576) = 0.46)."""
    lines = [(make_variant(sku=f"CHEAP-{n}", price="1.00"), 1) for n in range(3)]
    quote = cart_quote(cart=_cart(shopper, merchant, *lines), user=shopper)

    assert [line.tax for line in quote.lines] == [Decimal("0.15")] * 3
    assert quote.tax == Decimal("0.45") + quote.shipping_tax


def test_a_child_category_without_a_rate_uses_its_parents_then_the_default(shopper, merchant, make_variant):
    books = CategoryFactory(name="Books", slug="books")
    CategoryTaxRate.objects.create(category=books, rate=Decimal("5.00"))
    comics = CategoryFactory(name="Comics", slug="comics", parent=books)
    comic = make_variant(sku="COMIC", price="210.00", category=comics)
    other = make_variant(sku="OTHER", price="118.00")

    quote = cart_quote(cart=_cart(shopper, merchant, (comic, 1), (other, 1)), user=shopper)

    assert [(line.tax_rate, line.tax) for line in quote.lines] == [
        (Decimal("5.00"), Decimal("10.00")),
        (Decimal("18.00"), Decimal("18.00")),
    ]


def test_a_fixed_coupon_is_shared_to_the_paisa_and_adds_up(shopper, merchant, make_variant):
    OfferFactory(merchant=merchant, code="HUNDRED", discount_type="fixed", discount_value=Decimal("100.00"))
    lines = [(make_variant(sku=f"ITEM-{n}", price="100.00"), 1) for n in range(3)]
    cart = _cart(shopper, merchant, *lines)
    cart.coupon_code = "HUNDRED"

    quote = cart_quote(cart=cart, user=shopper)

    assert [line.discount for line in quote.lines] == [Decimal("33.34"), Decimal("33.33"), Decimal("33.33")]
    assert [line.tax for line in quote.lines] == [Decimal("10.17"), Decimal("10.17"), Decimal("10.17")]
    assert (quote.discount, quote.shipping, quote.total) == (Decimal("100.00"), Decimal("49.00"), Decimal("249.00"))


def test_the_free_shipping_threshold_looks_at_the_amount_after_the_coupon(shopper, merchant, make_variant):
    OfferFactory(merchant=merchant, code="FIFTY", discount_type="fixed", discount_value=Decimal("50.00"))
    cart = _cart(shopper, merchant, (make_variant(sku="JACKET", price="520.00"), 1))
    assert cart_quote(cart=cart, user=shopper).shipping == Decimal("0.00")

    cart.coupon_code = "FIFTY"
    quote = cart_quote(cart=cart, user=shopper)

    assert (quote.discount, quote.shipping, quote.total) == (Decimal("50.00"), Decimal("49.00"), Decimal("519.00"))


def test_a_zero_price_line_is_bought_takes_no_share_and_no_tax(shopper, merchant, make_variant):
    OfferFactory(merchant=merchant, code="TEN", discount_value=Decimal("10.00"))
    gift = make_variant(sku="GIFT", price="0.00")
    shirt = make_variant(sku="SHIRT", price="600.00")
    cart = _cart(shopper, merchant, (gift, 1), (shirt, 1))
    cart.coupon_code = "TEN"

    quote = cart_quote(cart=cart, user=shopper)

    assert [(line.buyable, line.line_total, line.discount, line.tax) for line in quote.lines] == [
        (True, Decimal("0.00"), Decimal("0.00"), Decimal("0.00")),
        (True, Decimal("600.00"), Decimal("60.00"), Decimal("82.37")),
    ]
    assert (quote.subtotal, quote.total, quote.warnings) == (Decimal("600.00"), Decimal("540.00"), [])


def test_a_cart_of_free_items_drops_its_coupon_and_pays_only_shipping(shopper, merchant, make_variant):
    OfferFactory(merchant=merchant, code="TEN")
    cart = _cart(shopper, merchant, (make_variant(sku="GIFT", price="0.00"), 2))
    cart.coupon_code = "TEN"

    quote = cart_quote(cart=cart, user=shopper)

    assert (quote.coupon, quote.coupon_dropped, quote.subtotal, quote.total) == (
        None,
        True,
        Decimal("0.00"),
        Decimal("49.00"),
    )
    assert quote.warnings == [
        {
            "code": "coupon_removed",
            "coupon": "TEN",
            "reason": "coupon_not_applicable",
            "detail": "This coupon does not apply to anything in your cart.",
        }
    ]


def test_a_line_in_another_currency_is_flagged_and_left_out(shopper, merchant, make_variant):
    shirt = make_variant(sku="SHIRT", price="600.00")
    dollar = make_variant(sku="DOLLAR", price="10.00")
    dollar.currency = "USD"
    dollar.save(update_fields=["currency"])

    quote = cart_quote(cart=_cart(shopper, merchant, (shirt, 1), (dollar, 1)), user=shopper)

    assert [(line.variant.sku, line.buyable) for line in quote.lines] == [("SHIRT", True), ("DOLLAR", False)]
    assert quote.subtotal == Decimal("600.00")
    assert [w["code"] for w in quote.warnings] == ["line_unavailable"]


def test_the_fingerprint_follows_prices_quantities_and_the_coupon_only(shopper, merchant, make_variant):
    shirt = make_variant(sku="SHIRT", price="600.00")
    cart = _cart(shopper, merchant, (shirt, 1))
    seen = cart_quote(cart=cart, user=shopper).fingerprint()
    assert cart_quote(cart=cart, user=shopper).fingerprint() == seen

    CartLine.objects.filter(cart=cart).update(quantity=2)
    assert cart_quote(cart=cart, user=shopper).fingerprint() != seen
    CartLine.objects.filter(cart=cart).update(quantity=1)
    shirt.price = Decimal("599.00")
    shirt.save(update_fields=["price"])
    assert cart_quote(cart=cart, user=shopper).fingerprint() != seen
    shirt.price = Decimal("600.00")
    shirt.save(update_fields=["price"])
    assert cart_quote(cart=cart, user=shopper).fingerprint() == seen
    shirt.stock_on_hand = 3  # stock is flagged, not agreed to: it does not change what the shopper pays
    shirt.save(update_fields=["stock_on_hand"])
    assert cart_quote(cart=cart, user=shopper).fingerprint() == seen


def test_an_empty_cart_costs_nothing_and_reads_nothing(shopper, django_assert_num_queries):
    with django_assert_num_queries(0):
        quote = cart_quote(cart=Cart(user=shopper), user=shopper, lines=[])
    assert (quote.subtotal, quote.shipping, quote.tax, quote.total, quote.currency) == (
        Decimal("0.00"),
        Decimal("0.00"),
        Decimal("0.00"),
        Decimal("0.00"),
        "INR",
    )
