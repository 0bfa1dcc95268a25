"""Achievements under real parallel transactions (PostgreSQL): an achievement completed by two events at once (two
evaluations of the same member racing) is awarded once, with one points entry. Each worker runs the real service
in its own thread and connection (``tests/concurrency.py``)."""

from decimal import Decimal

import pytest

from loyalty.models import Achievement, AchievementAward, PointsAccount, PointsEntry
from loyalty.services.achievements import achievements_evaluate
from loyalty.services.ledger import points_account_get_or_create
from tests.concurrency import error_codes, run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def first_order(db):
    """The one active achievement (a transactional test may run after another flushed the migrations' data)."""
    Achievement.objects.update(is_active=False)
    achievement, _ = Achievement.objects.update_or_create(
        code="first-order",
        defaults={
            "name": "First order",
            "criterion": "orders",
            "target": Decimal("1"),
            "points": 50,
            "is_active": True,
        },
    )
    return achievement


@pytest.mark.parametrize("account_exists", [True, False])
def test_two_evaluations_at_once_award_once(shopper, paid_order, first_order, account_exists):
    if account_exists:
        points_account_get_or_create(user_id=shopper.pk)
    paid_order()
    results = run_together([lambda: achievements_evaluate(user_id=shopper.pk) for _ in range(4)])
    assert error_codes(results) == {"ok": 4}
    assert sorted(len(result["value"]) for result in results) == [0, 0, 0, 1]
    assert AchievementAward.objects.filter(user=shopper, achievement=first_order).count() == 1
    assert PointsEntry.objects.filter(key=f"achievement:first-order:{shopper.pk}").count() == 1
    assert PointsAccount.objects.get(user=shopper).available == 50
