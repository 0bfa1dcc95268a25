"""The notifications' dashboard card (System): messages given up on, which someone should look at and re-send."""

from django.db.models import Count, Q

from commerce.core.dashboard import CardContext, CardData, Figure, register_card

from .models import Notification


def dead_letters_card(ctx: CardContext) -> CardData:
    """Dead-lettered notifications (status ``failed``): all of them, and those that failed within the range
    (by their last update, which is when they failed). One aggregate query on the ``(status, updated_at)``
    index. Not per merchant, so hidden from merchant staff."""
    failed = Notification.objects.filter(status=Notification.Status.FAILED)
    in_range = Q(updated_at__gte=ctx.period.start_datetime(), updated_at__lt=ctx.period.end_datetime())
    counts = failed.aggregate(total=Count("pk"), recent=Count("pk", filter=in_range))
    return CardData(
        figures=(
            Figure(label="Dead-lettered", value=counts["total"]),
            Figure(label=f"Failed in the last {ctx.period.days} days", value=counts["recent"]),
        )
    )


def register() -> None:
    register_card(
        key="notifications.dead_letters",
        title="Notifications (System)",
        order=900,
        builder=dead_letters_card,
        permission="notifications.view_notification",
        platform_wide=True,
        link="admin:notifications_notification_changelist",
    )
