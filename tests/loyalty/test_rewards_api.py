"""``GET loyalty/rewards`` and ``POST loyalty/rewards/{id}/redeem``: the catalogue with ``can_redeem`` and its
reasons for the caller, the redemption's 201 body with the coupon, the optional ``Idempotency-Key``, every
refusal's status and body, and a query budget flat in the number of rewards."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from rest_framework.test import APIClient

from loyalty.models import PointsAccount, Reward, RewardKind, RewardRedemption, Tier
from tests.loyalty.conftest import points_fund

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
URL = "/api/v1/loyalty/rewards"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def money(amount):
    return {"amount": amount, "currency": "INR"}


@pytest.fixture
def catalogue(merchant):
    gold = Tier.objects.get(code="gold")
    return [
        Reward.objects.create(
            name="100 off",
            kind=RewardKind.DISCOUNT_COUPON,
            points_cost=400,
            merchant=merchant,
            discount_value=Decimal("100.00"),
            min_order_amount=Decimal("300.00"),
        ),
        Reward.objects.create(
            name="Cashback x2",
            description="Double cashback on one order.",
            kind=RewardKind.CASHBACK_BOOSTER,
            points_cost=600,
            merchant=merchant,
            cashback_rate=Decimal("10.00"),
            stock=1,
            redeemed_count=1,
        ),
        Reward.objects.create(
            name="Free shipping",
            kind=RewardKind.FREE_SHIPPING,
            points_cost=800,
            merchant=merchant,
            min_tier=gold,
            valid_days=7,
        ),
        Reward.objects.create(
            name="Off",
            kind="discount_coupon",
            points_cost=1,
            merchant=merchant,
            discount_value=Decimal("1.00"),
            is_active=False,
        ),
    ]


def test_the_catalogue_says_what_the_caller_can_redeem_and_why_not(shopper, shopper_client, catalogue):
    points_fund(user=shopper, points=700)

    response = shopper_client.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    merchant = {"slug": "threads", "name": "Threads"}
    assert body["results"] == [
        {
            "id": catalogue[0].pk,
            "name": "100 off",
            "description": "",
            "kind": "discount_coupon",
            "points_cost": 400,
            "merchant": merchant,
            "discount": money("100.00"),
            "min_order_amount": money("300.00"),
            "cashback_rate": None,
            "valid_days": 30,
            "stock_left": None,
            "min_tier": None,
            "can_redeem": True,
            "reasons": [],
        },
        {
            "id": catalogue[1].pk,
            "name": "Cashback x2",
            "description": "Double cashback on one order.",
            "kind": "cashback_booster",
            "points_cost": 600,
            "merchant": merchant,
            "discount": None,
            "min_order_amount": money("0.00"),
            "cashback_rate": "10.00",
            "valid_days": 30,
            "stock_left": 0,
            "min_tier": None,
            "can_redeem": False,
            "reasons": ["reward_out_of_stock"],
        },
        {
            "id": catalogue[2].pk,
            "name": "Free shipping",
            "description": "",
            "kind": "free_shipping",
            "points_cost": 800,
            "merchant": merchant,
            "discount": None,
            "min_order_amount": money("0.00"),
            "cashback_rate": None,
            "valid_days": 7,
            "stock_left": None,
            "min_tier": {"code": "gold", "name": "Gold"},
            "can_redeem": False,
            "reasons": ["reward_not_available", "insufficient_points"],
        },
    ]


def test_a_member_without_an_account_sees_the_catalogue_and_none_is_created(shopper_client, catalogue):
    body = shopper_client.get(URL).json()
    assert [row["reasons"] for row in body["results"]] == [
        ["insufficient_points"],
        ["reward_out_of_stock", "insufficient_points"],
        ["reward_not_available", "insufficient_points"],
    ]
    assert PointsAccount.objects.count() == 0


@pytest.mark.parametrize("rewards", [1, 12])
def test_the_catalogue_costs_three_queries_whatever_its_size(
    shopper, shopper_client, merchant, django_assert_num_queries, rewards
):
    gold = Tier.objects.get(code="gold")
    for index in range(rewards):
        Reward.objects.create(
            name=f"R{index}",
            kind="discount_coupon",
            points_cost=10 + index,
            merchant=merchant,
            discount_value=Decimal("5.00"),
            min_tier=gold,
        )
    points_fund(user=shopper, points=5)
    with django_assert_num_queries(3):  # count, page (with merchant and tier), the caller's account (with tier)
        assert shopper_client.get(URL).status_code == 200


def test_redeeming_answers_201_with_the_coupon(shopper, shopper_client, catalogue):
    points_fund(user=shopper, points=700)

    response = shopper_client.post(f"{URL}/{catalogue[0].pk}/redeem")

    assert response.status_code == 201, response.json()
    redemption = RewardRedemption.objects.get()
    assert response.json() == {
        "id": redemption.pk,
        "reward": {"id": catalogue[0].pk, "name": "100 off", "kind": "discount_coupon"},
        "points": 400,
        "coupon": {
            "code": redemption.coupon.code,
            "merchant": {"slug": "threads", "name": "Threads"},
            "discount": money("100.00"),
            "min_order_amount": money("300.00"),
            "cashback_rate": None,
            "valid_from": "2026-03-02T10:00:00Z",
            "valid_until": "2026-04-01T10:00:00Z",
            "used": False,
        },
        "created_at": "2026-03-02T10:00:00Z",
    }
    assert PointsAccount.objects.get(user=shopper).available == 300


def test_the_same_idempotency_key_redeems_once(shopper, shopper_client, catalogue):
    points_fund(user=shopper, points=1000)
    url = f"{URL}/{catalogue[0].pk}/redeem"

    first = shopper_client.post(url, HTTP_IDEMPOTENCY_KEY="tap-1")
    again = shopper_client.post(url, HTTP_IDEMPOTENCY_KEY="tap-1")
    other_reward = shopper_client.post(f"{URL}/{catalogue[2].pk}/redeem", HTTP_IDEMPOTENCY_KEY="tap-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert other_reward.status_code == 409 and other_reward.json()["code"] == "idempotency_key_reused"
    assert RewardRedemption.objects.count() == 1
    assert PointsAccount.objects.get(user=shopper).available == 600


def test_a_malformed_idempotency_key_is_400(shopper, shopper_client, catalogue):
    points_fund(user=shopper, points=1000)
    response = shopper_client.post(f"{URL}/{catalogue[0].pk}/redeem", HTTP_IDEMPOTENCY_KEY="k" * 256)
    assert (response.status_code, list(response.json()["fields"])) == (400, ["Idempotency-Key"])
    assert RewardRedemption.objects.count() == 0


@pytest.mark.parametrize(
    ("index", "points", "status", "code"),
    [
        (0, 399, 409, "insufficient_points"),
        (1, 1000, 409, "reward_out_of_stock"),
        (2, 1000, 409, "reward_not_available"),
        (3, 1000, 409, "reward_not_available"),
    ],
    ids=["points", "stock", "tier", "inactive"],
)
def test_refusals_answer_their_code(shopper, shopper_client, catalogue, index, points, status, code):
    points_fund(user=shopper, points=points)
    response = shopper_client.post(f"{URL}/{catalogue[index].pk}/redeem")
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert RewardRedemption.objects.count() == 0
    assert PointsAccount.objects.get(user=shopper).available == points


def test_an_unknown_reward_is_404_and_anonymous_is_401(shopper_client):
    assert shopper_client.post(f"{URL}/999999/redeem").status_code == 404
    assert APIClient().post(f"{URL}/1/redeem").status_code == 401
    assert APIClient().get(URL).status_code == 401
