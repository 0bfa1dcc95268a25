"""Tiers: qualifying points on the rolling window, upgrades at once after an earning event, downgrades only at the
nightly review after the grace period, TierChange rows and the member's messages, progress for ``GET loyalty`` and
the benefits other apps read. Every time is explicit or frozen (time_machine)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import transaction

from commerce.notifications.models import Notification
from loyalty.models import PointsAccount, PointsEntryKind, Programme, Tier, TierChange
from loyalty.services.ledger import points_account_get_or_create, points_account_lock, points_post
from loyalty.services.programme import programme_get
from loyalty.services.tiers import qualifying_points, tier_benefits, tier_progress, tier_recompute, tiers_review
from loyalty.tasks.tiers import review_tiers
from tests.factories import UserFactory
from tests.loyalty.conftest import points_fund

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def earn(user, points: int, *, at: datetime, key: str, kind: str = PointsEntryKind.EARN, qualifying: bool = True):
    """A ledger entry of ``kind`` dated ``at`` through the ledger service (``earn_pending`` puts them pending)."""
    with transaction.atomic():
        account = points_account_lock(user_id=user.pk)
        if kind == PointsEntryKind.EARN_PENDING:
            points_post(account=account, kind=kind, pending_points=points, key=key, qualifying=qualifying, now=at)
        elif kind == PointsEntryKind.PENDING_REVERSAL:
            points_post(account=account, kind=kind, pending_points=-points, key=key, qualifying=qualifying, now=at)
        else:
            points_post(account=account, kind=kind, points=points, key=key, qualifying=qualifying, now=at)


def account_of(user) -> PointsAccount:
    return PointsAccount.objects.select_related("tier").get(user=user)


def tier_code(user) -> str | None:
    tier = account_of(user).tier
    return tier.code if tier else None


# --- qualifying points ------------------------------------------------------------------------------------------


def test_qualifying_points_sum_points_and_pending_of_qualifying_entries_in_the_window(shopper):
    earn(shopper, 300, at=NOW - timedelta(days=10), key="a", kind=PointsEntryKind.EARN_PENDING)
    earn(shopper, 200, at=NOW - timedelta(days=5), key="b")
    earn(shopper, 100, at=NOW - timedelta(days=4), key="c", kind=PointsEntryKind.PENDING_REVERSAL)
    points_fund(user=shopper, points=5000)  # a staff adjustment does not qualify
    assert qualifying_points(account=account_of(shopper), now=NOW) == 400


def test_the_rolling_window_drops_points_older_than_twelve_months(shopper):
    earn(shopper, 700, at=datetime(2025, 6, 15, 12, 0, tzinfo=UTC), key="exactly-12-months")
    earn(shopper, 500, at=datetime(2025, 6, 15, 12, 1, tzinfo=UTC), key="just-inside")
    earn(shopper, 50, at=NOW + timedelta(seconds=1), key="future")
    assert qualifying_points(account=account_of(shopper), now=NOW) == 500


def test_the_window_follows_the_programme(shopper):
    Programme.objects.filter(pk=programme_get().pk).update(tier_window_months=3)
    earn(shopper, 700, at=NOW - timedelta(days=100), key="old")
    earn(shopper, 500, at=NOW - timedelta(days=80), key="recent")
    assert qualifying_points(account=account_of(shopper), now=NOW) == 500


# --- recompute after earning: upgrades at once -----------------------------------------------------------------


def test_first_recompute_places_a_new_member_at_the_entry_tier_without_a_message(
    shopper, django_capture_on_commit_callbacks
):
    points_account_get_or_create(user_id=shopper.pk)
    with django_capture_on_commit_callbacks(execute=True):
        change = tier_recompute(user_id=shopper.pk, now=NOW)
    assert (change.from_tier, change.to_tier.code, change.qualifying_points, change.reason) == (
        None,
        "bronze",
        0,
        "Joined",
    )
    account = account_of(shopper)
    assert (account.tier.code, account.tier_since, account.below_tier_since) == ("bronze", NOW, None)
    assert not Notification.objects.filter(template="loyalty/tier_changed").exists()
    assert tier_recompute(user_id=shopper.pk, now=NOW) is None
    assert TierChange.objects.count() == 1


def test_one_point_below_the_threshold_stays_and_the_threshold_itself_upgrades_at_once(
    shopper, django_capture_on_commit_callbacks
):
    earn(shopper, 999, at=NOW - timedelta(days=1), key="a")
    tier_recompute(user_id=shopper.pk, now=NOW)
    assert tier_code(shopper) == "bronze"
    earn(shopper, 1, at=NOW, key="b")
    with django_capture_on_commit_callbacks(execute=True):
        change = tier_recompute(user_id=shopper.pk, now=NOW)
    assert (change.from_tier.code, change.to_tier.code, change.qualifying_points) == ("bronze", "silver", 1000)
    assert change.reason == "1,000 qualifying points in 12 months reach Silver (1,000)"
    assert (tier_code(shopper), account_of(shopper).tier_since) == ("silver", NOW)
    message = Notification.objects.get(template="loyalty/tier_changed")
    assert (message.recipient, message.subject) == ("shopper@example.com", "Welcome to Silver")
    assert "with 1000 qualifying points in the last 12 months you have reached Silver (from Bronze)" in message.body


def test_a_new_member_with_enough_points_goes_straight_to_their_tier(shopper, django_capture_on_commit_callbacks):
    earn(shopper, 5200, at=NOW, key="a")
    with django_capture_on_commit_callbacks(execute=True):
        change = tier_recompute(user_id=shopper.pk, now=NOW)
    assert (change.from_tier, change.to_tier.code, change.qualifying_points) == (None, "gold", 5200)
    assert Notification.objects.get(template="loyalty/tier_changed").subject == "Welcome to Gold"


def test_recompute_never_downgrades_it_only_starts_the_grace_period(shopper):
    earn(shopper, 1200, at=NOW - timedelta(days=300), key="a")
    tier_recompute(user_id=shopper.pk, now=NOW - timedelta(days=300))
    assert tier_code(shopper) == "silver"
    later = NOW + timedelta(days=70)  # the 1,200 points have left the 12-month window
    assert tier_recompute(user_id=shopper.pk, now=later) is None
    account = account_of(shopper)
    assert (account.tier.code, account.below_tier_since) == ("silver", later)
    # Recomputed again below: the grace period keeps its start.
    assert tier_recompute(user_id=shopper.pk, now=later + timedelta(days=1)) is None
    assert account_of(shopper).below_tier_since == later
    assert TierChange.objects.filter(account=account).count() == 1


def test_back_above_the_threshold_clears_the_grace_period(shopper):
    earn(shopper, 1200, at=NOW - timedelta(days=300), key="a")
    tier_recompute(user_id=shopper.pk, now=NOW - timedelta(days=300))
    later = NOW + timedelta(days=70)
    tier_recompute(user_id=shopper.pk, now=later)
    assert account_of(shopper).below_tier_since == later
    earn(shopper, 1000, at=later + timedelta(days=1), key="b")
    assert tier_recompute(user_id=shopper.pk, now=later + timedelta(days=1)) is None
    account = account_of(shopper)
    assert (account.tier.code, account.below_tier_since) == ("silver", None)


# --- the nightly review: downgrades after the grace period -----------------------------------------------------


def silver_member_below_since(user, below_since: datetime) -> None:
    """``user`` reached silver 300 days before ``below_since``; the points leave the window then."""
    earn(user, 1200, at=below_since - timedelta(days=365), key=f"silver:{user.pk}")
    tier_recompute(user_id=user.pk, now=below_since - timedelta(days=365))
    tier_recompute(user_id=user.pk, now=below_since)
    assert account_of(user).below_tier_since == below_since


def test_no_downgrade_before_the_grace_period_ends(shopper):
    silver_member_below_since(shopper, NOW)
    assert tiers_review(now=NOW + timedelta(days=29, hours=23)) == 0
    assert tier_code(shopper) == "silver"


def test_the_review_downgrades_after_the_grace_period(shopper, django_capture_on_commit_callbacks):
    silver_member_below_since(shopper, NOW)
    earn(shopper, 300, at=NOW + timedelta(days=2), key="some")
    review_at = NOW + timedelta(days=30)
    with django_capture_on_commit_callbacks(execute=True):
        assert tiers_review(now=review_at) == 1
    account = account_of(shopper)
    assert (account.tier.code, account.tier_since, account.below_tier_since) == ("bronze", review_at, None)
    change = TierChange.objects.filter(account=account).first()
    assert (change.from_tier.code, change.to_tier.code, change.qualifying_points, change.created_at) == (
        "silver",
        "bronze",
        300,
        review_at,
    )
    assert change.reason == "Below Silver's 1,000 points for more than 30 days"
    message = Notification.objects.get(template="loyalty/tier_changed")
    assert message.subject == "Your membership is now Bronze"
    assert "has moved from Silver to Bronze: you earned 300 qualifying points in the last 12 months" in message.body
    assert tiers_review(now=review_at) == 0  # safe to run twice


def test_the_downgrade_goes_to_the_tier_the_points_still_reach(shopper):
    earn(shopper, 5000, at=NOW - timedelta(days=365), key="gold")
    earn(shopper, 1500, at=NOW - timedelta(days=100), key="silver-worth")
    tier_recompute(user_id=shopper.pk, now=NOW - timedelta(days=100))
    assert tier_code(shopper) == "gold"
    assert tiers_review(now=NOW) == 0  # starts the grace period (the 5,000 left the window)
    assert account_of(shopper).below_tier_since == NOW
    assert tiers_review(now=NOW + timedelta(days=30)) == 1
    assert tier_code(shopper) == "silver"


def test_the_grace_period_follows_the_programme(shopper):
    Programme.objects.filter(pk=programme_get().pk).update(tier_downgrade_grace_days=7)
    silver_member_below_since(shopper, NOW)
    assert tiers_review(now=NOW + timedelta(days=6)) == 0
    assert tiers_review(now=NOW + timedelta(days=7)) == 1
    assert tier_code(shopper) == "bronze"


def test_the_review_places_accounts_without_a_tier_and_makes_good_a_missed_upgrade(shopper):
    other = UserFactory()
    points_account_get_or_create(user_id=other.pk)
    earn(shopper, 1000, at=NOW - timedelta(days=1), key="a")
    assert tiers_review(now=NOW) == 2
    assert (tier_code(shopper), tier_code(other)) == ("silver", "bronze")


def test_the_nightly_task_reviews_at_the_current_time(shopper):
    silver_member_below_since(shopper, NOW)
    with time_machine.travel(NOW + timedelta(days=29), tick=False):
        assert review_tiers.apply().get() == 0
    with time_machine.travel(NOW + timedelta(days=31), tick=False):
        assert review_tiers.apply().get() == 1
    assert TierChange.objects.filter(to_tier__code="bronze", created_at=NOW + timedelta(days=31)).count() == 1


def test_the_review_reads_in_batches_and_locks_only_accounts_that_change(shopper, django_assert_num_queries):
    for user in [shopper, *UserFactory.create_batch(4)]:
        earn(user, 10, at=NOW, key=f"e:{user.pk}")
        tier_recompute(user_id=user.pk, now=NOW)
    # programme, tiers, then per batch of 2: the accounts and their points; a last empty batch.
    with django_assert_num_queries(2 + 3 * 2 + 1):
        assert tiers_review(now=NOW, batch_size=2) == 0


# --- progress and benefits -----------------------------------------------------------------------------------


def test_progress_towards_the_next_tier(shopper, django_assert_num_queries):
    earn(shopper, 250, at=NOW, key="a")
    tier_recompute(user_id=shopper.pk, now=NOW)
    account = account_of(shopper)
    programme_get()
    with django_assert_num_queries(3):  # the programme, the tiers and the points
        progress = tier_progress(account=account, now=NOW)
    assert progress == {
        "code": "bronze",
        "name": "Bronze",
        "progress": {"points": 250, "next_threshold": 1000, "percent": 25},
        "next": {"code": "silver", "name": "Silver", "points_needed": 750},
    }


def test_progress_at_the_top_tier_has_no_next(shopper):
    earn(shopper, 16000, at=NOW, key="a")
    tier_recompute(user_id=shopper.pk, now=NOW)
    assert tier_progress(account=account_of(shopper), now=NOW) == {
        "code": "platinum",
        "name": "Platinum",
        "progress": {"points": 16000, "next_threshold": None, "percent": 100},
        "next": None,
    }


def test_progress_of_a_member_in_grace_shows_the_kept_tier(shopper):
    silver_member_below_since(shopper, NOW)
    assert tier_progress(account=account_of(shopper), now=NOW) == {
        "code": "silver",
        "name": "Silver",
        "progress": {"points": 0, "next_threshold": 5000, "percent": 0},
        "next": {"code": "gold", "name": "Gold", "points_needed": 5000},
    }


def test_progress_of_an_account_never_recomputed_shows_the_tier_its_points_reach_and_writes_nothing(shopper):
    earn(shopper, 1100, at=NOW, key="a")
    progress = tier_progress(account=account_of(shopper), now=NOW)
    assert (progress["code"], progress["progress"]["percent"], progress["next"]["points_needed"]) == (
        "silver",
        22,
        3900,
    )
    assert account_of(shopper).tier is None


def test_benefits_of_the_members_tier(shopper):
    earn(shopper, 5000, at=NOW, key="a")
    tier_recompute(user_id=shopper.pk, now=NOW)
    assert tier_benefits(user_id=shopper.pk) == {
        "tier": "gold",
        "earn_multiplier": Decimal("1.50"),
        "free_shipping_threshold": Decimal("299.00"),
        "early_access": False,
    }
    Tier.objects.filter(code="gold").update(early_access=True)
    assert tier_benefits(user_id=shopper.pk)["early_access"] is True


def test_a_member_without_an_account_has_the_entry_tiers_benefits(shopper):
    assert tier_benefits(user_id=shopper.pk) == {
        "tier": "bronze",
        "earn_multiplier": Decimal("1.00"),
        "free_shipping_threshold": None,
        "early_access": False,
    }
