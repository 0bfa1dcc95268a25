"""Spending points under real parallel transactions (PostgreSQL): two checkouts spending the same 500 points at
once hold them once; the last reward in stock goes to one of two members; one member's points buy one of two
rewards racing for them. Each worker runs the real service in its own thread and connection, all released at once
(``tests/concurrency.py``)."""

from decimal import Decimal

import pytest
from django.db import transaction

from commerce.orders.adjustments import AdjustmentQuote
from commerce.orders.models import OrderStatus
from loyalty.models import PointsAccount, PointsEntry, PointsHold, Reward, RewardKind, RewardRedemption
from loyalty.services.redemption import PointsRedemption
from loyalty.services.rewards import reward_redeem
from tests.concurrency import error_codes, run_together
from tests.factories import UserFactory
from tests.loyalty.conftest import points_fund

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def balances(user):
    return PointsAccount.objects.values_list("available", "held").get(user=user)


def test_two_checkouts_spending_the_same_500_points_hold_them_once(shopper, paid_order):
    """A member has one open cart, so two checkouts of the same member cannot both get past the cart's lock with
    a cart in hand. The race that matters is at the points account: two orders of the member, each quoted 500
    points while 500 were available (two carts quoted in two tabs, one checked out just before the other, or
    any two checkouts of one account), each applying its quote inside its own transaction as checkout does
    (``PointsRedemption().apply`` after the order row is written). Both re-check ``available`` under the
    account's lock: one holds the 500 points, the other answers 409 ``insufficient_points`` and its checkout
    rolls back."""
    points_fund(user=shopper, points=500)
    orders = [paid_order(status=OrderStatus.PENDING_PAYMENT) for _ in range(2)]
    quote = AdjustmentQuote(source="loyalty_points", label="500 points", amount=Decimal("125.00"), data={"points": 500})

    def checkout(order):
        def run():
            with transaction.atomic():
                PointsRedemption().apply(order=order, quote=quote)

        return run

    results = run_together([checkout(order) for order in orders])

    assert error_codes(results) == {"ok": 1, "insufficient_points": 1}
    assert balances(shopper) == (0, 500)
    hold = PointsHold.objects.get()
    assert (hold.points, hold.status) == (500, "held")
    assert list(PointsEntry.objects.filter(kind="hold").values_list("points", "held_points", "key")) == [
        (-500, 500, f"order-hold:{hold.order_id}")
    ]


def test_two_members_racing_for_the_last_reward_in_stock_one_gets_it(merchant):
    reward = Reward.objects.create(
        name="Last one",
        kind=RewardKind.DISCOUNT_COUPON,
        points_cost=300,
        merchant=merchant,
        discount_value=Decimal("50.00"),
        stock=1,
    )
    members = [UserFactory() for _ in range(2)]
    for member in members:
        points_fund(user=member, points=1000)

    results = run_together(
        [lambda member=member: reward_redeem(user_id=member.pk, reward_id=reward.pk) for member in members]
    )

    assert error_codes(results) == {"ok": 1, "reward_out_of_stock": 1}
    reward.refresh_from_db()
    assert reward.redeemed_count == 1
    winner = RewardRedemption.objects.get().account.user
    loser = next(member for member in members if member.pk != winner.pk)
    assert (balances(winner), balances(loser)) == ((700, 0), (1000, 0))
    assert PointsEntry.objects.filter(kind="redeem").count() == 1


def test_one_members_points_buy_only_one_of_two_rewards_racing_for_them(shopper, merchant):
    rewards = [
        Reward.objects.create(
            name=f"Reward {index}",
            kind=RewardKind.DISCOUNT_COUPON,
            points_cost=400,
            merchant=merchant,
            discount_value=Decimal("50.00"),
        )
        for index in range(2)
    ]
    points_fund(user=shopper, points=500)

    results = run_together(
        [lambda reward=reward: reward_redeem(user_id=shopper.pk, reward_id=reward.pk) for reward in rewards]
    )

    assert error_codes(results) == {"ok": 1, "insufficient_points": 1}
    assert balances(shopper) == (100, 0)
    assert RewardRedemption.objects.count() == 1
    assert sorted(Reward.objects.values_list("redeemed_count", flat=True)) == [0, 1]
