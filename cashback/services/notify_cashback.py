"""The shopper's messages about cashback: credited to the wallet, reversed by a refund (in part or in full), or
rejected.

:func:`cashback_notify` is called by the entries service inside the transaction that moved the entry; it only
schedules the message with ``transaction.on_commit`` (``robust``), so nothing is rendered while the entry and
wallet rows are locked, a rolled-back change sends nothing, and a message that fails never undoes the change.
After commit the entry is read again with its shopper, merchant and order (one query), and the wallet's
balance (another), and handed to the notifications app, which stores and delivers it with retries.

Decisions (as for order messages, :mod:`commerce.orders.services.notify`):

* **Channel.** Email to the account's address (for an order's cashback, the address the order was placed with
  first); SMS to the phone only when there is no email. Never both.
* Entries created or confirmed get no message: the order's own messages and ``GET cashback`` show pending
  cashback; the shopper hears about money when it reaches (or leaves) the wallet.
* Templates: ``templates/emails/cashback/<kind>/`` and ``templates/sms/cashback/<kind>.txt``. Context:
  ``name``, ``amount`` (this movement: credited, taken back or rejected, as formatted money), ``source`` ("order
  ORD-1001" or "your purchase at Threads"), ``reason``, ``fully`` (a reversal took everything back),
  ``remaining`` (what is still credited) and ``available`` (the wallet's available balance).
"""

import logging
from decimal import Decimal
from typing import Any

from django.db import transaction

from commerce.notifications.models import Notification
from commerce.notifications.services import notification_send_to_reachable
from commerce.orders.services.notify import format_money

from ..models import CashbackEntry, CashbackSource, CashbackStatus, Wallet

logger = logging.getLogger(__name__)

KINDS = (CashbackStatus.CREDITED, CashbackStatus.REVERSED, CashbackStatus.REJECTED)


def cashback_message_context(*, entry: CashbackEntry, amount: Decimal) -> dict[str, Any]:
    """What every cashback template may use (see the module docstring)."""
    if entry.source == CashbackSource.ORDER and entry.order is not None:
        source = f"order {entry.order.number}"
    else:
        source = f"your purchase at {entry.merchant.name}"
    wallet = Wallet.objects.filter(user_id=entry.user_id).only("available", "currency").first()
    return {
        "name": getattr(entry.user, "full_name", "") or "there",
        "amount": format_money(amount, entry.currency),
        "source": source,
        "reason": entry.reason,
        "fully": entry.net_amount == 0,
        "remaining": format_money(entry.net_amount, entry.currency),
        "available": format_money(wallet.available, wallet.currency) if wallet else "",
    }


def cashback_notify_now(*, entry_id: int, kind: str, amount: Decimal) -> Notification | None:
    """Queue the ``kind`` message of an entry now (:func:`cashback_notify` calls this after commit). None when
    the entry has gone or the shopper cannot be reached."""
    entry = CashbackEntry.objects.select_related("user", "merchant", "order").filter(pk=entry_id).first()
    if entry is None:
        logger.warning("cashback entry %s vanished before its %s message was sent", entry_id, kind)
        return None
    context = cashback_message_context(entry=entry, amount=amount)
    order_email = entry.order.email if entry.order is not None else ""
    email = order_email or entry.user.email or ""
    phone = entry.user.phone or (entry.order.phone if entry.order is not None else "")
    return notification_send_to_reachable(
        email=email,
        phone=phone,
        template=f"cashback/{kind}",
        context=context,
        user_id=entry.user_id,
        label=f"cashback entry {entry_id}",
        kind=kind,
    )


def cashback_notify(*, entry_id: int, kind: str, amount: Decimal) -> None:
    """Send the shopper the ``kind`` message (one of :data:`KINDS`) about ``amount`` once the current
    transaction commits. An error while sending is logged and never reaches the caller."""
    if kind not in KINDS:
        raise ValueError(f"Unknown cashback message {kind!r}.")
    transaction.on_commit(lambda: cashback_notify_now(entry_id=entry_id, kind=kind, amount=amount), robust=True)
