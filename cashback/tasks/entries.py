"""Cashback tasks: entries. Thin and idempotent (each calls one service that re-checks on locked rows), so a
task delivered twice or run late changes nothing the first run did not.

* ``create_order_cashback``, ``mark_order_delivered``, ``apply_order_refund``: queued by
  :mod:`cashback.receivers` on the orders' ``order_paid``, ``order_delivered`` and ``order_refunded`` events.
* ``confirm_due_cashback`` (beat ``cashback-confirm-due``, hourly): first repairs what lost tasks missed
  (:func:`~cashback.services.entries.cashbacks_backfill`), then confirms entries whose return window passed.
* ``process_confirmed_cashback`` (beat ``cashback-process-confirmed``, every 5 minutes): risk-scores confirmed
  entries; low risk is credited, high risk waits for staff review.
"""

from typing import Any

from celery import shared_task

from ..services import entries


@shared_task(name="cashback.tasks.entries.create_order_cashback", ignore_result=True)
def create_order_cashback(order_id: int) -> int | None:
    """Create the paid order's pending cashback; returns the entry's id (None when the order earns nothing)."""
    entry = entries.cashback_create_for_order(order_id=order_id)
    return entry.pk if entry is not None else None


@shared_task(name="cashback.tasks.entries.mark_order_delivered", ignore_result=True)
def mark_order_delivered(order_id: int) -> int | None:
    """Start the return window of the delivered order's cashback (``expected_on``)."""
    entry = entries.cashback_order_delivered(order_id=order_id)
    return entry.pk if entry is not None else None


@shared_task(name="cashback.tasks.entries.apply_order_refund", ignore_result=True)
def apply_order_refund(order_id: int) -> int | None:
    """Take the order's cashback back in proportion to what has been refunded so far."""
    entry = entries.cashback_order_refunded(order_id=order_id)
    return entry.pk if entry is not None else None


@shared_task(name="cashback.tasks.entries.confirm_due_cashback")
def confirm_due_cashback() -> dict[str, Any]:
    """Periodic: repair entries lost tasks missed, then confirm those past their return window."""
    repaired = entries.cashbacks_backfill()
    confirmed = entries.cashbacks_confirm_due()
    return {"repaired": repaired, "confirmed": confirmed}


@shared_task(name="cashback.tasks.entries.process_confirmed_cashback")
def process_confirmed_cashback() -> dict[str, Any]:
    """Periodic: risk-score confirmed entries (low risk credited at once, high risk to staff review)."""
    return {"assessed": entries.cashbacks_process_confirmed()}
