"""The reward catalogue: rewards bought with points, each issuing a single-use coupon through the offers app's
services (:func:`commerce.offers.services.offer_save`, so the offer's own rules apply).

What a reward issues (one ``Offer`` per redemption, applies to everything of ``reward.merchant``, in
``DEFAULT_CURRENCY``, a random 12-character code from an unambiguous alphabet, ``usage_limit=1``,
``per_user_limit=1``, live from now for ``reward.valid_days`` days, at least one):

* ``discount_coupon``: a fixed discount of ``discount_value`` on orders of at least ``min_order_amount``;
* ``free_shipping``: offers cannot waive shipping, so the coupon is a fixed discount equal to the merchant's
  shipping fee now (its ``MerchantShipping.flat_fee``, else ``ORDER_SHIPPING_FLAT_FEE``); a merchant who ships
  for free has nothing to give (409 ``reward_not_available``);
* ``cashback_booster``: an offer of kind ``cashback`` with ``cashback_rate``, no discount: an order that uses the
  code earns cashback at that rate (the cashback app reads the rate of the order's offer).

Redeeming (:func:`reward_redeem`) locks the reward row first (its stock), then the points account (the app's
lock order), re-checks everything on the locked rows, and writes the ``redeem`` entry, the coupon, the
:class:`~loyalty.models.RewardRedemption` and ``redeemed_count + 1`` in one transaction: two members racing for
the last one in stock cannot both get it, and one member cannot spend the same points twice.
Refusals: 404 unknown reward; 409 ``reward_not_available`` (switched off, merchant not active, tier too low),
``reward_out_of_stock``, ``insufficient_points``.
"""

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from commerce.catalog.models import MerchantStatus
from commerce.core.errors import Conflict, NotFoundError
from commerce.core.money import quantize
from commerce.offers.models import AppliesTo, DiscountType, Offer, OfferKind
from commerce.offers.services import offer_save
from commerce.orders.pricing import shipping_terms

from ..models import PointsAccount, PointsEntryKind, Reward, RewardKind, RewardRedemption, Tier
from .ledger import points_account_lock, points_post

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
CODE_LENGTH = 12
CODE_ATTEMPTS = 3


@dataclass(frozen=True)
class RewardEligibility:
    """Whether a member can redeem a reward now, and if not why (the codes ``reward_redeem`` would answer)."""

    can_redeem: bool
    reasons: tuple[str, ...]


def tier_allows(*, reward: Reward, tier: Tier | None) -> bool:
    """A reward for ``min_tier`` and up; a member not yet placed in a tier counts as the entry tier (threshold 0)."""
    minimum = reward.min_tier
    if minimum is None or minimum.threshold == 0:
        return True
    return tier is not None and tier.rank >= minimum.rank


def in_stock(reward: Reward) -> bool:
    return reward.stock is None or reward.redeemed_count < reward.stock


def reward_eligibility(*, reward: Reward, available: int, tier: Tier | None) -> RewardEligibility:
    """``can_redeem`` for the catalogue: the reasons in the order :func:`reward_redeem` checks them."""
    reasons = []
    if (
        not reward.is_active
        or reward.merchant.status != MerchantStatus.ACTIVE
        or not tier_allows(reward=reward, tier=tier)
    ):
        reasons.append("reward_not_available")
    if not in_stock(reward):
        reasons.append("reward_out_of_stock")
    if available < reward.points_cost:
        reasons.append("insufficient_points")
    return RewardEligibility(can_redeem=not reasons, reasons=tuple(reasons))


def rewards_catalogue() -> QuerySet[Reward]:
    """Active rewards of active merchants, cheapest first, with their merchant and minimum tier (one query)."""
    return (
        Reward.objects.filter(is_active=True, merchant__status=MerchantStatus.ACTIVE)
        .select_related("merchant", "min_tier")
        .order_by("points_cost", "id")
    )


def member_standing(*, user_id: int) -> tuple[int, Tier | None]:
    """``(available points, tier)`` of a member; ``(0, None)`` without an account (reading creates none)."""
    account = PointsAccount.objects.filter(user_id=user_id).select_related("tier").first()
    if account is None:
        return 0, None
    return account.available, account.tier


def rewards_redeemed(*, user_id: int) -> list[RewardRedemption]:
    """The member's redeemed rewards, newest first, with their reward, merchant and coupon (one query), for
    ``GET loyalty``."""
    return list(
        RewardRedemption.objects.filter(account__user_id=user_id)
        .select_related("reward__merchant", "coupon")
        .order_by("-created_at", "-id")
    )


def _code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _coupon_terms(reward: Reward) -> dict[str, object]:
    """The offer fields that make ``reward``'s coupon (see the module docstring)."""
    currency = settings.DEFAULT_CURRENCY
    if reward.kind == RewardKind.CASHBACK_BOOSTER:
        return {
            "kind": OfferKind.CASHBACK,
            "discount_value": Decimal("0.00"),
            "cashback_rate": reward.cashback_rate,
            "description": f"{reward.cashback_rate}% cashback on one order at {reward.merchant.name}.",
        }
    if reward.kind == RewardKind.FREE_SHIPPING:
        fee = quantize(shipping_terms(reward.merchant)[0], currency)
        if fee <= 0:
            raise Conflict(f"{reward.merchant.name} ships for free already.", code="reward_not_available")
        return {
            "kind": OfferKind.COUPON,
            "discount_value": fee,
            "description": f"Free shipping: {fee} {currency} off one order at {reward.merchant.name} "
            "(the shipping fee).",
        }
    value = quantize(reward.discount_value or Decimal("0"), currency)
    return {
        "kind": OfferKind.COUPON,
        "discount_value": value,
        "description": f"{value} {currency} off one order at {reward.merchant.name}.",
    }


def reward_coupon_issue(*, reward: Reward, now: datetime) -> Offer:
    """A single-use coupon for ``reward`` through ``offer_save``; a code that clashes (one in 10^18) is drawn
    again. Inside the redemption's transaction."""
    terms = _coupon_terms(reward)
    for attempt in range(CODE_ATTEMPTS):
        offer = Offer(
            merchant=reward.merchant,
            title=f"Reward: {reward.name}"[:200],
            code=_code(),
            discount_type=DiscountType.FIXED,
            min_order_amount=reward.min_order_amount,
            currency=settings.DEFAULT_CURRENCY,
            applies_to=AppliesTo.MERCHANT,
            starts_at=now,
            ends_at=now + timedelta(days=max(reward.valid_days, 1)),
            usage_limit=1,
            per_user_limit=1,
            is_active=True,
            is_listed=False,  # a personal coupon: only its holder knows the code; never in the public lists
            **terms,
        )
        try:
            return offer_save(offer=offer)
        except ValidationError as exc:
            if attempt == CODE_ATTEMPTS - 1 or "code" not in exc.message_dict:
                raise
    raise AssertionError("unreachable")


def _locked_reward(reward_id: int) -> Reward:
    reward = (
        Reward.objects.select_for_update(of=("self",))
        .select_related("merchant", "min_tier")
        .filter(pk=reward_id)
        .first()
    )
    if reward is None:
        raise NotFoundError("No such reward.")
    return reward


def _refuse(reward: Reward, account: PointsAccount) -> None:
    """The checks of :func:`reward_eligibility`, on the locked rows, as errors."""
    if not reward.is_active or reward.merchant.status != MerchantStatus.ACTIVE:
        raise Conflict("This reward is not available any more.", code="reward_not_available")
    if not tier_allows(reward=reward, tier=account.tier):
        tier = reward.min_tier.name if reward.min_tier is not None else ""
        raise Conflict(f"This reward is for {tier} members and up.", code="reward_not_available")
    if not in_stock(reward):
        raise Conflict("This reward is out of stock.", code="reward_out_of_stock")
    if account.available < reward.points_cost:
        raise Conflict(
            f"This reward costs {reward.points_cost:,} points; you have {account.available:,}.",
            code="insufficient_points",
            extra={"available": account.available},
        )


def reward_redeem(*, user_id: int, reward_id: int) -> RewardRedemption:
    """Buy reward ``reward_id`` with ``user_id``'s points: a ``redeem`` entry, a single-use coupon, the
    redemption row and one more ``redeemed_count``, or nothing (see the module docstring for the refusals)."""
    now = timezone.now()
    with transaction.atomic():
        reward = _locked_reward(reward_id)
        if not in_stock(reward):  # before the account's lock: no reason to queue on it
            raise Conflict("This reward is out of stock.", code="reward_out_of_stock")
        account = points_account_lock(user_id=user_id)
        _refuse(reward, account)
        coupon = reward_coupon_issue(reward=reward, now=now)
        entry = points_post(
            account=account,
            kind=PointsEntryKind.REDEEM,
            points=-reward.points_cost,
            key=f"reward:{reward.pk}:{uuid.uuid4().hex}",
            reason=f"Reward: {reward.name} (coupon {coupon.code})"[:300],
            now=now,
        )
        redemption = RewardRedemption.objects.create(
            reward=reward, account=account, points=reward.points_cost, coupon=coupon, entry=entry, created_at=now
        )
        Reward.objects.filter(pk=reward.pk).update(redeemed_count=F("redeemed_count") + 1)
        reward.redeemed_count += 1
    return redemption
