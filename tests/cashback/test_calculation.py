"""The cashback calculation: the rate (offer or merchant default), the base (lines after discounts, no shipping),
one rounding on the total, the platform and merchant caps, and currencies the wallet does not hold."""

from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured

from cashback.models import MerchantCashback
from cashback.services.calculation import (
    cashback_quote_order,
    cashback_quote_sale,
    cashback_rate_for,
)
from commerce.orders.models import Order, OrderLine
from tests.offers.factories import OfferFactory

pytestmark = pytest.mark.django_db


def _with_offer(order, offer):
    Order.objects.filter(pk=order.pk).update(offer=offer)
    return Order.objects.get(pk=order.pk)


def _discount_lines(order, *discounts: str):
    for line, discount in zip(order.lines.order_by("pk"), discounts, strict=True):
        OrderLine.objects.filter(pk=line.pk).update(discount=Decimal(discount))
    return Order.objects.get(pk=order.pk)


def test_rate_is_the_offers_when_it_has_one(merchant):
    offer = OfferFactory(merchant=merchant, cashback_rate=Decimal("12.50"))

    assert cashback_rate_for(merchant=merchant, offer=offer) == Decimal("12.50")


def test_rate_is_the_merchant_default_without_an_offer_rate(merchant):
    offer = OfferFactory(merchant=merchant, cashback_rate=None)

    assert cashback_rate_for(merchant=merchant, offer=offer) == Decimal("5.00")
    assert cashback_rate_for(merchant=merchant, offer=None) == Decimal("5.00")


def test_order_at_the_merchant_default_rate(paid_order, tshirt):
    order = paid_order(lines=[(tshirt, 2)])  # 998.00

    quote = cashback_quote_order(order=order, terms=None)

    assert quote.base_amount == Decimal("998.00")
    assert quote.rate == Decimal("5.00")
    assert quote.amount == Decimal("49.90")
    assert quote.currency == "INR"
    assert quote.offer_id is None
    assert quote.capped_by == ""


def test_order_with_an_offer_uses_its_rate(paid_order, tshirt, merchant):
    offer = OfferFactory(merchant=merchant, cashback_rate=Decimal("10.00"))
    order = _with_offer(paid_order(lines=[(tshirt, 2)]), offer)

    quote = cashback_quote_order(order=order, terms=None)

    assert quote.rate == Decimal("10.00")
    assert quote.amount == Decimal("99.80")
    assert quote.offer_id == offer.pk


def test_order_with_an_offer_without_a_rate_uses_the_merchant_default(paid_order, tshirt, merchant):
    offer = OfferFactory(merchant=merchant, cashback_rate=None)
    order = _with_offer(paid_order(lines=[(tshirt, 2)]), offer)

    quote = cashback_quote_order(order=order, terms=None)

    assert quote.rate == Decimal("5.00")
    assert quote.amount == Decimal("49.90")
    assert quote.offer_id == offer.pk


def test_discounts_lower_the_base(paid_order, tshirt, make_variant):
    cap = make_variant(sku="CAP", price="200.00")
    order = _discount_lines(paid_order(lines=[(tshirt, 2), (cap, 1)]), "99.80", "20.00")

    quote = cashback_quote_order(order=order, terms=None)

    assert quote.base_amount == Decimal("1078.20")  # 998.00 - 99.80 + 200.00 - 20.00
    assert quote.amount == Decimal("53.91")


def test_shipping_is_not_part_of_the_base(paid_order, tshirt):
    order = paid_order(lines=[(tshirt, 1)], shipping="49.00")

    quote = cashback_quote_order(order=order, terms=None)

    assert order.total == Decimal("548.00")
    assert quote.base_amount == Decimal("499.00")
    assert quote.amount == Decimal("24.95")


def test_rounding_is_applied_once_to_the_total(paid_order, make_variant):
    # Each line at 5 % is 1.6665 -> 1.67 rounded alone (5.01 for three); on the total 4.9995 -> 5.00.
    lines = [(make_variant(sku=f"PEN-{n}", price="33.33"), 1) for n in range(3)]
    order = paid_order(lines=lines)

    quote = cashback_quote_order(order=order, terms=None)

    assert quote.base_amount == Decimal("99.99")
    assert quote.amount == Decimal("5.00")


def test_half_a_paisa_rounds_up(paid_order, make_variant, merchant):
    order = paid_order(lines=[(make_variant(sku="GUM", price="10.10"), 1)])  # 5 % = 0.505

    assert cashback_quote_order(order=order, terms=None).amount == Decimal("0.51")


def test_platform_cap(paid_order, tshirt, settings):
    settings.CASHBACK_MAX_PER_ORDER = "30.00"

    quote = cashback_quote_order(order=paid_order(lines=[(tshirt, 2)]), terms=None)

    assert quote.amount == Decimal("30.00")
    assert quote.capped_by == "platform"


def test_merchant_cap_lower_than_the_platforms(paid_order, tshirt, merchant, settings):
    settings.CASHBACK_MAX_PER_ORDER = "30.00"
    terms = MerchantCashback.objects.create(merchant=merchant, max_cashback_per_order=Decimal("20.00"))

    quote = cashback_quote_order(order=paid_order(lines=[(tshirt, 2)]), terms=terms)

    assert quote.amount == Decimal("20.00")
    assert quote.capped_by == "merchant"


def test_platform_cap_lower_than_the_merchants(paid_order, tshirt, merchant, settings):
    settings.CASHBACK_MAX_PER_ORDER = "25.00"
    terms = MerchantCashback.objects.create(merchant=merchant, max_cashback_per_order=Decimal("40.00"))

    quote = cashback_quote_order(order=paid_order(lines=[(tshirt, 2)]), terms=terms)

    assert quote.amount == Decimal("25.00")
    assert quote.capped_by == "platform"


def test_caps_that_do_not_bite_name_nothing(paid_order, tshirt, merchant, settings):
    settings.CASHBACK_MAX_PER_ORDER = "100.00"
    terms = MerchantCashback.objects.create(merchant=merchant, max_cashback_per_order=Decimal("49.90"))

    quote = cashback_quote_order(order=paid_order(lines=[(tshirt, 2)]), terms=terms)

    assert quote.amount == Decimal("49.90")
    assert quote.capped_by == ""


def test_a_bad_platform_cap_is_a_configuration_error(paid_order, tshirt, settings):
    settings.CASHBACK_MAX_PER_ORDER = "lots"

    with pytest.raises(ImproperlyConfigured):
        cashback_quote_order(order=paid_order(lines=[(tshirt, 1)]), terms=None)


def test_other_currencies_earn_nothing(paid_order, tshirt, settings):
    order = paid_order(lines=[(tshirt, 2)])
    settings.DEFAULT_CURRENCY = "USD"

    quote = cashback_quote_order(order=order, terms=None)

    assert quote.base_amount == Decimal("998.00")
    assert quote.amount == Decimal("0.00")


def test_sale_quote_uses_the_sale_amount_and_caps():
    terms = MerchantCashback(max_cashback_per_order=Decimal("100.00"))

    quote = cashback_quote_sale(
        sale_amount=Decimal("2500.00"), currency="inr", rate=Decimal("8.00"), offer_id=7, terms=terms
    )

    assert quote.base_amount == Decimal("2500.00")
    assert quote.amount == Decimal("100.00")
    assert quote.currency == "INR"
    assert quote.offer_id == 7
    assert quote.capped_by == "merchant"


def test_a_hundred_per_cent_never_exceeds_the_base():
    quote = cashback_quote_sale(
        sale_amount=Decimal("10.01"), currency="INR", rate=Decimal("100.00"), offer_id=None, terms=None
    )

    assert quote.amount == Decimal("10.01")


@pytest.mark.parametrize("rate", ["-1", "100.01"])
def test_a_rate_outside_0_to_100_is_refused(rate):
    with pytest.raises(ValueError, match="percentage"):
        cashback_quote_sale(sale_amount=Decimal("10.00"), currency="INR", rate=Decimal(rate), offer_id=None, terms=None)
