"""The back-office dashboard: the card registry, who sees which card, caching, the range, and the admin index page."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.db import connection
from django.test.client import RequestFactory
from django.test.utils import CaptureQueriesContext

from accounts.roles import CATALOG_MANAGER, FINANCE, MERCHANT_STAFF, SUPPORT
from commerce.core import dashboard
from commerce.core.dashboard import (
    CardData,
    Figure,
    Period,
    card_data,
    cards_for,
    parse_days,
    period_ending,
    register_card,
    registered_cards,
    unregister_card,
    visible_cards,
)
from tests.catalog.factories import MerchantFactory, MerchantMembershipFactory
from tests.factories import StaffFactory

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
ALL_CARDS = [
    "catalog.products",
    "offers.live",
    "offers.activity",
    "offers.top",
    "accounts.new_shoppers",
    "orders.today",
    "orders.per_day",
    "cashback.review",
    "cashback.withdrawals",
    "cashback.credited",
    "loyalty.tiers",
    "loyalty.points",
    "loyalty.rewards",
    "notifications.dead_letters",
]
MERCHANT_CARDS = ["catalog.products", "offers.live", "offers.activity", "offers.top", "orders.today", "orders.per_day"]
# Today's sales need the sales overview's permission, which support and catalog managers do not hold.
SALES_CARDS = {"orders.today", "orders.per_day"}
# The cashback desk's money figures: finance and admin only.
CASHBACK_CARDS = {"cashback.review", "cashback.withdrawals", "cashback.credited"}
# Members by tier, points issued and spent, rewards redeemed: admin, finance and support (who answer members).
LOYALTY_CARDS = ["loyalty.tiers", "loyalty.points", "loyalty.rewards"]


def _staff(*roles, merchant=None, **fields):
    user = StaffFactory(**fields)
    for role in roles:
        user.groups.add(Group.objects.get(name=role))
    if merchant is not None:
        MerchantMembershipFactory(merchant=merchant, user=user)
    return user


# --- The range ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["7", "30", "90"])
def test_parse_days_accepts_the_three_ranges(value):
    assert parse_days(value) == int(value)


@pytest.mark.parametrize("value", [None, "", "abc", "5", "0", "-7", "7.0", " 7", "07", "\u0667", "365", "30 "])
def test_parse_days_falls_back_to_thirty_days(value):
    assert parse_days(value) == 30


def test_period_ends_today_and_counts_today_as_a_day():
    period = period_ending(days=7, today=date(2026, 3, 1))
    assert period == Period(days=7, start=date(2026, 2, 23), end=date(2026, 3, 1))
    assert period.dates() == [date(2026, 2, day) for day in range(23, 29)] + [date(2026, 3, 1)]
    assert period.start_datetime() == datetime(2026, 2, 23, tzinfo=UTC)
    assert period.end_datetime() == datetime(2026, 3, 2, tzinfo=UTC)


# --- The registry -------------------------------------------------------------------------------------------


def test_apps_register_their_cards_in_order():
    assert [card.key for card in registered_cards()] == ALL_CARDS


@pytest.fixture
def counting_card():
    """A registered card whose builder records every context it is called with."""
    calls = []

    def build(ctx):
        calls.append(ctx)
        return CardData(figures=(Figure(label="Calls", value=len(calls)),))

    register_card(key="test.counting", title="Counting", order=1, builder=build)
    yield calls
    unregister_card("test.counting")


def _card(key):
    return next(card for card in registered_cards() if card.key == key)


def test_card_data_is_cached_per_card_scope_range_and_day(counting_card):
    card = _card("test.counting")
    period = period_ending(days=30, today=date(2026, 3, 15))
    first = card_data([card], scope=None, period=period, now=NOW)
    again = card_data([card], scope=None, period=period, now=NOW)
    assert first == again == {"test.counting": CardData(figures=(Figure(label="Calls", value=1),))}
    assert len(counting_card) == 1

    card_data([card], scope=frozenset({1}), period=period, now=NOW)  # another scope
    card_data([card], scope=frozenset({1, 2}), period=period, now=NOW)  # another scope
    card_data([card], scope=frozenset(), period=period, now=NOW)  # no merchant at all is a scope too
    card_data([card], scope=None, period=period_ending(days=7, today=date(2026, 3, 15)), now=NOW)  # another range
    card_data([card], scope=None, period=period_ending(days=30, today=date(2026, 3, 16)), now=NOW)  # the next day
    assert [(ctx.scope, ctx.period.days, ctx.period.end.day) for ctx in counting_card] == [
        (None, 30, 15),
        (frozenset({1}), 30, 15),
        (frozenset({1, 2}), 30, 15),
        (frozenset(), 30, 15),
        (None, 7, 15),
        (None, 30, 16),
    ]
    card_data([card], scope=frozenset({2, 1}), period=period, now=NOW)  # same scope, any order: cached
    assert len(counting_card) == 6


def test_card_data_expires_after_a_minute(counting_card, settings):
    # An in-process cache, whose expiry follows the frozen clock (Redis expires keys by its own clock; the
    # Redis test below reads the key's time to live instead).
    settings.CACHES = {**settings.CACHES, "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    card = _card("test.counting")
    period = period_ending(days=30, today=date(2026, 3, 15))
    with time_machine.travel(NOW, tick=False) as traveller:
        card_data([card], scope=None, period=period, now=NOW)
        traveller.shift(59)
        card_data([card], scope=None, period=period, now=NOW)
        assert len(counting_card) == 1
        traveller.shift(2)
        card_data([card], scope=None, period=period, now=NOW)
        assert len(counting_card) == 2


@pytest.mark.redis
def test_card_data_lives_a_minute_in_redis(counting_card):
    from django.core.cache import cache

    card = _card("test.counting")
    period = period_ending(days=30, today=date(2026, 3, 15))
    card_data([card], scope=frozenset({7}), period=period, now=NOW)
    key = dashboard.cache_key(card, scope=frozenset({7}), period=period)
    assert key == "dashboard:v1:test.counting:m7:30:2026-03-15"
    assert 55 <= cache.ttl(key) <= 60


def test_cache_keys_of_large_scopes_stay_short(counting_card):
    card = _card("test.counting")
    period = period_ending(days=30, today=date(2026, 3, 15))
    key = dashboard.cache_key(card, scope=frozenset(range(1000, 1100)), period=period)
    assert len(key) < 120
    assert key != dashboard.cache_key(card, scope=frozenset(range(1000, 1101)), period=period)


@pytest.mark.django_db
def test_superuser_sees_every_card():
    user = StaffFactory(is_superuser=True)
    assert [card.key for card in visible_cards(user, scope=dashboard.scope_for(user))] == ALL_CARDS


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "expected"),
    [
        # users, catalog, offers, notifications
        (SUPPORT, [key for key in ALL_CARDS if key not in SALES_CARDS | CASHBACK_CARDS]),
        (CATALOG_MANAGER, [key for key in MERCHANT_CARDS if key not in SALES_CARDS]),
        (
            FINANCE,
            [
                "accounts.new_shoppers",
                "orders.today",
                "orders.per_day",
                "cashback.review",
                "cashback.withdrawals",
                "cashback.credited",
                *LOYALTY_CARDS,
            ],
        ),
    ],
)
def test_staff_see_the_cards_of_the_models_they_may_view(role, expected):
    user = _staff(role)
    assert dashboard.scope_for(user) is None
    assert [card.key for card in visible_cards(user, scope=None)] == expected


@pytest.mark.django_db
def test_merchant_staff_never_see_platform_wide_cards():
    acme = MerchantFactory(slug="acme")
    user = _staff(MERCHANT_STAFF, merchant=acme)
    user.user_permissions.add(*Group.objects.get(name=SUPPORT).permissions.all())  # even with the permissions
    user = type(user).objects.get(pk=user.pk)
    assert dashboard.scope_for(user) == frozenset({acme.pk})
    assert [card.key for card in visible_cards(user, scope=dashboard.scope_for(user))] == MERCHANT_CARDS


@pytest.mark.django_db
def test_staff_without_roles_see_no_cards():
    request = RequestFactory().get("/admin/")
    request.user = StaffFactory()
    assert cards_for(request, days=30) == []


@pytest.mark.django_db
def test_a_second_dashboard_within_the_minute_runs_no_card_query():
    request = RequestFactory().get("/admin/")
    request.user = StaffFactory(is_superuser=True)
    with time_machine.travel(NOW, tick=False):
        with CaptureQueriesContext(connection) as cold:
            first = cards_for(request, days=30)
        with CaptureQueriesContext(connection) as warm:
            second = cards_for(request, days=30)
    assert len(cold) == len(ALL_CARDS)  # one query per card; a superuser's permissions and scope need none
    assert len(warm) == 0
    assert first == second


# --- The admin index page -----------------------------------------------------------------------------------

CARD_BLOCK = re.compile(r'data-dashboard-card="([^"]+)"(.*?)(?=data-dashboard-card=|\Z)', re.S)
FIGURE = re.compile(r'<span data-figure="([^"]+)">(\d+)</span>')


def _figures(html: str) -> dict[str, dict[str, int]]:
    """Each card's figures on the page, ``{card key: {label: value}}``, in page order."""
    return {
        key: {label: int(value) for label, value in FIGURE.findall(block)} for key, block in CARD_BLOCK.findall(html)
    }


@pytest.fixture
def shop(db):
    """Two merchants with products, offers, a day of views and clicks, two new shoppers and a dead letter."""
    from commerce.notifications.models import Notification
    from tests.catalog.conftest import build_product
    from tests.factories import UserFactory
    from tests.offers.factories import OfferDailyStatsFactory, OfferFactory

    with time_machine.travel(NOW, tick=False):
        acme = MerchantFactory(slug="acme", name="Acme")
        globex = MerchantFactory(slug="globex", name="Globex")
        build_product(merchant=acme)
        build_product(merchant=acme, stock=0)
        build_product(merchant=globex)
        acme_offer = OfferFactory(merchant=acme, title="Acme spring sale", ends_at=NOW + timedelta(days=3))
        globex_offer = OfferFactory(merchant=globex, title="Globex weekend deal", ends_at=None)
        OfferDailyStatsFactory(offer=acme_offer, date=date(2026, 3, 15), views=10, clicks=4)
        OfferDailyStatsFactory(offer=globex_offer, date=date(2026, 3, 14), views=6, clicks=2)
        UserFactory.create_batch(2)
        Notification.objects.create(
            channel="email", recipient="x@example.com", template="welcome", body="Hi", status="failed"
        )
    return acme, globex


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def test_superuser_dashboard_shows_every_card_with_its_figures(shop, frozen, client, admin_login):
    admin_login(StaffFactory(is_superuser=True))
    response = client.get("/admin/")
    assert response.status_code == 200
    html = response.content.decode()
    assert _figures(html) == {
        "catalog.products": {"Live": 3, "Out of stock": 1},
        "offers.live": {"Live": 2, "Expiring within 7 days": 1},
        "offers.activity": {"Views": 16, "Clicks": 6},
        "offers.top": {},
        "accounts.new_shoppers": {"New shoppers, last 30 days": 2},
        "orders.today": {"Orders today": 0, "Paid today": 0},
        "orders.per_day": {"Orders": 0, "Paid": 0},
        "cashback.review": {"Awaiting review": 0},
        "cashback.withdrawals": {"Awaiting approval": 0},
        "cashback.credited": {"Credits": 0},
        "loyalty.tiers": {"Members": 0},
        "loyalty.points": {"Issued": 0, "Spent": 0},
        "loyalty.rewards": {"Redeemed": 0, "Points spent": 0},
        "notifications.dead_letters": {"Dead-lettered": 1, "Failed in the last 30 days": 1},
    }
    for title in ("Products", "Offers", "Offer views and clicks", "Top offers by clicks", "New shoppers"):
        assert f">\n            {title}\n        </h2>" in html
    assert "Acme spring sale" in html and "Globex weekend deal" in html
    assert 'data-dashboard-range="30"' in html
    # Charts are canvases of the theme's chart component with their data as escaped JSON (no inline script).
    assert html.count('<canvas class="chart"') == 3  # offers' views and clicks, new shoppers, orders per day
    assert 'data-type="line" data-value="{&quot;labels&quot;: [&quot;14 Feb&quot;' in html
    assert "<script>" not in html


@pytest.mark.parametrize(("query", "days"), [("", 30), ("?days=7", 7), ("?days=90", 90), ("?days=abc", 30)])
def test_range_control_picks_seven_thirty_or_ninety_days(shop, frozen, client, admin_login, query, days):
    admin_login(StaffFactory(is_superuser=True))
    response = client.get(f"/admin/{query}")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-dashboard-range="{days}"' in html
    assert f">Last {days} days</h2>" in html
    assert _figures(html)["accounts.new_shoppers"] == {f"New shoppers, last {days} days": 2}
    links = re.findall(r'<a href="\?days=(\d+)" class="([^"]*)"', html)
    assert [int(choice) for choice, _ in links] == [7, 30, 90]
    assert [int(choice) for choice, classes in links if "shadow-xs" in classes] == [days]


def test_week_range_leaves_out_older_views_and_clicks(shop, frozen, client, admin_login):
    from commerce.offers.models import Offer
    from tests.offers.factories import OfferDailyStatsFactory

    OfferDailyStatsFactory(offer=Offer.objects.get(title="Acme spring sale"), date=date(2026, 3, 8), views=100)
    admin_login(StaffFactory(is_superuser=True))
    week = _figures(client.get("/admin/?days=7").content.decode())
    month = _figures(client.get("/admin/?days=30").content.decode())
    assert week["offers.activity"] == {"Views": 16, "Clicks": 6}
    assert month["offers.activity"] == {"Views": 116, "Clicks": 6}


def test_merchant_staff_dashboard_shows_only_their_merchant(shop, frozen, client, admin_login):
    acme, _globex = shop
    admin_login(_staff(MERCHANT_STAFF, merchant=acme))
    response = client.get("/admin/")
    assert response.status_code == 200
    html = response.content.decode()
    assert _figures(html) == {
        "catalog.products": {"Live": 2, "Out of stock": 1},
        "offers.live": {"Live": 1, "Expiring within 7 days": 1},
        "offers.activity": {"Views": 10, "Clicks": 4},
        "offers.top": {},
        "orders.today": {"Orders today": 0, "Paid today": 0},
        "orders.per_day": {"Orders": 0, "Paid": 0},
    }
    assert "Acme spring sale" in html
    assert "Globex weekend deal" not in html
    assert "New shoppers" not in html
    assert "Dead-lettered" not in html


def test_cached_dashboard_of_one_merchant_is_not_shown_to_another(shop, frozen, client, admin_login):
    acme, globex = shop
    admin_login(_staff(MERCHANT_STAFF, merchant=acme))
    assert _figures(client.get("/admin/").content.decode())["offers.activity"] == {"Views": 10, "Clicks": 4}
    admin_login(_staff(MERCHANT_STAFF, merchant=globex))
    assert _figures(client.get("/admin/").content.decode())["offers.activity"] == {"Views": 6, "Clicks": 2}
    admin_login(StaffFactory(is_superuser=True))
    assert _figures(client.get("/admin/").content.decode())["offers.activity"] == {"Views": 16, "Clicks": 6}


# The index page of a superuser: session, user and OTP device (3 queries), plus one query per card on a
# cold cache; within the minute the cards cost nothing.
INDEX_QUERIES_WARM = 3
INDEX_QUERIES_COLD = INDEX_QUERIES_WARM + len(ALL_CARDS)


def test_index_page_query_budget_cold_and_warm(shop, frozen, client, admin_login, django_assert_num_queries):
    admin_login(StaffFactory(is_superuser=True))
    with django_assert_num_queries(INDEX_QUERIES_COLD):
        assert client.get("/admin/").status_code == 200
    with django_assert_num_queries(INDEX_QUERIES_WARM):
        assert client.get("/admin/").status_code == 200
    with django_assert_num_queries(INDEX_QUERIES_COLD):  # another range is another cache entry
        assert client.get("/admin/?days=7").status_code == 200


# Merchant staff: as a superuser, plus their permissions (2), their roles and merchants (2); four cards.
MERCHANT_INDEX_QUERIES_WARM = 7
MERCHANT_INDEX_QUERIES_COLD = MERCHANT_INDEX_QUERIES_WARM + len(MERCHANT_CARDS)


def test_merchant_staff_index_page_query_budget(shop, frozen, client, admin_login, django_assert_num_queries):
    acme, _globex = shop
    admin_login(_staff(MERCHANT_STAFF, merchant=acme))
    with django_assert_num_queries(MERCHANT_INDEX_QUERIES_COLD):
        assert client.get("/admin/").status_code == 200
    with django_assert_num_queries(MERCHANT_INDEX_QUERIES_WARM):
        assert client.get("/admin/").status_code == 200


def test_staff_without_cards_get_a_short_note_instead(shop, frozen, client, admin_login):
    admin_login(StaffFactory())
    html = client.get("/admin/").content.decode()
    assert _figures(html) == {}
    assert "Nothing to show yet: your role has no dashboard cards." in html
