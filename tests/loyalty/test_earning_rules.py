"""Earning rules (points_quote_order): the most specific rule per line, campaigns in their window and overlapping,
the tier multiplier, one floor per rule group, the reason, and only the default currency."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import import_module

import pytest
import time_machine

from commerce.orders.models import Order
from loyalty.models import Campaign, EarningRule, Tier
from loyalty.services.earning import points_quote_order
from tests.catalog.factories import CategoryFactory, MerchantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _default_rules(db):
    """The default tiers and earning rules of migration 0003 (a transactional test run before may have flushed
    them)."""
    from django.apps import apps

    import_module("loyalty.migrations.0003_default_tiers_and_rules").create(apps, None)


NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)  # a Saturday


def spend_rule(code, *, per="1.00", unit="10.00", merchant=None, category=None, active=True):
    return EarningRule.objects.create(
        name=code,
        code=code,
        kind="spend",
        points_per_unit=Decimal(per),
        unit_amount=Decimal(unit),
        merchant=merchant,
        category=category,
        is_active=active,
    )


def campaign(name, multiplier, *, merchant=None, category=None, starts=NOW - timedelta(days=1), days=2):
    return Campaign.objects.create(
        name=name,
        multiplier=Decimal(multiplier),
        merchant=merchant,
        category=category,
        starts_at=starts,
        ends_at=starts + timedelta(days=days),
    )


def test_general_rule_floors_the_net_of_the_lines(paid_order):
    order = paid_order()  # 2 x 499.00

    quote = points_quote_order(order=order, tier=None, now=NOW)

    assert quote.points == 99  # floor(998.00 / 10 * 1)
    assert quote.rule_codes == ("spend",)
    assert quote.reason == "1 pt per 10.00: 99.8 pts = 99"


def test_the_net_is_after_line_discounts_and_without_shipping(paid_order):
    order = paid_order(shipping="50.00")
    order.lines.update(discount=Decimal("100.00"))

    assert points_quote_order(order=order, tier=None, now=NOW).points == 89  # floor(898 / 10)


def test_merchant_and_category_rule_beats_category_beats_merchant_beats_general(paid_order, make_variant, merchant):
    shirts = CategoryFactory(name="Shirts")
    mugs = CategoryFactory(name="Mugs")
    socks = CategoryFactory(name="Socks")
    shirt = make_variant(sku="S", price="100.00", category=shirts)
    mug = make_variant(sku="M", price="100.00", category=mugs)
    sock = make_variant(sku="K", price="100.00", category=socks)
    spend_rule("both", per="5", merchant=merchant, category=shirts)
    spend_rule("shirts", per="4", category=shirts)
    spend_rule("mugs", per="3", category=mugs)
    spend_rule("threads", per="2", merchant=merchant)
    order = paid_order(lines=[(shirt, 1), (mug, 1), (sock, 1)])

    quote = points_quote_order(order=order, tier=None, now=NOW)

    # shirt: both (5 per 10 -> 50), mug: mugs (30), sock: the merchant rule (20)
    assert quote.points == 100
    assert quote.rule_codes == ("both", "mugs", "threads")
    assert quote.reason == (
        "5 pts per 10.00 at Threads in Shirts: 50 pts; 3 pts per 10.00 in Mugs: 30 pts; "
        "2 pts per 10.00 at Threads: 20 pts"
    )


def test_a_category_rule_matches_the_parent_but_the_own_category_wins(paid_order, make_variant):
    clothing = CategoryFactory(name="Clothing")
    shirts = CategoryFactory(name="Shirts", parent=clothing)
    hats = CategoryFactory(name="Hats", parent=clothing)
    spend_rule("clothing", per="2", category=clothing)
    spend_rule("shirts", per="3", category=shirts)
    order = paid_order(
        lines=[
            (make_variant(sku="S", price="10.00", category=shirts), 1),
            (make_variant(sku="H", price="10.00", category=hats), 1),
        ]
    )

    quote = points_quote_order(order=order, tier=None, now=NOW)

    assert quote.points == 5  # shirt 3 (own category), hat 2 (parent)
    assert quote.rule_codes == ("clothing", "shirts")


def test_inactive_and_other_merchants_rules_do_not_apply(paid_order, tshirt):
    spend_rule("other", per="9", merchant=MerchantFactory(name="Other"))
    spend_rule("off", per="9", category=tshirt.product.category, active=False)

    assert points_quote_order(order=paid_order(), tier=None, now=NOW).rule_codes == ("spend",)


def test_floor_once_per_rule_group_not_per_line(paid_order, make_variant):
    a = make_variant(sku="A", price="15.00")
    b = make_variant(sku="B", price="15.00")

    # per line floor(1.5) + floor(1.5) would be 2; the group earns floor(3.0) = 3
    assert points_quote_order(order=paid_order(lines=[(a, 1), (b, 1)]), tier=None, now=NOW).points == 3


def test_tier_multiplier_and_reason(paid_order):
    silver = Tier.objects.get(code="silver")

    quote = points_quote_order(order=paid_order(), tier=silver, now=NOW)

    assert quote.points == 124  # floor(99.8 * 1.25) = floor(124.75)
    assert quote.reason == "1 pt per 10.00: 99.8 pts x1.25 Silver = 124"


def test_campaign_in_its_window_only(paid_order):
    order = paid_order()
    campaign("Weekend double", "2", starts=NOW, days=2)

    assert points_quote_order(order=order, tier=None, now=NOW - timedelta(seconds=1)).points == 99
    assert points_quote_order(order=order, tier=None, now=NOW).points == 199
    assert points_quote_order(order=order, tier=None, now=NOW + timedelta(days=2) - timedelta(seconds=1)).points == 199
    assert points_quote_order(order=order, tier=None, now=NOW + timedelta(days=2)).points == 99


def test_inactive_campaign_does_not_apply(paid_order):
    c = campaign("Off", "3")
    Campaign.objects.filter(pk=c.pk).update(is_active=False)

    assert points_quote_order(order=paid_order(), tier=None, now=NOW).points == 99


def test_overlapping_campaigns_take_the_largest_matching_one(paid_order, make_variant, merchant):
    shirts = CategoryFactory(name="Shirts")
    shirt = make_variant(sku="S", price="100.00", category=shirts)
    mug = make_variant(sku="M", price="100.00")
    campaign("Everything", "1.5")
    campaign("Shirts triple", "3", category=shirts)
    campaign("Other shop", "5", merchant=MerchantFactory(name="Other"))
    order = paid_order(lines=[(shirt, 1), (mug, 1)])
    silver = Tier.objects.get(code="silver")

    quote = points_quote_order(order=order, tier=silver, now=NOW)

    # shirt: 10 x1.25 x3 = 37.5 -> 37; mug: 10 x1.25 x1.5 = 18.75 -> 18
    assert quote.points == 55
    assert quote.rule_codes == ("spend",)
    assert quote.reason == (
        "1 pt per 10.00: 10 pts x1.25 Silver x1.5 Everything = 18; "
        "1 pt per 10.00: 10 pts x1.25 Silver x3 Shirts triple = 37"
    )


def test_a_campaign_on_the_merchant_applies_to_its_lines(paid_order, merchant):
    campaign("Threads week", "2", merchant=merchant)

    quote = points_quote_order(order=paid_order(), tier=None, now=NOW)

    assert quote.points == 199
    assert quote.reason == "1 pt per 10.00: 99.8 pts x2 Threads week = 199"


def test_only_the_default_currency_earns(paid_order, settings):
    order = paid_order()
    Order.objects.filter(pk=order.pk).update(currency="USD")
    order.refresh_from_db()

    quote = points_quote_order(order=order, tier=None, now=NOW)

    assert (quote.points, quote.rule_codes) == (0, ())
    assert quote.reason == f"Only orders in {settings.DEFAULT_CURRENCY} earn points"


def test_no_active_rule_earns_nothing(paid_order):
    EarningRule.objects.filter(kind="spend").update(is_active=False)

    quote = points_quote_order(order=paid_order(), tier=None, now=NOW)

    assert (quote.points, quote.rule_codes, quote.reason) == (0, (), "No earning rule is active")


def test_quote_reads_in_fixed_queries(paid_order, make_variant, django_assert_num_queries):
    lines = [(make_variant(sku=f"V{i}", price="10.00"), 1) for i in range(5)]
    order = paid_order(lines=lines)

    with time_machine.travel(NOW, tick=False), django_assert_num_queries(3):  # rules, campaigns, lines
        assert points_quote_order(order=order, tier=None, now=NOW).points == 5
