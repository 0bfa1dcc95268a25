"""The adjustment extension point (commerce.orders.adjustments) as the cart sees it, with a fake provider.

The provider is registered for each test and unregistered after it. Checkout's ``apply`` side is tested with the
checkout.
"""

from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from commerce.orders.adjustments import (
    AdjustmentQuote,
    adjustment_providers,
    register_adjustment_provider,
    unregister_adjustment_provider,
)
from commerce.orders.models import Cart, CartLine, CategoryTaxRate, MerchantShipping
from commerce.orders.pricing import cart_quote
from tests.catalog.factories import CategoryFactory
from tests.offers.factories import OfferFactory

pytestmark = pytest.mark.django_db


@dataclass
class FakePoints:
    """Offers ``amount`` off every cart (None: nothing), and remembers the amounts due it was asked about."""

    source: str = "fake_points"
    amount: Decimal | None = Decimal("100.00")
    label: str = "Points redeemed"
    asked: list[Decimal] = field(default_factory=list)

    def quote(self, *, cart, amount_due, currency):
        self.asked.append(amount_due)
        if self.amount is None:
            return None
        return AdjustmentQuote(source=self.source, label=self.label, amount=self.amount, data={"points": 1000})

    def apply(self, *, order, quote):
        raise AssertionError("A cart never applies an adjustment; checkout does.")


@pytest.fixture
def points():
    provider = FakePoints()
    register_adjustment_provider(provider)
    yield provider
    unregister_adjustment_provider(provider.source)


@pytest.fixture
def second_provider():
    provider = FakePoints(source="fake_wallet", amount=Decimal("50.00"), label="Wallet")
    register_adjustment_provider(provider)
    yield provider
    unregister_adjustment_provider(provider.source)


@pytest.fixture
def cart_of(shopper, merchant):
    def build(*lines, coupon_code=""):
        cart = Cart.objects.create(user=shopper, merchant=merchant, coupon_code=coupon_code)
        for variant, quantity in lines:
            CartLine.objects.create(cart=cart, variant=variant, quantity=quantity)
        return cart

    return build


@pytest.fixture
def shirt_and_books(make_variant):
    books = CategoryFactory(name="Books", slug="books")
    CategoryTaxRate.objects.create(category=books, rate=Decimal("5.00"))
    return make_variant(sku="SHIRT", price="499.00"), make_variant(sku="BOOK", price="105.00", category=books)


def test_the_provider_is_registered_for_the_test_only(points):
    assert [provider.source for provider in adjustment_providers()].count("fake_points") == 1


def test_an_adjustment_lowers_the_total_and_is_shared_across_lines_with_their_tax(
    points, shopper, cart_of, shirt_and_books
):
    shirt, book = shirt_and_books
    quote = cart_quote(cart=cart_of((shirt, 1), (book, 2)), user=shopper)

    assert points.asked == [Decimal("709.00")]
    assert quote.adjustments == [
        AdjustmentQuote(source="fake_points", label="Points redeemed", amount=Decimal("100.00"), data={"points": 1000})
    ]
    assert (quote.subtotal, quote.discount, quote.adjustments_total) == (
        Decimal("709.00"),
        Decimal("0.00"),
        Decimal("100.00"),
    )
    # 100.00 split 499 : 210 in paise, the leftover paisa to the larger remainder.
    assert [line.discount for line in quote.lines] == [Decimal("70.38"), Decimal("29.62")]
    # Tax on what is paid per line: 428.62 * 18/118 and 180.38 * 5/105.
    assert [line.tax for line in quote.lines] == [Decimal("65.38"), Decimal("8.59")]
    # Shipping stays free: the threshold looks at the price after the coupon, not at points spent on it.
    assert (quote.shipping, quote.tax, quote.total) == (Decimal("0.00"), Decimal("73.97"), Decimal("609.00"))


def test_an_adjustment_is_asked_after_the_coupon_and_shared_on_what_remains(
    points, shopper, merchant, cart_of, shirt_and_books
):
    shirt, book = shirt_and_books
    OfferFactory(
        merchant=merchant,
        code="SHIRT50",
        discount_type="fixed",
        discount_value=Decimal("50.00"),
        applies_to="products",
        products=[shirt.product],
    )
    quote = cart_quote(cart=cart_of((shirt, 1), (book, 2), coupon_code="SHIRT50"), user=shopper)

    assert points.asked == [Decimal("659.00")]
    assert (quote.discount, quote.adjustments_total, quote.total) == (
        Decimal("50.00"),
        Decimal("100.00"),
        Decimal("559.00"),
    )
    # The coupon went to the shirt alone; the points split 449 : 210 of what was left.
    assert [line.discount for line in quote.lines] == [Decimal("50.00") + Decimal("68.13"), Decimal("31.87")]
    assert sum((line.net_total for line in quote.lines), Decimal("0")) == Decimal("559.00")


def test_an_adjustment_is_clamped_to_the_amount_due_and_never_touches_shipping(
    points, shopper, merchant, cart_of, make_variant
):
    MerchantShipping.objects.create(merchant=merchant, flat_fee=Decimal("40.00"), free_shipping_threshold=None)
    mug, cap = make_variant(sku="MUG", price="120.00"), make_variant(sku="CAP", price="80.50")
    points.amount = Decimal("5000.00")

    quote = cart_quote(cart=cart_of((mug, 1), (cap, 1)), user=shopper)

    assert quote.adjustments[0].amount == Decimal("200.50")
    assert [line.discount for line in quote.lines] == [Decimal("120.00"), Decimal("80.50")]
    assert [line.tax for line in quote.lines] == [Decimal("0.00"), Decimal("0.00")]
    assert (quote.shipping, quote.tax, quote.total) == (Decimal("40.00"), Decimal("6.10"), Decimal("40.00"))


def test_a_second_provider_is_asked_what_the_first_left_and_stops_at_zero(
    points, second_provider, shopper, cart_of, make_variant
):
    mug = make_variant(sku="MUG", price="120.00")
    cart = cart_of((mug, 1))

    quote = cart_quote(cart=cart, user=shopper)
    assert [(a.source, a.amount) for a in quote.adjustments] == [
        ("fake_points", Decimal("100.00")),
        ("fake_wallet", Decimal("20.00")),
    ]
    assert second_provider.asked == [Decimal("20.00")]

    points.amount = Decimal("120.00")
    quote = cart_quote(cart=cart, user=shopper)
    assert [a.source for a in quote.adjustments] == ["fake_points"]
    assert second_provider.asked == [Decimal("20.00")]  # nothing was due any more: not asked


@pytest.mark.parametrize("offered", [None, Decimal("0.00"), Decimal("-5.00"), Decimal("0.004")])
def test_nothing_or_a_non_positive_offer_adds_no_adjustment(points, shopper, cart_of, make_variant, offered):
    points.amount = offered
    quote = cart_quote(cart=cart_of((make_variant(sku="MUG", price="120.00"), 1)), user=shopper)

    assert (quote.adjustments, quote.adjustments_total, quote.total) == ([], Decimal("0.00"), Decimal("169.00"))


def test_an_offer_is_rounded_half_up_to_the_currency(points, shopper, cart_of, make_variant):
    points.amount = Decimal("10.005")
    quote = cart_quote(cart=cart_of((make_variant(sku="MUG", price="120.00"), 1)), user=shopper)
    assert quote.adjustments_total == Decimal("10.01")


def test_an_adjustment_changes_what_checkout_compares(points, shopper, cart_of, make_variant):
    cart = cart_of((make_variant(sku="MUG", price="120.00"), 1))
    before = cart_quote(cart=cart, user=shopper).fingerprint()
    points.amount = Decimal("60.00")
    assert cart_quote(cart=cart, user=shopper).fingerprint() != before


def test_registering_a_source_again_replaces_its_provider(points):
    replacement = FakePoints(amount=Decimal("1.00"))
    register_adjustment_provider(replacement)
    assert [p for p in adjustment_providers() if p.source == "fake_points"] == [replacement]
    unregister_adjustment_provider("fake_points")
    assert "fake_points" not in [p.source for p in adjustment_providers()]


def test_the_cart_api_lists_adjustments_and_takes_them_off_the_total(points, shopper_client, make_variant):
    make_variant(sku="MUG", price="120.00")
    shopper_client.post("/api/v1/cart/lines", {"sku": "MUG", "quantity": 1}, format="json")

    body = shopper_client.get("/api/v1/cart").json()

    money = lambda amount: {"amount": amount, "currency": "INR"}  # noqa: E731
    assert body["adjustments"] == [{"source": "fake_points", "label": "Points redeemed", "amount": money("100.00")}]
    assert (body["subtotal"], body["discount"], body["shipping"], body["total"]) == (
        money("120.00"),
        money("0.00"),
        money("49.00"),
        money("69.00"),
    )
