"""The accounts' dashboard card: new shoppers per day. Platform-wide, so merchant staff never see it."""

from django.db.models import Count
from django.db.models.functions import TruncDate

from commerce.core.dashboard import CardContext, CardData, Chart, Figure, Series, register_card

from .models import User


def new_shoppers_card(ctx: CardContext) -> CardData:
    """Accounts created per day over the range (``date_joined`` in ``TIME_ZONE`` dates), staff excluded.
    One grouped query on the ``date_joined`` index; days without sign-ups are zeros."""
    rows = (
        User.objects.filter(
            is_staff=False,
            date_joined__gte=ctx.period.start_datetime(),
            date_joined__lt=ctx.period.end_datetime(),
        )
        .annotate(day=TruncDate("date_joined"))
        .values("day")
        .annotate(joined=Count("pk"))
        .order_by("day")
    )
    per_day = {row["day"]: row["joined"] for row in rows}
    dates = ctx.period.dates()
    values = tuple(per_day.get(day, 0) for day in dates)
    return CardData(
        figures=(Figure(label=f"New shoppers, last {ctx.period.days} days", value=sum(values)),),
        chart=Chart(
            kind="bar",
            labels=tuple(day.strftime("%d %b") for day in dates),
            series=(Series(label="New shoppers", values=values),),
        ),
    )


def register() -> None:
    register_card(
        key="accounts.new_shoppers",
        title="New shoppers",
        order=300,
        builder=new_shoppers_card,
        permission="accounts.view_user",
        platform_wide=True,
        link="admin:accounts_user_changelist",
    )
