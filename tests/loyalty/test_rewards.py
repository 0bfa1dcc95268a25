"""The reward catalogue's service (``loyalty.services.rewards``): redeeming spends the points and issues a
single-use coupon through the offers app that really works at checkout (a fixed discount, free shipping as the
merchant's fee, a cashback booster), stock, tiers, and every refusal leaving nothing behind."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from commerce.catalog.models import MerchantStatus
from commerce.core.errors import Conflict, NotFoundError
from commerce.offers.errors import CouponUsedUp
from commerce.offers.models import AppliesTo, DiscountType, Offer, OfferKind
from commerce.orders.models import Cart, CartLine, MerchantShipping
from commerce.orders.services.cart import cart_coupon_apply
from commerce.orders.services.checkout import order_place
from loyalty.models import PointsAccount, PointsEntry, Reward, RewardKind, RewardRedemption, Tier
from loyalty.services.rewards import CODE_ALPHABET, reward_redeem, rewards_redeemed
from tests.factories import UserFactory
from tests.loyalty.conftest import points_fund
from tests.orders.factories import SHIPPING_ADDRESS

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def make_reward(merchant):
    def build(**fields):
        defaults = {
            "name": "100 off at Threads",
            "kind": RewardKind.DISCOUNT_COUPON,
            "points_cost": 400,
            "merchant": merchant,
            "discount_value": Decimal("100.00"),
            "min_order_amount": Decimal("300.00"),
            "valid_days": 30,
        }
        return Reward.objects.create(**{**defaults, **fields})

    return build


def available(user):
    return PointsAccount.objects.get(user=user).available


def nothing_written(reward):
    reward.refresh_from_db()
    return (
        reward.redeemed_count == 0
        and RewardRedemption.objects.count() == 0
        and Offer.objects.count() == 0
        and not PointsEntry.objects.filter(kind="redeem").exists()
    )


def test_redeeming_spends_the_points_and_issues_a_single_use_coupon(shopper, merchant, make_reward):
    points_fund(user=shopper, points=1000)
    reward = make_reward()

    redemption = reward_redeem(user_id=shopper.pk, reward_id=reward.pk)

    assert available(shopper) == 600
    reward.refresh_from_db()
    assert reward.redeemed_count == 1
    entry = PointsEntry.objects.get(kind="redeem")
    assert (entry.points, entry.qualifying, entry.key.startswith(f"reward:{reward.pk}:")) == (-400, False, True)
    assert (redemption.reward_id, redemption.points, redemption.entry_id) == (reward.pk, 400, entry.pk)
    coupon = Offer.objects.get()
    assert redemption.coupon_id == coupon.pk
    assert len(coupon.code) == 12 and set(coupon.code) <= set(CODE_ALPHABET)
    assert (
        coupon.merchant_id,
        coupon.kind,
        coupon.discount_type,
        coupon.discount_value,
        coupon.min_order_amount,
        coupon.currency,
        coupon.applies_to,
        coupon.usage_limit,
        coupon.per_user_limit,
        coupon.starts_at,
        coupon.ends_at,
        coupon.is_active,
        coupon.times_used,
    ) == (
        merchant.pk,
        OfferKind.COUPON,
        DiscountType.FIXED,
        Decimal("100.00"),
        Decimal("300.00"),
        "INR",
        AppliesTo.MERCHANT,
        1,
        1,
        NOW,
        NOW + timedelta(days=30),
        True,
        0,
    )
    assert entry.reason == f"Reward: 100 off at Threads (coupon {coupon.code})"


def test_the_coupon_works_once_at_checkout(shopper, tshirt, make_reward):
    points_fund(user=shopper, points=1000)
    code = reward_redeem(user_id=shopper.pk, reward_id=make_reward().pk).coupon.code
    cart = Cart.objects.create(user=shopper, merchant=tshirt.product.merchant)
    CartLine.objects.create(cart=cart, variant=tshirt, quantity=1)

    quote = cart_coupon_apply(user=shopper, code=code.lower())
    assert (quote.discount, quote.total) == (Decimal("100.00"), Decimal("448.00"))  # 499 - 100 + 49 shipping
    order = order_place(user=shopper, shipping_address=SHIPPING_ADDRESS, expected_total=quote.total)
    assert (order.offer.code, order.discount) == (code, Decimal("100.00"))

    # Used once: nobody can use it again, its owner neither.
    friend = UserFactory()
    friends_cart = Cart.objects.create(user=friend, merchant=tshirt.product.merchant)
    CartLine.objects.create(cart=friends_cart, variant=tshirt, quantity=1)
    with pytest.raises(CouponUsedUp):
        cart_coupon_apply(user=friend, code=code)
    again = Cart.objects.create(user=shopper, merchant=tshirt.product.merchant)
    CartLine.objects.create(cart=again, variant=tshirt, quantity=1)
    with pytest.raises(CouponUsedUp):
        cart_coupon_apply(user=shopper, code=code)


def test_a_reward_coupon_is_personal_never_listed_shown_or_clickable(shopper, tshirt, make_reward):
    from rest_framework.test import APIClient

    points_fund(user=shopper, points=1000)
    coupon = reward_redeem(user_id=shopper.pk, reward_id=make_reward().pk).coupon
    anyone = APIClient()

    assert coupon.is_listed is False
    listed = anyone.get("/api/v1/offers").json()["results"]
    assert coupon.pk not in [offer["id"] for offer in listed]
    assert anyone.get(f"/api/v1/offers/{coupon.pk}").status_code == 404
    assert anyone.post(f"/api/v1/offers/{coupon.pk}/click").status_code == 404
    # Its holder still applies it by code.
    cart = Cart.objects.create(user=shopper, merchant=tshirt.product.merchant)
    CartLine.objects.create(cart=cart, variant=tshirt, quantity=1)
    assert cart_coupon_apply(user=shopper, code=coupon.code).discount == Decimal("100.00")


def test_free_shipping_is_a_coupon_worth_the_merchants_shipping_fee(shopper, merchant, tshirt, make_reward):
    MerchantShipping.objects.create(merchant=merchant, flat_fee=Decimal("40.00"), free_shipping_threshold=None)
    points_fund(user=shopper, points=1000)
    reward = make_reward(kind=RewardKind.FREE_SHIPPING, discount_value=None, min_order_amount=Decimal("0.00"))

    coupon = reward_redeem(user_id=shopper.pk, reward_id=reward.pk).coupon

    assert (coupon.kind, coupon.discount_type, coupon.discount_value) == (
        OfferKind.COUPON,
        DiscountType.FIXED,
        Decimal("40.00"),
    )
    cart = Cart.objects.create(user=shopper, merchant=merchant)
    CartLine.objects.create(cart=cart, variant=tshirt, quantity=1)
    quote = cart_coupon_apply(user=shopper, code=coupon.code)
    assert (quote.discount, quote.shipping, quote.total) == (Decimal("40.00"), Decimal("40.00"), Decimal("499.00"))


def test_free_shipping_at_a_merchant_who_ships_free_is_not_available(shopper, merchant, make_reward):
    MerchantShipping.objects.create(merchant=merchant, flat_fee=Decimal("0.00"), free_shipping_threshold=None)
    points_fund(user=shopper, points=1000)
    reward = make_reward(kind=RewardKind.FREE_SHIPPING, discount_value=None)

    with pytest.raises(Conflict) as caught:
        reward_redeem(user_id=shopper.pk, reward_id=reward.pk)

    assert caught.value.code == "reward_not_available"
    assert nothing_written(reward) and available(shopper) == 1000


def test_a_cashback_booster_is_a_cashback_offer_the_order_carries(shopper, merchant, tshirt, make_reward):
    points_fund(user=shopper, points=1000)
    reward = make_reward(kind=RewardKind.CASHBACK_BOOSTER, discount_value=None, cashback_rate=Decimal("12.50"))

    coupon = reward_redeem(user_id=shopper.pk, reward_id=reward.pk).coupon

    assert (coupon.kind, coupon.discount_value, coupon.cashback_rate) == (
        OfferKind.CASHBACK,
        Decimal("0.00"),
        Decimal("12.50"),
    )
    cart = Cart.objects.create(user=shopper, merchant=merchant)
    CartLine.objects.create(cart=cart, variant=tshirt, quantity=1)
    quote = cart_coupon_apply(user=shopper, code=coupon.code)
    assert (quote.discount, quote.total) == (Decimal("0.00"), Decimal("499.00"))
    order = order_place(user=shopper, shipping_address=SHIPPING_ADDRESS, expected_total=quote.total)
    assert order.offer_id == coupon.pk  # the cashback app reads the order's offer's rate


def test_too_few_points_is_409_and_nothing_is_written(shopper, make_reward):
    points_fund(user=shopper, points=399)
    reward = make_reward()

    with pytest.raises(Conflict) as caught:
        reward_redeem(user_id=shopper.pk, reward_id=reward.pk)

    assert (caught.value.code, caught.value.extra) == ("insufficient_points", {"available": 399})
    assert nothing_written(reward) and available(shopper) == 399


def test_the_stock_runs_out(shopper, make_reward):
    points_fund(user=shopper, points=1000)
    reward = make_reward(stock=2)
    reward_redeem(user_id=shopper.pk, reward_id=reward.pk)
    reward_redeem(user_id=shopper.pk, reward_id=reward.pk)

    with pytest.raises(Conflict) as caught:
        reward_redeem(user_id=shopper.pk, reward_id=reward.pk)

    assert caught.value.code == "reward_out_of_stock"
    reward.refresh_from_db()
    assert (reward.redeemed_count, available(shopper), RewardRedemption.objects.count()) == (2, 200, 2)
    assert Offer.objects.count() == 2 and len(set(Offer.objects.values_list("code", flat=True))) == 2


@pytest.mark.parametrize(
    "change",
    [
        lambda reward: Reward.objects.filter(pk=reward.pk).update(is_active=False),
        lambda reward: (
            type(reward.merchant).objects.filter(pk=reward.merchant_id).update(status=MerchantStatus.SUSPENDED)
        ),
        lambda reward: Reward.objects.filter(pk=reward.pk).update(min_tier=Tier.objects.get(code="gold")),
    ],
    ids=["switched-off", "merchant-suspended", "tier-too-low"],
)
def test_a_reward_not_for_the_member_is_409_reward_not_available(shopper, make_reward, change):
    points_fund(user=shopper, points=1000)
    reward = make_reward()
    change(reward)

    with pytest.raises(Conflict) as caught:
        reward_redeem(user_id=shopper.pk, reward_id=reward.pk)

    assert caught.value.code == "reward_not_available"
    assert nothing_written(reward)


def test_a_member_of_the_tier_or_above_may_redeem_and_the_entry_tier_is_everyone(shopper, make_reward):
    points_fund(user=shopper, points=1000)
    gold, platinum, bronze = (Tier.objects.get(code=code) for code in ("gold", "platinum", "bronze"))
    PointsAccount.objects.filter(user=shopper).update(tier=platinum)

    reward_redeem(user_id=shopper.pk, reward_id=make_reward(min_tier=gold).pk)
    PointsAccount.objects.filter(user=shopper).update(tier=None)  # not placed yet: counts as the entry tier
    reward_redeem(user_id=shopper.pk, reward_id=make_reward(min_tier=bronze).pk)

    assert RewardRedemption.objects.count() == 2


def test_an_unknown_reward_is_404(shopper):
    with pytest.raises(NotFoundError):
        reward_redeem(user_id=shopper.pk, reward_id=987654)


def test_rewards_redeemed_lists_the_members_own_newest_first_in_one_query(
    shopper, make_reward, django_assert_num_queries
):
    points_fund(user=shopper, points=1000)
    other = UserFactory()
    points_fund(user=other, points=1000)
    reward = make_reward()
    first = reward_redeem(user_id=shopper.pk, reward_id=reward.pk)
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        second = reward_redeem(user_id=shopper.pk, reward_id=reward.pk)
    reward_redeem(user_id=other.pk, reward_id=reward.pk)

    with django_assert_num_queries(1):
        listed = rewards_redeemed(user_id=shopper.pk)
        codes = [(r.pk, r.coupon.code, r.reward.merchant.name) for r in listed]

    assert codes == [
        (second.pk, second.coupon.code, "Threads"),
        (first.pk, first.coupon.code, "Threads"),
    ]
