"""The accounts' dashboard card: new shoppers (not staff) per day of the range, in TIME_ZONE dates."""

from datetime import UTC, date, datetime

import pytest

from accounts.dashboard import new_shoppers_card
from commerce.core.dashboard import CardContext, Figure, period_ending
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


def _context(*, days=30):
    return CardContext(scope=None, period=period_ending(days=days, today=date(2026, 3, 15)), now=NOW)


def _joined(*args, staff=False):
    factory = StaffFactory if staff else UserFactory
    return factory(date_joined=datetime(*args, tzinfo=UTC))


def test_new_shoppers_card_counts_sign_ups_per_day(django_assert_num_queries):
    _joined(2026, 3, 15, 9, 0)
    _joined(2026, 3, 10, 0, 0)
    _joined(2026, 3, 10, 23, 59, 59)
    _joined(2026, 2, 14, 0, 0)  # the first day of the 30
    _joined(2026, 2, 13, 23, 59, 59)  # the day before: outside
    _joined(2026, 3, 16, 0, 0)  # tomorrow: outside
    _joined(2026, 3, 15, 8, 0, staff=True)  # staff are not shoppers

    with django_assert_num_queries(1):
        data = new_shoppers_card(_context())
    assert data.figures == (Figure(label="New shoppers, last 30 days", value=4),)
    assert data.chart.kind == "bar"
    assert data.chart.labels[0] == "14 Feb"
    assert data.chart.labels[-1] == "15 Mar"
    values = data.chart.series[0].values
    assert len(values) == 30
    assert (values[0], values[-6], values[-1]) == (1, 2, 1)
    assert sum(values) == 4

    week = new_shoppers_card(_context(days=7))
    assert week.figures == (Figure(label="New shoppers, last 7 days", value=3),)
    assert week.chart.series[0].values == (0, 2, 0, 0, 0, 0, 1)


def test_new_shoppers_card_uses_dates_of_the_time_zone(settings):
    settings.TIME_ZONE = "Asia/Kolkata"  # UTC+05:30
    _joined(2026, 3, 14, 20, 0)  # 01:30 on 15 March in Kolkata
    _joined(2026, 3, 8, 18, 29)  # 23:59 on 8 March in Kolkata: before the 7 days
    data = new_shoppers_card(_context(days=7))
    assert data.chart.series[0].values == (0, 0, 0, 0, 0, 0, 1)
    assert data.figures == (Figure(label="New shoppers, last 7 days", value=1),)
