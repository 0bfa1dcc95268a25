"""Members' messages about tiers, achievements and referrals: a tier changed (up or down), an achievement unlocked,
referral points credited.

:func:`member_notify` is called by the service that made the change, inside its transaction; it only schedules the
message with ``transaction.on_commit`` (``robust``), so nothing is rendered while an account row is locked, a
rolled-back change sends nothing, and a message that fails never undoes the change. After commit the member is
read again (one query) and the message handed to the notifications app, which stores and delivers it with retries.

Decisions (as for order and cashback messages): email to the account's address, SMS to its phone only when there
is no email, never both; a member who cannot be reached is logged and skipped. Templates:
``templates/emails/loyalty/<kind>/`` and ``templates/sms/loyalty/<kind>.txt``. Context: ``name`` (the member's
name, or "there") plus what the caller gives, plain strings and integers only:

* ``tier_changed``: ``tier`` (the new tier's name), ``previous`` (the old one's, may be empty), ``upgrade``
  (bool), ``points`` (qualifying points in the window), ``window_months``;
* ``achievement_unlocked``: ``achievement``, ``description``, ``points`` (granted, 0 when none);
* ``referral_rewarded``: ``points``, ``friend`` (the other member's masked name), ``referrer`` (bool: this member
  referred the friend).
"""

import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from commerce.notifications.models import Notification
from commerce.notifications.services import notification_send_to_reachable

logger = logging.getLogger(__name__)

KINDS = ("tier_changed", "achievement_unlocked", "referral_rewarded")


def masked_name(full_name: str) -> str:
    """``Priya Sharma`` -> ``Priya S.``; a single name as is; nothing -> ``a friend``."""
    parts = full_name.split()
    if not parts:
        return "a friend"
    if len(parts) == 1:
        return parts[0]
    return f"{parts[0]} {parts[-1][0]}."


def member_notify_now(*, user_id: int, kind: str, context: dict[str, Any]) -> Notification | None:
    """Queue the ``kind`` message for ``user_id`` now (:func:`member_notify` calls this after commit). None when
    the member has gone or cannot be reached."""
    user = get_user_model().objects.filter(pk=user_id).only("email", "phone", "full_name").first()
    if user is None:
        logger.warning("member %s vanished before their %s message was sent", user_id, kind)
        return None
    full = {"name": getattr(user, "full_name", "") or "there", **context}
    email = getattr(user, "email", "") or ""
    phone = getattr(user, "phone", "") or ""
    return notification_send_to_reachable(
        email=email,
        phone=phone,
        template=f"loyalty/{kind}",
        context=full,
        user_id=user_id,
        label=f"member {user_id}",
        kind=kind,
    )


def member_notify(*, user_id: int, kind: str, context: dict[str, Any]) -> None:
    """Send the member the ``kind`` message (one of :data:`KINDS`) once the current transaction commits. An error
    while sending is logged and never reaches the caller."""
    if kind not in KINDS:
        raise ValueError(f"Unknown loyalty message {kind!r}.")
    transaction.on_commit(lambda: member_notify_now(user_id=user_id, kind=kind, context=context), robust=True)
