"""Shapes of ``POST cart/points`` (its body; the answer is the cart's own ``CartSerializer``), of the reward
catalogue (``GET loyalty/rewards``) and of a redemption (``POST loyalty/rewards/{id}/redeem``).

Inputs are strict: points are a JSON integer (not ``"500"``, ``500.0`` or ``true``) from 1 to 2,147,483,647.
Rendering is done by :func:`reward_payload` / :func:`redemption_payload` (no query per row: the catalogue's
rewards come with their merchant and tier); the serializers below document exactly that shape.
"""

from typing import Any

from rest_framework import serializers

from commerce.core.api.fields import MoneyField, money

from ..models import Reward, RewardKind, RewardRedemption
from ..services.redemption import MAX_CART_POINTS
from ..services.rewards import RewardEligibility

POINTS_MESSAGE = f"Enter a whole number of points from 1 to {MAX_CART_POINTS}."
REASONS = ["reward_not_available", "reward_out_of_stock", "insufficient_points"]


class PointsField(serializers.IntegerField):
    """A JSON integer from 1 to :data:`MAX_CART_POINTS`; strings, fractions and booleans are refused."""

    default_error_messages = {
        "invalid": POINTS_MESSAGE,
        "min_value": POINTS_MESSAGE,
        "max_value": POINTS_MESSAGE,
        "max_string_length": POINTS_MESSAGE,
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=1, max_value=MAX_CART_POINTS, **kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        value: int = super().to_internal_value(data)
        return value


class CartPointsInputSerializer(serializers.Serializer[Any]):
    points = PointsField(help_text="Points to spend on the cart; the cart uses as many as the rules allow.")


class RewardMerchantSerializer(serializers.Serializer[Any]):
    slug = serializers.CharField()
    name = serializers.CharField()


class RewardTierSerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    name = serializers.CharField()


class RewardSerializer(serializers.Serializer[Any]):
    """A reward of the catalogue, and whether the caller can redeem it now (if not, ``reasons`` say why)."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    kind = serializers.ChoiceField(choices=RewardKind.choices)
    points_cost = serializers.IntegerField()
    merchant = RewardMerchantSerializer()
    discount = MoneyField(
        allow_null=True, help_text="discount_coupon: the coupon's discount; free_shipping, cashback_booster: null."
    )
    min_order_amount = MoneyField(help_text="The coupon needs an order of at least this amount.")
    cashback_rate = serializers.DecimalField(
        max_digits=5, decimal_places=2, allow_null=True, help_text="cashback_booster: per cent; otherwise null."
    )
    valid_days = serializers.IntegerField(help_text="The issued coupon is valid this many days.")
    stock_left = serializers.IntegerField(allow_null=True, help_text="How many are left; null: no limit.")
    min_tier = RewardTierSerializer(allow_null=True)
    can_redeem = serializers.BooleanField()
    reasons = serializers.ListField(
        child=serializers.ChoiceField(choices=REASONS), help_text="Why not (empty when can_redeem)."
    )


class RewardBriefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=RewardKind.choices)


class RewardCouponSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(help_text="Apply it to a cart of the merchant with POST cart/coupon.")
    merchant = RewardMerchantSerializer()
    discount = MoneyField(help_text="Fixed discount on the order (0 for a cashback booster).")
    min_order_amount = MoneyField()
    cashback_rate = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    valid_from = serializers.DateTimeField()
    valid_until = serializers.DateTimeField(allow_null=True, help_text="Reward coupons always end; null: no end.")
    used = serializers.BooleanField()


class RewardRedemptionSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    reward = RewardBriefSerializer()
    points = serializers.IntegerField(help_text="Points it cost.")
    coupon = RewardCouponSerializer()
    created_at = serializers.DateTimeField()


def _decimal(value: Any) -> str | None:
    return None if value is None else f"{value:.2f}"


def reward_payload(reward: Reward, eligibility: RewardEligibility, currency: str) -> dict[str, Any]:
    merchant, tier = reward.merchant, reward.min_tier
    return {
        "id": reward.pk,
        "name": reward.name,
        "description": reward.description,
        "kind": reward.kind,
        "points_cost": reward.points_cost,
        "merchant": {"slug": merchant.slug, "name": merchant.name},
        "discount": (
            money(reward.discount_value, currency)
            if reward.kind == RewardKind.DISCOUNT_COUPON and reward.discount_value is not None
            else None
        ),
        "min_order_amount": money(reward.min_order_amount, currency),
        "cashback_rate": _decimal(reward.cashback_rate) if reward.kind == RewardKind.CASHBACK_BOOSTER else None,
        "valid_days": max(reward.valid_days, 1),
        "stock_left": None if reward.stock is None else max(reward.stock - reward.redeemed_count, 0),
        "min_tier": {"code": tier.code, "name": tier.name} if tier is not None else None,
        "can_redeem": eligibility.can_redeem,
        "reasons": list(eligibility.reasons),
    }


def redemption_payload(redemption: RewardRedemption) -> dict[str, Any]:
    """A redemption with its coupon (``coupon`` loaded with the redemption; ``reward.merchant`` too)."""
    reward, coupon = redemption.reward, redemption.coupon
    assert coupon is not None  # every redemption issues one; the column is nullable only for PROTECT's sake
    merchant = reward.merchant
    return {
        "id": redemption.pk,
        "reward": {"id": reward.pk, "name": reward.name, "kind": reward.kind},
        "points": redemption.points,
        "coupon": {
            "code": coupon.code,
            "merchant": {"slug": merchant.slug, "name": merchant.name},
            "discount": money(coupon.discount_value, coupon.currency),
            "min_order_amount": money(coupon.min_order_amount, coupon.currency),
            "cashback_rate": _decimal(coupon.cashback_rate),
            "valid_from": serializers.DateTimeField().to_representation(coupon.starts_at),
            "valid_until": (
                serializers.DateTimeField().to_representation(coupon.ends_at) if coupon.ends_at is not None else None
            ),
            "used": coupon.times_used > 0,
        },
        "created_at": serializers.DateTimeField().to_representation(redemption.created_at),
    }
