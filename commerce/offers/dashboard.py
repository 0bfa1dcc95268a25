"""The offers' dashboard cards: live and expiring offers, views and clicks per day, and the top offers by clicks.

Each is limited to the user's merchants (``ctx.scope``) and needs ``offers.view_offer``: merchant staff hold it
for their own offers, while the daily counts' own admin (``OfferDailyStats``) is for platform staff only.
Views and clicks come from ``OfferDailyStats``, so they include what the last buffer flush wrote (a few minutes
behind with Redis) and never scan the click rows.
"""

from datetime import timedelta

from django.db.models import Count, Q, QuerySet, Sum

from commerce.core.dashboard import (
    CardContext,
    CardData,
    Chart,
    Figure,
    Series,
    Table,
    register_card,
)

from .models import Offer, OfferDailyStats

EXPIRING_WITHIN = timedelta(days=7)
TOP_OFFERS = 5


def offers_card(ctx: CardContext) -> CardData:
    """Live offers (``Offer.objects.live()``) and those of them that end within the next 7 days. One query."""
    offers = Offer.objects.live(at=ctx.now)
    if ctx.scope is not None:
        offers = offers.filter(merchant_id__in=ctx.scope)
    counts = offers.aggregate(live=Count("pk"), expiring=Count("pk", filter=Q(ends_at__lte=ctx.now + EXPIRING_WITHIN)))
    return CardData(
        figures=(
            Figure(label="Live", value=counts["live"]),
            Figure(label="Expiring within 7 days", value=counts["expiring"]),
        )
    )


def _stats_in_range(ctx: CardContext) -> QuerySet[OfferDailyStats]:
    stats = OfferDailyStats.objects.filter(date__gte=ctx.period.start, date__lte=ctx.period.end)
    if ctx.scope is not None:
        stats = stats.filter(offer__merchant_id__in=ctx.scope)
    return stats


def activity_card(ctx: CardContext) -> CardData:
    """Views and clicks per day over the range, summed over the offers in scope. One grouped query on the
    ``date`` index; days without counts are zeros."""
    rows = _stats_in_range(ctx).values("date").annotate(views=Sum("views"), clicks=Sum("clicks")).order_by("date")
    per_day = {row["date"]: (row["views"], row["clicks"]) for row in rows}
    dates = ctx.period.dates()
    views = tuple(per_day.get(day, (0, 0))[0] for day in dates)
    clicks = tuple(per_day.get(day, (0, 0))[1] for day in dates)
    return CardData(
        figures=(Figure(label="Views", value=sum(views)), Figure(label="Clicks", value=sum(clicks))),
        chart=Chart(
            kind="line",
            labels=tuple(day.strftime("%d %b") for day in dates),
            series=(
                Series(label="Views", values=views, color="var(--color-primary-300)"),
                Series(label="Clicks", values=clicks, color="var(--color-primary-700)"),
            ),
        ),
    )


def top_offers_card(ctx: CardContext) -> CardData:
    """The offers with the most clicks in the range (ties by id, so the order is stable), with their views.
    Offers without a click in the range are left out. One grouped query."""
    rows = (
        _stats_in_range(ctx)
        .values("offer_id", "offer__title", "offer__merchant__name")
        .annotate(clicks=Sum("clicks"), views=Sum("views"))
        .filter(clicks__gt=0)
        .order_by("-clicks", "offer_id")[:TOP_OFFERS]
    )
    return CardData(
        table=Table(
            headers=("Offer", "Merchant", "Clicks", "Views"),
            rows=tuple(
                (row["offer__title"], row["offer__merchant__name"], str(row["clicks"]), str(row["views"]))
                for row in rows
            ),
        )
    )


def register() -> None:
    register_card(
        key="offers.live",
        title="Offers",
        order=200,
        builder=offers_card,
        permission="offers.view_offer",
        link="admin:offers_offer_changelist",
    )
    register_card(
        key="offers.activity",
        title="Offer views and clicks",
        order=210,
        builder=activity_card,
        permission="offers.view_offer",
    )
    register_card(
        key="offers.top",
        title="Top offers by clicks",
        order=220,
        builder=top_offers_card,
        permission="offers.view_offer",
    )
