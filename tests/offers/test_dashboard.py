"""The offers' dashboard cards: live and expiring offers, views and clicks per day, top offers by clicks."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from commerce.core.dashboard import CardContext, Chart, Figure, Series, Table, period_ending
from commerce.offers.dashboard import activity_card, offers_card, top_offers_card
from tests.offers.factories import OfferDailyStatsFactory, OfferFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
TODAY = date(2026, 3, 15)


def _context(scope, *, days=30):
    return CardContext(scope=scope, period=period_ending(days=days, today=TODAY), now=NOW)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def test_offers_card_counts_live_offers_and_those_ending_within_a_week(frozen, acme, globex, django_assert_num_queries):
    OfferFactory(merchant=acme, ends_at=NOW + timedelta(days=3))  # live, expiring
    OfferFactory(merchant=acme, ends_at=NOW + timedelta(days=7))  # live, expiring (the last moment of the week)
    OfferFactory(merchant=acme, ends_at=NOW + timedelta(days=7, seconds=1))  # live, not expiring this week
    OfferFactory(merchant=acme, ends_at=None)  # live, never ends
    OfferFactory(merchant=acme, is_active=False, ends_at=NOW + timedelta(days=1))  # switched off
    OfferFactory(merchant=acme, starts_at=NOW + timedelta(hours=1))  # not started
    OfferFactory(merchant=acme, starts_at=NOW - timedelta(days=10), ends_at=NOW - timedelta(seconds=1))  # ended
    OfferFactory(merchant=globex, ends_at=NOW + timedelta(days=1))  # live, expiring, other merchant

    with django_assert_num_queries(1):
        everything = offers_card(_context(None))
    assert everything.figures == (Figure(label="Live", value=5), Figure(label="Expiring within 7 days", value=3))
    with django_assert_num_queries(1):
        scoped = offers_card(_context(frozenset({acme.pk})))
    assert scoped.figures == (Figure(label="Live", value=4), Figure(label="Expiring within 7 days", value=2))
    assert offers_card(_context(frozenset())).figures == (
        Figure(label="Live", value=0),
        Figure(label="Expiring within 7 days", value=0),
    )


@pytest.fixture
def stats(frozen, acme, globex):
    """Daily counts around the ranges ending 2026-03-15: 30 days start 02-14, 7 days start 03-09."""
    summer = OfferFactory(merchant=acme, title="Summer sale")
    spring = OfferFactory(merchant=acme, title="Spring <deal>")
    rival = OfferFactory(merchant=globex, title="Rival offer")
    OfferDailyStatsFactory(offer=summer, date=TODAY, views=10, clicks=2)
    OfferDailyStatsFactory(offer=summer, date=date(2026, 3, 9), views=5, clicks=1)  # first day of 7
    OfferDailyStatsFactory(offer=summer, date=date(2026, 3, 8), views=100, clicks=50)  # in 30, not in 7
    OfferDailyStatsFactory(offer=summer, date=date(2026, 2, 14), views=1, clicks=1)  # first day of 30
    OfferDailyStatsFactory(offer=summer, date=date(2026, 2, 13), views=1000, clicks=900)  # outside 30, in 90
    OfferDailyStatsFactory(offer=spring, date=TODAY, views=4, clicks=0)  # views only
    OfferDailyStatsFactory(offer=rival, date=TODAY, views=7, clicks=3)
    OfferDailyStatsFactory(offer=rival, date=date(2026, 3, 16), views=9, clicks=9)  # tomorrow: not yet
    return summer, spring, rival


def test_activity_card_sums_views_and_clicks_per_day_of_the_range(stats, acme, django_assert_num_queries):
    with django_assert_num_queries(1):
        week = activity_card(_context(frozenset({acme.pk}), days=7))
    assert week.figures == (Figure(label="Views", value=19), Figure(label="Clicks", value=3))
    assert week.chart == Chart(
        kind="line",
        labels=("09 Mar", "10 Mar", "11 Mar", "12 Mar", "13 Mar", "14 Mar", "15 Mar"),
        series=(
            Series(label="Views", values=(5, 0, 0, 0, 0, 0, 14), color="var(--color-primary-300)"),
            Series(label="Clicks", values=(1, 0, 0, 0, 0, 0, 2), color="var(--color-primary-700)"),
        ),
    )

    with django_assert_num_queries(1):
        month = activity_card(_context(None, days=30))
    assert month.figures == (Figure(label="Views", value=127), Figure(label="Clicks", value=57))
    assert len(month.chart.labels) == 30
    assert month.chart.labels[0] == "14 Feb"
    assert month.chart.series[0].values[0] == 1
    assert month.chart.series[0].values[-1] == 21
    assert month.chart.series[1].values[-8] == 50


def test_activity_card_chart_is_json_for_the_chart_component(stats):
    chart_json = activity_card(_context(frozenset(), days=7)).chart.to_json()
    assert chart_json == (
        '{"labels": ["09 Mar", "10 Mar", "11 Mar", "12 Mar", "13 Mar", "14 Mar", "15 Mar"], "datasets": ['
        '{"label": "Views", "data": [0, 0, 0, 0, 0, 0, 0], "borderColor": "var(--color-primary-300)", '
        '"backgroundColor": "var(--color-primary-300)"}, '
        '{"label": "Clicks", "data": [0, 0, 0, 0, 0, 0, 0], "borderColor": "var(--color-primary-700)", '
        '"backgroundColor": "var(--color-primary-700)"}]}'
    )


def test_top_offers_card_ranks_offers_by_clicks_in_the_range(stats, acme, django_assert_num_queries):
    with django_assert_num_queries(1):
        month = top_offers_card(_context(None, days=30))
    assert month.figures == ()
    assert month.table == Table(
        headers=("Offer", "Merchant", "Clicks", "Views"),
        rows=(("Summer sale", "Acme", "54", "116"), ("Rival offer", "Globex", "3", "7")),
    )
    assert top_offers_card(_context(frozenset({acme.pk}), days=90)).table.rows == (
        ("Summer sale", "Acme", "954", "1116"),
    )
    assert top_offers_card(_context(frozenset(), days=90)).table.rows == ()


def test_top_offers_card_shows_five_offers_ties_in_creation_order(frozen, acme):
    offers = [OfferFactory(merchant=acme, title=f"Offer {n}") for n in range(7)]
    for offer, clicks in zip(offers, (1, 5, 5, 2, 9, 1, 3), strict=True):
        OfferDailyStatsFactory(offer=offer, date=TODAY, views=clicks * 10, clicks=clicks)
    rows = top_offers_card(_context(None, days=7)).table.rows
    assert [row[0] for row in rows] == ["Offer 4", "Offer 1", "Offer 2", "Offer 6", "Offer 3"]
