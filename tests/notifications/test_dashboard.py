"""The notifications' dashboard card: dead-lettered messages, all and within the range."""

from datetime import UTC, date, datetime

import pytest
import time_machine

from commerce.core.dashboard import CardContext, Figure, period_ending
from commerce.notifications.dashboard import dead_letters_card
from commerce.notifications.models import Notification

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


def _context(*, days):
    return CardContext(scope=None, period=period_ending(days=days, today=date(2026, 3, 15)), now=NOW)


def _notification(status, at, **fields):
    with time_machine.travel(at, tick=False):
        return Notification.objects.create(
            channel=Notification.Channel.EMAIL,
            recipient="shopper@example.com",
            template="welcome",
            body="Hello",
            status=status,
            **fields,
        )


def test_dead_letters_card_counts_failed_notifications(django_assert_num_queries):
    _notification(Notification.Status.FAILED, datetime(2026, 3, 14, 8, 0, tzinfo=UTC))
    _notification(Notification.Status.FAILED, datetime(2026, 2, 14, 0, 0, tzinfo=UTC))  # first day of 30
    _notification(Notification.Status.FAILED, datetime(2026, 1, 1, 0, 0, tzinfo=UTC))  # within 90 days only
    _notification(Notification.Status.QUEUED, datetime(2026, 3, 15, 9, 0, tzinfo=UTC))
    _notification(
        Notification.Status.SENT,
        datetime(2026, 3, 15, 9, 0, tzinfo=UTC),
        sent_at=datetime(2026, 3, 15, 9, 0, tzinfo=UTC),
    )

    with django_assert_num_queries(1):
        data = dead_letters_card(_context(days=30))
    assert data.figures == (
        Figure(label="Dead-lettered", value=3),
        Figure(label="Failed in the last 30 days", value=2),
    )
    assert dead_letters_card(_context(days=7)).figures[1] == Figure(label="Failed in the last 7 days", value=1)
    assert dead_letters_card(_context(days=90)).figures[1] == Figure(label="Failed in the last 90 days", value=3)
