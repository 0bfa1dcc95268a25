"""The loyalty demo data (``loyalty/demo.py``) through ``manage.py seed_demo``: the demo shopper has pending and
available points, Gold, points expiring this month, an achievement and two referrals; a dozen shoppers spread over
the tiers; a week of leaderboard activity; every ledger adds up; a second run adds nothing."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.apps import apps
from django.core.management import call_command
from django.db.models import Sum

from accounts.models import User
from loyalty.models import AchievementAward, PointsAccount, PointsEntry, PointsLot, Referral
from loyalty.services.leaderboard import leaderboard_read
from loyalty.services.ledger import points_expiring_soon

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 5, 10, 20, 30, tzinfo=UTC)  # a Sunday evening: the last 7 days are the ISO week


def seed(settings) -> str:
    settings.DEMO_ADMIN_PASSWORD = "demo-pass-123!"
    settings.DEMO_SHOPPER_PASSWORD = "shopper-pass-123!"
    out = StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("seed_demo", stdout=out)
    return out.getvalue()


@pytest.fixture
def seeded(settings) -> str:
    return seed(settings)


def row_counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


def test_the_demo_shopper_has_points_in_every_state(seeded):
    assert "Loyalty: " in seeded
    shopper = User.objects.get(email="shopper@example.com")
    account = PointsAccount.objects.select_related("tier").get(user=shopper)

    assert account.pending > 0  # the paid and fulfilled demo orders, inside their return window
    assert PointsEntry.objects.filter(account=account, kind="earn_pending", order__isnull=False).count() == 2
    assert account.available > 5_600
    assert account.tier.code == "gold"
    assert len(account.referral_code) == 8
    assert "first-order" in set(
        AchievementAward.objects.filter(user=shopper).values_list("achievement__code", flat=True)
    )
    assert Referral.objects.filter(referrer=shopper, status="pending").count() == 2
    soon = points_expiring_soon(account=account, now=NOW)
    assert [points for points, _ in soon] == [180]
    assert NOW < soon[0][1] < NOW + timedelta(days=10)


def test_a_dozen_shoppers_are_spread_over_the_tiers(seeded):
    tiers = list(
        PointsAccount.objects.filter(user__email__startswith="demo.loyalty.")
        .order_by("user__email")
        .values_list("tier__code", flat=True)
    )

    assert len(tiers) == 12
    assert {tier: tiers.count(tier) for tier in set(tiers)} == {"bronze": 3, "silver": 3, "gold": 3, "platinum": 3}


def test_everyone_earned_in_the_last_week_and_the_board_shows_it(seeded):
    week_ago = NOW - timedelta(days=7)
    earners = set(
        PointsEntry.objects.filter(
            rule_code="demo", qualifying=True, created_at__gte=week_ago, created_at__lte=NOW
        ).values_list("account__user__email", flat=True)
    )
    shopper = User.objects.get(email="shopper@example.com")

    with time_machine.travel(NOW, tick=False):
        board = leaderboard_read(period="week", user_id=shopper.pk, size=10)

    assert len(earners) == 13
    assert len(board["entries"]) == 10
    assert [entry["rank"] for entry in board["entries"]] == list(range(1, 11))
    assert board["me"] is not None
    points = [entry["points"] for entry in board["entries"]]
    assert points == sorted(points, reverse=True) and points[0] > 0


def test_every_demo_ledger_adds_up(seeded):
    for account in PointsAccount.objects.all():
        sums = account.entries.aggregate(points=Sum("points"), pending=Sum("pending_points"), held=Sum("held_points"))
        lots = PointsLot.objects.filter(account=account).aggregate(remaining=Sum("remaining"))["remaining"] or 0
        assert (account.available, account.pending, account.held) == (
            sums["points"] or 0,
            sums["pending"] or 0,
            sums["held"] or 0,
        )
        assert lots == account.available + account.held


def test_a_second_run_adds_nothing(seeded, settings):
    before = row_counts()

    again = seed(settings)

    assert "Loyalty: demo points exist." in again
    assert row_counts() == before
