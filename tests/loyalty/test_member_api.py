"""GET loyalty and GET loyalty/transactions: exact shapes, a first look creating the account with its referral code,
pagination newest first, ownership, and query budgets flat in the number of entries, lots and rewards."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import transaction
from rest_framework.test import APIClient

from loyalty.models import PointsAccount, PointsEntryKind, Reward, RewardKind
from loyalty.services.ledger import points_account_lock, points_post
from loyalty.services.rewards import reward_redeem
from tests.factories import UserFactory

from .conftest import points_fund

pytestmark = pytest.mark.django_db

LOYALTY = "/api/v1/loyalty"
TRANSACTIONS = "/api/v1/loyalty/transactions"
NOW = datetime(2026, 4, 1, 9, 30, tzinfo=UTC)
REFERRAL_ALPHABET = set("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")


def post(user, kind, key, **movement):
    with transaction.atomic():
        return points_post(account=points_account_lock(user_id=user.pk), kind=kind, key=key, **movement)


@pytest.fixture
def reward(merchant):
    return Reward.objects.create(
        name="100 off at Threads",
        kind=RewardKind.DISCOUNT_COUPON,
        points_cost=100,
        merchant=merchant,
        discount_value=Decimal("100.00"),
        valid_days=30,
    )


# --- GET loyalty ---------------------------------------------------------------------------------------------


def test_loyalty_has_the_exact_shape(shopper_client, shopper, paid_order, reward):
    with time_machine.travel(NOW - timedelta(days=360), tick=False):
        points_fund(user=shopper, points=300)  # expires 12 months later: 5 days after NOW
    with time_machine.travel(NOW - timedelta(days=2), tick=False):
        order = paid_order()
        post(shopper, PointsEntryKind.EARN_PENDING, "order-earn:test", pending_points=120, qualifying=True, order=order)
        redemption = reward_redeem(user_id=shopper.pk, reward_id=reward.pk)
    account = PointsAccount.objects.get(user=shopper)

    with time_machine.travel(NOW, tick=False):
        response = shopper_client.get(LOYALTY)

    assert response.status_code == 200
    assert response.json() == {
        "points": {"available": 200, "pending": 120, "lifetime": 300, "held": 0},
        "tier": {
            "code": "bronze",
            "name": "Bronze",
            "progress": {"points": 120, "next_threshold": 1000, "percent": 12},
            "next": {"code": "silver", "name": "Silver", "points_needed": 880},
        },
        "expiring_soon": [{"points": 200, "expires_at": "2026-04-06T09:30:00Z"}],
        "referral_code": account.referral_code,
        "rewards": [
            {
                "reward": "100 off at Threads",
                "code": redemption.coupon.code,
                "valid_until": "2026-04-29T09:30:00Z",
                "used": False,
            }
        ],
    }


def test_a_first_look_creates_the_account_with_its_referral_code(shopper_client, shopper):
    with time_machine.travel(NOW, tick=False):
        body = shopper_client.get(LOYALTY).json()

    account = PointsAccount.objects.get(user=shopper)
    assert body["referral_code"] == account.referral_code
    assert len(account.referral_code) == 8 and set(account.referral_code) <= REFERRAL_ALPHABET
    assert body["points"] == {"available": 0, "pending": 0, "lifetime": 0, "held": 0}
    assert (body["tier"]["code"], body["tier"]["next"]["points_needed"]) == ("bronze", 1000)
    assert (body["expiring_soon"], body["rewards"]) == ([], [])
    assert shopper_client.get(LOYALTY).json()["referral_code"] == account.referral_code  # the same one after
    assert PointsAccount.objects.filter(user=shopper).count() == 1


def test_a_used_coupon_shows_as_used(shopper_client, shopper, reward):
    points_fund(user=shopper, points=100)
    redemption = reward_redeem(user_id=shopper.pk, reward_id=reward.pk)
    type(redemption.coupon).objects.filter(pk=redemption.coupon_id).update(times_used=1)

    (row,) = shopper_client.get(LOYALTY).json()["rewards"]

    assert row["used"] is True


def test_held_points_are_shown_apart(shopper_client, shopper):
    points_fund(user=shopper, points=500)
    post(shopper, PointsEntryKind.HOLD, "order-hold:test", points=-200, held_points=200)

    assert shopper_client.get(LOYALTY).json()["points"] == {
        "available": 300,
        "pending": 0,
        "lifetime": 500,
        "held": 200,
    }


def test_loyalty_needs_a_signed_in_member():
    response = APIClient().get(LOYALTY)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_loyalty_costs_the_same_for_a_short_or_long_history(
    shopper_client, shopper, merchant, django_assert_num_queries
):
    def history(count: int) -> None:
        for index in range(count):
            points_fund(user=shopper, points=150)
            post(shopper, PointsEntryKind.EARN, f"earn:{count}:{index}", points=10, qualifying=True)
            reward = Reward.objects.create(
                name=f"R{count}-{index}",
                kind=RewardKind.DISCOUNT_COUPON,
                points_cost=100,
                merchant=merchant,
                discount_value=Decimal("10.00"),
            )
            reward_redeem(user_id=shopper.pk, reward_id=reward.pk)

    with time_machine.travel(NOW - timedelta(days=350), tick=False):
        history(1)
    shopper_client.get(LOYALTY)  # the programme row cached
    with time_machine.travel(NOW, tick=False), django_assert_num_queries(QUERIES_LOYALTY):
        short = shopper_client.get(LOYALTY)
    with time_machine.travel(NOW - timedelta(days=340), tick=False):
        history(5)

    with time_machine.travel(NOW, tick=False), django_assert_num_queries(QUERIES_LOYALTY):
        long = shopper_client.get(LOYALTY)

    assert len(short.json()["rewards"]) == 1 and len(long.json()["rewards"]) == 6
    # Rewards spent the oldest points first: what is left of all of them expires on the later date.
    assert long.json()["expiring_soon"] == [{"points": 360, "expires_at": "2026-04-26T09:30:00Z"}]


# The account, the tiers, the programme (for the tier window), the qualifying points, the programme again (for
# the reminder days: programme_get is one query per call), the lots expiring soon, the rewards with their coupons.
QUERIES_LOYALTY = 7


# --- GET loyalty/transactions ------------------------------------------------------------------------------------


def test_transactions_have_the_exact_shape_newest_first(shopper_client, shopper, paid_order):
    with time_machine.travel(NOW, tick=False) as traveller:
        points_fund(user=shopper, points=50)
        traveller.shift(60)
        order = paid_order()
        pending = post(
            shopper,
            PointsEntryKind.EARN_PENDING,
            f"order-earn:{order.pk}",
            pending_points=90,
            qualifying=True,
            order=order,
            rule_code="spend-default",
            reason="1 point per 10.00 INR",
        )
        traveller.shift(60)
        adjustment = post(shopper, PointsEntryKind.ADJUSTMENT, "adj", points=-20, reason="Goodwill taken back")

    response = shopper_client.get(TRANSACTIONS)

    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["next"], body["previous"]) == (3, None, None)
    newest, earned, funded = body["results"]
    assert newest == {
        "id": adjustment.pk,
        "kind": "adjustment",
        "points": -20,
        "pending_points": 0,
        "held_points": 0,
        "balance_after": 30,
        "description": "Adjustment: Goodwill taken back",
        "reason": "Goodwill taken back",
        "order": None,
        "created_at": "2026-04-01T09:32:00Z",
    }
    assert earned == {
        "id": pending.pk,
        "kind": "earn_pending",
        "points": 0,
        "pending_points": 90,
        "held_points": 0,
        "balance_after": 50,
        "description": f"Points earned on order {order.number}, pending until the return window ends",
        "reason": "1 point per 10.00 INR",
        "order": order.number,
        "created_at": "2026-04-01T09:31:00Z",
    }
    assert (funded["kind"], funded["points"], funded["created_at"]) == ("adjustment", 50, "2026-04-01T09:30:00Z")


@pytest.mark.parametrize(
    ("kind", "movement", "description"),
    [
        (
            PointsEntryKind.EARN,
            {"points": 100, "reason": "Ambassador achievement"},
            "Points earned: Ambassador achievement",
        ),
        (PointsEntryKind.HOLD, {"points": -10, "held_points": 10}, "Points held for checkout"),
        (PointsEntryKind.REDEEM, {"points": -10}, "Points spent on a reward"),
        (PointsEntryKind.EXPIRE, {"points": -10}, "Points expired"),
    ],
)
def test_each_row_describes_itself(shopper_client, shopper, kind, movement, description):
    points_fund(user=shopper, points=100)
    post(shopper, kind, "row", **movement)

    assert shopper_client.get(TRANSACTIONS).json()["results"][0]["description"] == description


def test_transactions_are_paginated(shopper_client, shopper):
    with time_machine.travel(NOW, tick=False) as traveller:
        for _ in range(5):
            points_fund(user=shopper, points=1)
            traveller.shift(1)

    first = shopper_client.get(TRANSACTIONS, {"page_size": 2}).json()
    last = shopper_client.get(TRANSACTIONS, {"page_size": 2, "page": 3}).json()

    assert first["count"] == 5
    assert [row["balance_after"] for row in first["results"]] == [5, 4]
    assert first["next"].endswith("/api/v1/loyalty/transactions?page=2&page_size=2")
    assert [row["balance_after"] for row in last["results"]] == [1]
    assert last["next"] is None


@pytest.mark.parametrize(
    "query", [{"page": "0"}, {"page": "abc"}, {"page": "99"}, {"page_size": "0"}, {"page_size": "101"}]
)
def test_bad_pages_are_a_400(shopper_client, shopper, query):
    points_fund(user=shopper, points=1)

    response = shopper_client.get(TRANSACTIONS, query)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_another_members_rows_are_never_shown(shopper_client, shopper):
    mine = points_fund(user=shopper, points=10).entries.get()
    points_fund(user=UserFactory(), points=99)

    ids = [row["id"] for row in shopper_client.get(TRANSACTIONS).json()["results"]]

    assert ids == [mine.pk]


def test_transactions_write_nothing_for_a_member_without_an_account(shopper_client, shopper):
    response = shopper_client.get(TRANSACTIONS)

    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}
    assert not PointsAccount.objects.filter(user=shopper).exists()


def test_transactions_cost_two_queries_for_one_row_or_a_page(
    shopper_client, shopper, paid_order, django_assert_num_queries
):
    points_fund(user=shopper, points=1)
    with django_assert_num_queries(2):  # the count and the page (orders joined)
        shopper_client.get(TRANSACTIONS)
    for index in range(25):
        post(shopper, PointsEntryKind.EARN_PENDING, f"e{index}", pending_points=5, order=paid_order())

    with django_assert_num_queries(2):
        response = shopper_client.get(TRANSACTIONS)

    assert len(response.json()["results"]) == 20


def test_transactions_need_a_signed_in_member():
    assert APIClient().get(TRANSACTIONS).status_code == 401
