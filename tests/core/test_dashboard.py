"""The back-office dashboard: the card registry, who sees which card, caching, the range, and the admin index page."""

from datetime import UTC, date, datetime

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
    "notifications.dead_letters",
]
MERCHANT_CARDS = ["catalog.products", "offers.live", "offers.activity", "offers.top"]


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


def test_card_data_expires_after_a_minute(counting_card):
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
        (SUPPORT, ALL_CARDS),  # views users, catalog, offers and notifications
        (CATALOG_MANAGER, MERCHANT_CARDS),
        (FINANCE, ["accounts.new_shoppers"]),
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
