"""Receivers of the orders app's domain events (:mod:`commerce.orders.events`), connected in
:meth:`payments.apps.PaymentsConfig.ready`.

They only enqueue a task, after the current transaction commits (the events are already sent after the order's
own commit; ``on_commit`` keeps that true for a receiver called inside someone else's transaction):

* ``order_cancelled`` with ``was_paid=True``: ``payments.tasks.refund_cancelled_order`` refunds the order's
  captured payments in full (``payments.services.refunds.order_refund_in_full``). An order cancelled unpaid has
  nothing to refund.
"""

from typing import Any

from django.db import transaction

DISPATCH_UID_ORDER_CANCELLED = "payments.receivers.on_order_cancelled"


def on_order_cancelled(sender: Any, *, order_id: int, was_paid: bool = False, **kwargs: Any) -> None:
    """A paid order was cancelled: queue its full refund."""
    if not was_paid:
        return
    from .tasks import refund_cancelled_order

    # robust: a broker that is down must not undo or break the caller's commit; the periodic
    # ``retry_pending_refunds`` refunds a cancelled paid order whose task was lost.
    transaction.on_commit(lambda: refund_cancelled_order.delay(order_id), robust=True)


def connect() -> None:
    from commerce.orders import events

    events.order_cancelled.connect(on_order_cancelled, dispatch_uid=DISPATCH_UID_ORDER_CANCELLED)
