"""Achievements: each criterion computed from the database (paid orders, spend less refunds, weekly streaks across
a year boundary, categories, rewarded referrals), awarded once with their points and a message, progress labels,
and a fixed query count whatever the member's history."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from commerce.notifications.models import Notification
from commerce.orders.models import Order, OrderStatus
from loyalty.models import Achievement, AchievementAward, PointsAccount, PointsEntry, Referral, ReferralStatus
from loyalty.services.achievements import achievements_evaluate, achievements_progress, longest_weekly_streak
from tests.catalog.factories import CategoryFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def codes(awards) -> list[str]:
    return sorted(award.achievement.code for award in awards)


def progress_of(user, code: str) -> dict:
    return next(row for row in achievements_progress(user_id=user.pk, now=NOW) if row["code"] == code)


def test_the_first_paid_order_unlocks_first_order_with_its_points(shopper, paid_order):
    paid_order(placed_at=NOW - timedelta(days=1))
    awards = achievements_evaluate(user_id=shopper.pk, now=NOW)
    assert codes(awards) == ["first-order"]
    entry = PointsEntry.objects.get(key=f"achievement:first-order:{shopper.pk}")
    assert (entry.kind, entry.points, entry.qualifying, entry.reason) == (
        "earn",
        50,
        True,
        "Achievement unlocked: First order",
    )
    assert awards[0].entry == entry
    assert awards[0].awarded_at == NOW
    assert PointsAccount.objects.get(user=shopper).available == 50


def test_orders_not_paid_do_not_count(shopper, paid_order):
    for status in (OrderStatus.PENDING_PAYMENT, OrderStatus.CANCELLED, OrderStatus.EXPIRED):
        paid_order(status=status, placed_at=NOW - timedelta(days=1))
    assert achievements_evaluate(user_id=shopper.pk, now=NOW) == []
    assert progress_of(shopper, "first-order")["progress"] == {"current": "0", "target": "1", "label": "0 / 1 order"}


def test_five_paid_fulfilled_or_delivered_orders_unlock_five_orders(shopper, paid_order):
    for status in (OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.DELIVERED, OrderStatus.PAID):
        paid_order(status=status, placed_at=NOW - timedelta(days=1))
    assert codes(achievements_evaluate(user_id=shopper.pk, now=NOW)) == ["first-order"]
    assert progress_of(shopper, "five-orders")["progress"]["label"] == "4 / 5 orders"
    paid_order(placed_at=NOW - timedelta(days=1))
    assert codes(achievements_evaluate(user_id=shopper.pk, now=NOW)) == ["five-orders"]


def test_an_achievement_is_awarded_once(shopper, paid_order, django_capture_on_commit_callbacks):
    paid_order(placed_at=NOW - timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert len(achievements_evaluate(user_id=shopper.pk, now=NOW)) == 1
    assert achievements_evaluate(user_id=shopper.pk, now=NOW) == []
    assert AchievementAward.objects.filter(user=shopper).count() == 1
    assert PointsEntry.objects.filter(key__startswith="achievement:").count() == 1
    message = Notification.objects.get(template="loyalty/achievement_unlocked")
    assert (message.recipient, message.subject) == ("shopper@example.com", "Achievement unlocked: First order")
    assert 'You have unlocked "First order": Place and pay for your first order.' in message.body
    assert "50 points have been added to your balance." in message.body


def test_an_achievement_without_points_writes_no_entry(shopper, paid_order):
    Achievement.objects.filter(code="first-order").update(points=0)
    paid_order(placed_at=NOW - timedelta(days=1))
    (award,) = achievements_evaluate(user_id=shopper.pk, now=NOW)
    assert award.entry is None
    assert not PointsEntry.objects.exists()


def test_inactive_achievements_are_neither_awarded_nor_listed(shopper, paid_order):
    Achievement.objects.filter(code="first-order").update(is_active=False)
    paid_order(placed_at=NOW - timedelta(days=1))
    assert achievements_evaluate(user_id=shopper.pk, now=NOW) == []
    assert "first-order" not in [row["code"] for row in achievements_progress(user_id=shopper.pk, now=NOW)]


def test_spend_counts_totals_less_refunds(shopper, paid_order, make_variant):
    sofa = make_variant(sku="SOFA", price="5240.00")
    order = paid_order(lines=[(sofa, 2)], placed_at=NOW - timedelta(days=1))  # 10,480.00
    Order.objects.filter(pk=order.pk).update(refunded_amount=Decimal("500.00"))
    assert "big-spender" not in codes(achievements_evaluate(user_id=shopper.pk, now=NOW))
    assert progress_of(shopper, "big-spender")["progress"] == {
        "current": "9980.00",
        "target": "10000.00",
        "label": "₹9,980.00 / ₹10,000.00 spent",
    }
    paid_order(lines=[(make_variant(sku="MUG", price="20.00"), 1)], placed_at=NOW - timedelta(days=1))
    assert codes(achievements_evaluate(user_id=shopper.pk, now=NOW)) == ["big-spender"]


def test_a_weekly_streak_runs_across_the_year_boundary(shopper, paid_order):
    # Mondays 15, 22 and 29 December 2025 (ISO week 1 of 2026 starts on the 29th), then 5 January 2026; a second
    # order in one week adds nothing.
    for day in (date(2025, 12, 16), date(2025, 12, 24), date(2025, 12, 26), date(2026, 1, 1), date(2026, 1, 9)):
        paid_order(placed_at=datetime(day.year, day.month, day.day, 10, 0, tzinfo=UTC))
    awards = achievements_evaluate(user_id=shopper.pk, now=datetime(2026, 1, 10, tzinfo=UTC))
    assert "weekly-streak-4" in codes(awards)


def test_a_gap_breaks_the_streak_and_the_longest_run_counts(shopper, paid_order):
    for day in (date(2026, 5, 4), date(2026, 5, 11), date(2026, 5, 18), date(2026, 6, 1), date(2026, 6, 8)):
        paid_order(placed_at=datetime(day.year, day.month, day.day, 10, 0, tzinfo=UTC))
    assert "weekly-streak-4" not in codes(achievements_evaluate(user_id=shopper.pk, now=NOW))
    assert progress_of(shopper, "weekly-streak-4")["progress"]["label"] == "3 / 4 weeks in a row"


def test_orders_paid_after_now_do_not_count(shopper, paid_order):
    paid_order(placed_at=NOW + timedelta(hours=1))
    assert achievements_evaluate(user_id=shopper.pk, now=NOW) == []


def test_longest_weekly_streak():
    mondays = [date(2025, 12, 29), date(2025, 12, 22), date(2026, 1, 5), date(2026, 1, 19), date(2026, 1, 5)]
    assert longest_weekly_streak(mondays) == 3
    assert longest_weekly_streak([]) == 0
    assert longest_weekly_streak([date(2026, 1, 5)]) == 1


def test_five_categories_explored(shopper, paid_order, make_variant):
    variants = [make_variant(sku=f"SKU-{n}", category=CategoryFactory()) for n in range(5)]
    paid_order(lines=[(variants[0], 1), (variants[1], 1)], placed_at=NOW - timedelta(days=2))
    paid_order(lines=[(variants[1], 1), (variants[2], 1), (variants[3], 1)], placed_at=NOW - timedelta(days=1))
    assert progress_of(shopper, "explorer-5")["progress"]["label"] == "4 / 5 categories"
    assert "explorer-5" not in codes(achievements_evaluate(user_id=shopper.pk, now=NOW))
    paid_order(lines=[(variants[4], 1)], placed_at=NOW - timedelta(days=1))
    assert "explorer-5" in codes(achievements_evaluate(user_id=shopper.pk, now=NOW))


def test_three_rewarded_referrals(shopper):
    statuses = [ReferralStatus.REWARDED, ReferralStatus.REWARDED, ReferralStatus.PENDING, ReferralStatus.REFUSED]
    for status in statuses:
        Referral.objects.create(referrer=shopper, referee=UserFactory(), code="ABCDEFGH", status=status)
    assert achievements_evaluate(user_id=shopper.pk, now=NOW) == []
    assert progress_of(shopper, "referrer-3")["progress"]["label"] == "2 / 3 friends referred"
    Referral.objects.create(referrer=shopper, referee=UserFactory(), code="ABCDEFGH", status=ReferralStatus.REWARDED)
    assert codes(achievements_evaluate(user_id=shopper.pk, now=NOW)) == ["referrer-3"]


def test_progress_lists_earned_first_and_caps_current_at_the_target(shopper, paid_order):
    paid_order(placed_at=NOW - timedelta(days=1))
    paid_order(placed_at=NOW - timedelta(days=1))
    achievements_evaluate(user_id=shopper.pk, now=NOW)
    rows = achievements_progress(user_id=shopper.pk, now=NOW)
    assert [row["code"] for row in rows] == [
        "first-order",
        "explorer-5",
        "five-orders",
        "referrer-3",
        "big-spender",
        "weekly-streak-4",
    ]
    assert rows[0] == {
        "code": "first-order",
        "name": "First order",
        "description": "Place and pay for your first order.",
        "badge": None,
        "earned": True,
        "earned_at": NOW,
        "progress": {"current": "1", "target": "1", "label": "1 / 1 order"},
        "points": 50,
    }
    assert (rows[2]["earned"], rows[2]["earned_at"], rows[2]["progress"]["label"]) == (False, None, "2 / 5 orders")


def test_an_earned_achievement_stays_earned_after_a_refund(shopper, paid_order):
    order = paid_order(placed_at=NOW - timedelta(days=1))
    achievements_evaluate(user_id=shopper.pk, now=NOW)
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.CANCELLED)
    assert progress_of(shopper, "first-order")["progress"]["label"] == "1 / 1 order"
    assert progress_of(shopper, "first-order")["earned"] is True


@pytest.mark.parametrize("orders", [1, 6])
def test_evaluation_costs_a_fixed_number_of_queries(shopper, paid_order, orders, django_assert_num_queries):
    Achievement.objects.filter(criterion="orders").update(is_active=False)
    for n in range(orders):
        paid_order(placed_at=NOW - timedelta(weeks=2 * n))
    # open achievements; orders and spend; weeks; categories; referrals
    with django_assert_num_queries(5):
        assert achievements_evaluate(user_id=shopper.pk, now=NOW) == []


def test_evaluating_with_everything_earned_costs_one_query(shopper, django_assert_num_queries):
    for achievement in Achievement.objects.all():
        AchievementAward.objects.create(user=shopper, achievement=achievement)
    with django_assert_num_queries(1):
        assert achievements_evaluate(user_id=shopper.pk, now=NOW) == []
