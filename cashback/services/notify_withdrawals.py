"""The shopper's messages about a withdrawal: requested (the amount is held), approved, rejected (with the reason),
paid (with the reference) and failed (with the reason; the money is back in the wallet).

:func:`withdrawal_notify` is called by the withdrawal service inside its transaction and only schedules the
message with ``transaction.on_commit`` (``robust``), so nothing is rendered while the rows are locked and a
rolled-back step sends nothing. After commit the withdrawal is read again with its shopper (one query) and handed
to the notifications app, like the orders' messages (:mod:`commerce.orders.services.notify`):

* **Channel**: email to the account's address; SMS to its phone only when there is no email. Never both.
* A message that cannot be sent (no contact, an address the notifications app refuses) is logged and skipped:
  a withdrawal step never fails because of its message.
* Templates: ``templates/emails/withdrawals/<kind>/`` (``subject.txt``, ``body.txt``) and
  ``templates/sms/withdrawals/<kind>.txt``. Context: ``name``, ``amount`` (formatted money, ``₹1,250.00``),
  ``destination`` (masked: ``pr***@okaxis``, ``XXXXXX1234 (HDFC0001234)``), ``method`` (``UPI``/``Bank
  transfer``), ``reference`` and ``reason``.
"""

import logging
from typing import Any

from django.db import transaction

from commerce.notifications.models import Notification
from commerce.notifications.services import notification_send_to_reachable
from commerce.orders.services.notify import format_money

from ..models import Withdrawal

logger = logging.getLogger(__name__)

KINDS = ("requested", "approved", "rejected", "paid", "failed")


def withdrawal_message_context(*, withdrawal: Withdrawal) -> dict[str, Any]:
    from .withdrawals import withdrawal_destination_masked  # that module imports this one

    return {
        "id": withdrawal.pk,
        "name": getattr(withdrawal.user, "full_name", "") or "there",
        "amount": format_money(withdrawal.amount, withdrawal.currency),
        "destination": withdrawal_destination_masked(withdrawal),
        "method": withdrawal.get_method_display(),
        "reference": withdrawal.provider_reference,
        "reason": withdrawal.failure_reason,
    }


def withdrawal_notify_now(*, withdrawal_id: int, kind: str) -> Notification | None:
    """Queue the ``kind`` message of a withdrawal now. None when the shopper cannot be reached."""
    withdrawal = Withdrawal.objects.select_related("user").filter(pk=withdrawal_id).first()
    if withdrawal is None:
        logger.warning("withdrawal %s vanished before its %s message was sent", withdrawal_id, kind)
        return None
    context = withdrawal_message_context(withdrawal=withdrawal)
    email = withdrawal.user.email or ""
    phone = withdrawal.user.phone or ""
    return notification_send_to_reachable(
        email=email,
        phone=phone,
        template=f"withdrawals/{kind}",
        context=context,
        user_id=withdrawal.user_id,
        label=f"withdrawal {withdrawal_id}",
        kind=kind,
    )


def withdrawal_notify(*, withdrawal_id: int, kind: str) -> None:
    """Send the shopper the ``kind`` message (one of :data:`KINDS`) once the current transaction commits."""
    if kind not in KINDS:
        raise ValueError(f"Unknown withdrawal message {kind!r}.")
    transaction.on_commit(lambda: withdrawal_notify_now(withdrawal_id=withdrawal_id, kind=kind), robust=True)
