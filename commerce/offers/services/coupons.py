"""Coupon validation and redemption, for the checkout to call.

The checkout quotes a discount with :func:`coupon_validate` while the shopper builds the cart, and redeems it
with :func:`coupon_redeem` inside the transaction that places the order (an order cancelled before payment
gives the use back with :func:`coupon_release`, which marks the redemption released: redemptions are never
deleted, and ``Offer.times_used`` always equals the number of unreleased ones). Errors are the typed ones in
:mod:`commerce.offers.errors`.

Rules:

- the code matches case-insensitively, among active offers of the given (active) merchant;
- the discount applies only to the eligible lines' amounts: every line for ``applies_to=merchant``, lines in
  the offer's categories *or their subcategories*, or lines of the offer's products;
- the minimum order amount is compared with the whole cart subtotal (all lines);
- a percentage discount is capped by ``max_discount``; a fixed one never exceeds the eligible amount;
- the discount is rounded once, half up, to the currency's minor unit.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Lower
from django.utils import timezone

from commerce.catalog.models import Merchant, MerchantStatus
from commerce.core.errors import InvalidInput
from commerce.core.money import normalize_currency, percent_of, quantize, to_decimal

from ..errors import (
    CouponExpired,
    CouponMinimumNotMet,
    CouponNotApplicable,
    CouponNotStarted,
    CouponPerUserLimit,
    CouponUnknown,
    CouponUsedUp,
)
from ..models import AppliesTo, DiscountType, Offer, OfferRedemption, RedemptionStatus, normalize_code
from ..selectors import category_ids_with_descendants


@dataclass(frozen=True)
class CartLine:
    """One cart line as the coupon service sees it. ``amount`` is the line total (unit price x quantity)."""

    product_id: int
    category_id: int
    amount: Decimal


@dataclass(frozen=True)
class CouponQuote:
    offer: Offer
    discount: Decimal
    currency: str
    eligible_amount: Decimal


def _user_id(user: AbstractBaseUser | AnonymousUser | None) -> int | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return None if user.pk is None else int(user.pk)


def _find(code: str, merchant: Merchant) -> Offer:
    cleaned = normalize_code(code)
    if cleaned is None:
        raise CouponUnknown("Enter a coupon code.")
    offer = (
        Offer.objects.alias(code_ci=Lower("code"))
        .filter(code__isnull=False, is_active=True, code_ci=Lower(Value(cleaned)))
        .select_related("merchant")
        .first()
    )
    if offer is None or offer.merchant_id != merchant.pk or offer.merchant.status != MerchantStatus.ACTIVE:
        raise CouponUnknown(f"There is no coupon {cleaned} for {merchant.name}.")
    return offer


def _check_window(offer: Offer, now: datetime) -> None:
    if offer.starts_at > now:
        raise CouponNotStarted(f"This coupon can be used from {timezone.localtime(offer.starts_at):%Y-%m-%d %H:%M}.")
    if offer.ends_at is not None and offer.ends_at <= now:
        raise CouponExpired(f"This coupon expired on {timezone.localtime(offer.ends_at):%Y-%m-%d %H:%M}.")


def _check_limits(offer: Offer, user_id: int | None) -> None:
    if offer.usage_limit is not None and offer.times_used >= offer.usage_limit:
        raise CouponUsedUp("This coupon has been used up.")
    if offer.per_user_limit is not None and user_id is not None:
        used = OfferRedemption.objects.unreleased().filter(offer=offer, user_id=user_id).count()
        if used >= offer.per_user_limit:
            times = "once" if offer.per_user_limit == 1 else f"{offer.per_user_limit} times"
            raise CouponPerUserLimit(f"You have already used this coupon {times}.")


def coupon_eligible_lines(*, offer: Offer, lines: Sequence[CartLine]) -> list[bool]:
    """Which of ``lines`` the offer's discount applies to, in order (the checkout shares the discount among them)."""
    if offer.applies_to == AppliesTo.MERCHANT:
        return [True] * len(lines)
    if offer.applies_to == AppliesTo.CATEGORIES:
        category_ids = category_ids_with_descendants(set(offer.categories.values_list("id", flat=True)))
        return [line.category_id in category_ids for line in lines]
    product_ids = set(offer.products.values_list("id", flat=True))
    return [line.product_id in product_ids for line in lines]


def _eligible_amount(offer: Offer, lines: Sequence[CartLine]) -> Decimal:
    eligible = coupon_eligible_lines(offer=offer, lines=lines)
    return sum((to_decimal(line.amount) for line, ok in zip(lines, eligible, strict=True) if ok), Decimal("0"))


def _discount(offer: Offer, eligible: Decimal, currency: str) -> Decimal:
    if offer.discount_type == DiscountType.PERCENTAGE:
        discount = percent_of(eligible, offer.discount_value, currency)
        if offer.max_discount is not None:
            discount = min(discount, offer.max_discount)
    else:
        discount = min(offer.discount_value, eligible)
    return quantize(discount, currency)


def coupon_validate(
    *,
    code: str,
    user: AbstractBaseUser | AnonymousUser | None,
    merchant: Merchant,
    lines: Sequence[CartLine],
    currency: str,
    at: datetime | None = None,
) -> CouponQuote:
    """Quote the discount ``code`` gives on these cart lines of ``merchant``, or raise a ``CouponError``.

    ``user`` may be anonymous (or None): the per-user limit is then checked at redemption. Checks run in this
    order: unknown, not started, expired, used up, per-user limit, not applicable, minimum not met.
    """
    try:
        currency = normalize_currency(currency)
    except ValueError:
        raise InvalidInput("Not a currency code.", fields={"currency": ["Not a currency code."]}) from None
    offer = _find(code, merchant)
    _check_window(offer, at or timezone.now())
    _check_limits(offer, _user_id(user))
    if offer.currency != currency:
        raise CouponNotApplicable(f"This coupon is for orders in {offer.currency}.")
    eligible = _eligible_amount(offer, lines)
    if eligible <= 0:
        raise CouponNotApplicable("This coupon does not apply to anything in your cart.")
    subtotal = sum((to_decimal(line.amount) for line in lines), Decimal("0"))
    if subtotal < offer.min_order_amount:
        raise CouponMinimumNotMet(
            f"This coupon needs an order of at least {quantize(offer.min_order_amount, currency)} {currency}."
        )
    return CouponQuote(
        offer=offer,
        discount=_discount(offer, eligible, currency),
        currency=currency,
        eligible_amount=quantize(eligible, currency),
    )


def coupon_redeem(
    *, offer: Offer, user: AbstractBaseUser | AnonymousUser | None, order_reference: str, amount: Decimal
) -> OfferRedemption:
    """Record that order ``order_reference`` used the coupon, granting ``amount`` of discount.

    Locks the offer row, re-checks its dates and limits on the locked row, then counts the use, so two
    checkouts racing for the last use cannot both get it. Idempotent per order: redeeming again for the same
    order returns its unreleased redemption (after :func:`coupon_release` it redeems anew). Call it inside the
    checkout's transaction.
    """
    amount = to_decimal(amount)
    if amount < 0:
        raise InvalidInput("The discount cannot be negative.", fields={"amount": ["Must not be negative."]})
    user_id = _user_id(user)
    if user_id is None:
        raise InvalidInput("Only a signed-in shopper can redeem a coupon.")
    with transaction.atomic():
        locked = Offer.objects.select_for_update().get(pk=offer.pk)
        existing = OfferRedemption.objects.unreleased().filter(offer=locked, order_reference=order_reference).first()
        if existing is not None:
            return existing
        if not locked.is_active:
            raise CouponUnknown("This coupon is no longer available.")
        _check_window(locked, timezone.now())
        _check_limits(locked, user_id)
        redemption = OfferRedemption.objects.create(
            offer=locked,
            user_id=user_id,
            order_reference=order_reference,
            amount=quantize(amount, locked.currency),
            currency=locked.currency,
        )
        Offer.objects.filter(pk=locked.pk).update(times_used=F("times_used") + 1)
    return redemption


def coupon_release(*, offer: Offer, order_reference: str) -> bool:
    """Give back the use an order made (the order was cancelled before payment). False if it had none.

    The redemption row is kept and marked ``released`` (with ``released_at``) and ``times_used`` goes down by
    one, under the offer's lock, so ``times_used`` always equals the number of unreleased redemptions. The
    released use no longer counts towards the usage or per-user limits, and the same order reference may
    redeem again later (a re-placed order), which records a new row.
    """
    with transaction.atomic():
        locked = Offer.objects.select_for_update().get(pk=offer.pk)
        redemption = (
            OfferRedemption.objects.unreleased()
            .select_for_update()
            .filter(offer=locked, order_reference=order_reference)
            .first()
        )
        if redemption is None:
            return False
        redemption.status = RedemptionStatus.RELEASED
        redemption.released_at = timezone.now()
        redemption.save(update_fields=["status", "released_at"])
        Offer.objects.filter(pk=locked.pk).update(times_used=F("times_used") - 1)
    return True
