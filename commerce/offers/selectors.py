"""Reads of offers: the public list and its filters, one public offer, trending, category eligibility.

Query budgets: the list is one query plus pagination's count; trending is one aggregate query; the detail is
one query plus two for its categories and products. The list and trending are cached briefly by the API.
"""

from datetime import date, datetime, timedelta

from django.db.models import Case, F, FloatField, QuerySet, Sum, Value, When
from django.utils import timezone

from commerce.catalog.models import Category

from .models import Offer, OfferDailyStats, OfferKind, OfferRedemption

TRENDING_WINDOW_DAYS = 7
TRENDING_CLICK_WEIGHT = 5.0
TRENDING_VIEW_WEIGHT = 1.0
TRENDING_HALF_LIFE_DAYS = 2.0
TRENDING_LIMIT = 20


def public_offers(
    *,
    merchant_slug: str | None = None,
    kind: OfferKind | str | None = None,
    expiring_within_days: int | None = None,
    at: datetime | None = None,
) -> QuerySet[Offer]:
    """Live offers of active merchants. With ``expiring_within_days`` only those ending within that many days,
    soonest first; otherwise newest first."""
    now = at or timezone.now()
    offers = Offer.objects.listed(now).select_related("merchant")
    if merchant_slug:
        offers = offers.filter(merchant__slug=merchant_slug)
    if kind:
        offers = offers.filter(kind=kind)
    if expiring_within_days is not None:
        offers = offers.filter(ends_at__isnull=False, ends_at__lte=now + timedelta(days=expiring_within_days))
        return offers.order_by("ends_at", "id")
    return offers.order_by("-starts_at", "-id")


def public_offer(*, offer_id: int, at: datetime | None = None) -> Offer | None:
    """A live offer with its merchant, categories and products, or None (unknown or not live)."""
    return (
        Offer.objects.listed(at)
        .select_related("merchant")
        .prefetch_related("categories", "products")
        .filter(pk=offer_id)
        .first()
    )


def decay_weight(age_days: int) -> float:
    """How much a day's events count: 1 today, halving every ``TRENDING_HALF_LIFE_DAYS`` days."""
    return float(0.5 ** (age_days / TRENDING_HALF_LIFE_DAYS))


def trending_offers(*, limit: int = TRENDING_LIMIT, today: date | None = None) -> list[Offer]:
    """Live offers ranked by recent activity, each with a ``trending_score`` attribute.

    score = sum over the last 7 days (today included) of ``(clicks * 5 + views) * 0.5 ** (age_days / 2)``.
    One aggregate query over ``OfferDailyStats`` (indexed on ``date``); offers without events are left out.
    Ties go to the older offer id, so the order is stable.
    """
    today = today or timezone.localdate()
    days = [today - timedelta(days=age) for age in range(TRENDING_WINDOW_DAYS)]
    weight = Case(
        *[When(daily_stats__date=day, then=Value(decay_weight(age))) for age, day in enumerate(days)],
        default=Value(0.0),
        output_field=FloatField(),
    )
    activity = F("daily_stats__clicks") * TRENDING_CLICK_WEIGHT + F("daily_stats__views") * TRENDING_VIEW_WEIGHT
    return list(
        Offer.objects.listed()
        .filter(daily_stats__date__gte=days[-1], daily_stats__date__lte=today)
        .annotate(trending_score=Sum(activity * weight, output_field=FloatField()))
        .filter(trending_score__gt=0)
        .select_related("merchant")
        .order_by("-trending_score", "id")[:limit]
    )


def category_ids_with_descendants(category_ids: set[int]) -> set[int]:
    """The given categories and every category below them, one query per tree level."""
    found = set(category_ids)
    frontier = set(category_ids)
    while frontier:
        children = set(Category.objects.filter(parent_id__in=frontier).values_list("id", flat=True)) - found
        found |= children
        frontier = children
    return found


def offer_daily_stats(*, offer_id: int, day: date) -> OfferDailyStats | None:
    return OfferDailyStats.objects.filter(offer_id=offer_id, date=day).first()


def offer_times_used_recount(*, offer: Offer) -> int:
    """``times_used`` recomputed from the rows: the number of unreleased redemptions. ``coupon_redeem`` and
    ``coupon_release`` keep the counter equal to this; a check (or a repair) compares the two."""
    return OfferRedemption.objects.unreleased().filter(offer_id=offer.pk).count()
