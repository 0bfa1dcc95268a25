"""The member's loyalty as JSON: the body of ``GET loyalty`` and the rows of ``GET loyalty/transactions``.

``GET loyalty``
    ``points``: ``available`` (yours to spend), ``pending`` (earned on orders still inside their return window),
    ``lifetime`` (every point made available, less what refunds took back) and ``held`` (set aside by checkouts
    not yet paid). ``tier``: the member's tier with their progress to the next (``next`` is null at the top).
    ``expiring_soon``: lots of points expiring within the reminder window, soonest first. ``referral_code``: the
    code a friend signs up with. ``rewards``: the coupons bought with points, newest first.

``GET loyalty/transactions`` rows
    ``points`` is the row's signed effect on the available balance, ``pending_points`` on the pending one and
    ``held_points`` on the held one; ``balance_after`` the available balance right after it; ``description`` a
    sentence for people; ``reason`` why a rule fired (or the staff's reason); ``order`` the order's number or null.

The serializers read only what :mod:`loyalty.member_selectors` loads, so each costs a fixed number of queries.
"""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..member_selectors import MemberSummary, points_entry_description
from ..models import PointsEntry, PointsEntryKind, RewardRedemption


class PointsBalancesSerializer(serializers.Serializer[Any]):
    available = serializers.IntegerField(read_only=True, help_text="Yours to spend.")
    pending = serializers.IntegerField(read_only=True, help_text="Earned on orders still inside their return window.")
    lifetime = serializers.IntegerField(read_only=True, help_text="Every point made available, less refunds.")
    held = serializers.IntegerField(read_only=True, help_text="Set aside by checkouts not yet paid.")


class TierProgressSerializer(serializers.Serializer[Any]):
    points = serializers.IntegerField(read_only=True, help_text="Qualifying points in the rolling window.")
    next_threshold = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="What the next tier needs; null at the top tier."
    )
    percent = serializers.IntegerField(read_only=True, help_text="How far to the next tier, 0 to 100.")


class NextTierSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    points_needed = serializers.IntegerField(read_only=True)


class TierSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(read_only=True, allow_null=True)
    name = serializers.CharField(read_only=True, allow_null=True)
    progress = TierProgressSerializer(read_only=True)
    next = NextTierSerializer(read_only=True, allow_null=True)


class ExpiringPointsSerializer(serializers.Serializer[Any]):
    points = serializers.IntegerField(read_only=True)
    expires_at = serializers.DateTimeField(read_only=True)


class RedeemedRewardSerializer(serializers.Serializer[Any]):
    reward = serializers.CharField(read_only=True, help_text="The reward's name.")
    code = serializers.CharField(read_only=True, allow_null=True, help_text="The coupon code to use at checkout.")
    valid_until = serializers.DateTimeField(read_only=True, allow_null=True)
    used = serializers.BooleanField(read_only=True, help_text="The coupon was used on an order.")


class LoyaltySerializer(serializers.Serializer[Any]):
    """Your points, tier, points expiring soon, referral code and reward coupons."""

    points = PointsBalancesSerializer(read_only=True)
    tier = TierSerializer(read_only=True)
    expiring_soon = ExpiringPointsSerializer(many=True, read_only=True)
    referral_code = serializers.CharField(read_only=True)
    rewards = RedeemedRewardSerializer(many=True, read_only=True)


def _redeemed(redemption: RewardRedemption) -> dict[str, Any]:
    coupon = redemption.coupon
    return {
        "reward": redemption.reward.name,
        "code": coupon.code if coupon is not None else None,
        "valid_until": coupon.ends_at if coupon is not None else None,
        "used": bool(coupon is not None and coupon.times_used > 0),
    }


def loyalty_payload(summary: MemberSummary) -> dict[str, Any]:
    account = summary.account
    data = {
        "points": {
            "available": account.available,
            "pending": account.pending,
            "lifetime": account.lifetime,
            "held": account.held,
        },
        "tier": summary.tier,
        "expiring_soon": [{"points": points, "expires_at": at} for points, at in summary.expiring_soon],
        "referral_code": account.referral_code,
        "rewards": [_redeemed(redemption) for redemption in summary.rewards],
    }
    return dict(LoyaltySerializer(data).data)


class PointsTransactionSerializer(serializers.ModelSerializer[PointsEntry]):
    """One row of the points ledger."""

    kind = serializers.ChoiceField(choices=PointsEntryKind.choices, read_only=True)
    description = serializers.SerializerMethodField()
    order = serializers.SerializerMethodField()

    class Meta:
        model = PointsEntry
        fields = [
            "id",
            "kind",
            "points",
            "pending_points",
            "held_points",
            "balance_after",
            "description",
            "reason",
            "order",
            "created_at",
        ]
        read_only_fields = fields

    def get_description(self, entry: PointsEntry) -> str:
        return points_entry_description(entry)

    @extend_schema_field(serializers.CharField(allow_null=True, help_text="The order's number, e.g. ORD-7K3M9Q."))
    def get_order(self, entry: PointsEntry) -> str | None:
        return entry.order.number if entry.order is not None else None
