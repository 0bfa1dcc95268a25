"""Members' messages about their points: points about to expire (the ledger's reminders). Other loyalty areas keep
their messages in their own ``notify_*`` modules.

:func:`points_expiring_notify` is called by the ledger inside the transaction that marked the lots reminded; it
only schedules the message with ``transaction.on_commit`` (``robust``), so nothing is rendered while the account
row is locked, a rolled-back run sends nothing, and a message that fails never undoes the run. After commit the
member is read again (one query) and the message handed to the notifications app, which stores and delivers it
with retries.

Decisions (as for order and cashback messages):

* **Channel.** Email to the account's address; SMS to the phone only when there is no email. Never both.
* Templates: ``templates/emails/loyalty/points_expiring/`` and ``templates/sms/loyalty/points_expiring.txt``.
  Context: ``name``, ``points`` (all the points the reminder is about), ``date`` (when the first of them expire,
  ``15 December 2026`` in the shop's time zone), ``lots`` (``[{"points", "date"}]``, one per expiry date, soonest
  first), ``available`` (the member's available points now).
"""

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from commerce.notifications.models import Notification
from commerce.notifications.services import notification_send_to_reachable

from ..models import PointsAccount

logger = logging.getLogger(__name__)

EXPIRING_TEMPLATE = "loyalty/points_expiring"


def format_points(points: int) -> str:
    """``1234`` -> ``1,234``."""
    return f"{points:,}"


def format_day(moment: datetime) -> str:
    """A moment as the member's calendar day: ``15 December 2026`` (the shop's time zone)."""
    day = timezone.localtime(moment).date()
    return f"{day.day} {day:%B %Y}"


def points_expiring_context(
    *, user: User, points: int, expires_at: datetime, lots: Sequence[tuple[int, datetime]]
) -> dict[str, Any]:
    """What the points-expiring templates may use (see the module docstring)."""
    account = PointsAccount.objects.filter(user_id=user.pk).only("available").first()
    return {
        "name": getattr(user, "full_name", "") or "there",
        "points": format_points(points),
        "date": format_day(expires_at),
        "lots": [{"points": format_points(lot_points), "date": format_day(when)} for lot_points, when in lots],
        "available": format_points(account.available if account else 0),
    }


def points_expiring_notify_now(
    *, user_id: int, points: int, expires_at: datetime, lots: Sequence[tuple[int, datetime]]
) -> Notification | None:
    """Queue the points-expiring message now (:func:`points_expiring_notify` calls this after commit). None when
    the member has gone or cannot be reached."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        logger.warning("user %s vanished before their points-expiring message was sent", user_id)
        return None
    context = points_expiring_context(user=user, points=points, expires_at=expires_at, lots=lots)
    return notification_send_to_reachable(
        email=user.email or "",
        phone=user.phone or "",
        template=EXPIRING_TEMPLATE,
        context=context,
        user_id=user_id,
        label=f"user {user_id}",
        kind="points-expiring",
    )


def points_expiring_notify(
    *, user_id: int, points: int, expires_at: datetime, lots: Sequence[tuple[int, datetime]]
) -> None:
    """Schedule the points-expiring message for after the current transaction commits."""
    lots = tuple(lots)
    transaction.on_commit(
        lambda: points_expiring_notify_now(user_id=user_id, points=points, expires_at=expires_at, lots=lots),
        robust=True,
    )
