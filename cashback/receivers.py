"""Receivers of the orders app's domain events (:mod:`commerce.orders.events`), connected in
:meth:`cashback.apps.CashbackConfig.ready`.

They only enqueue a task of :mod:`cashback.tasks.entries` after the current transaction commits (the events are
already sent after the order's own commit; ``on_commit`` keeps that true for a receiver called inside someone
else's transaction). ``robust``: a broker that is down must not break the caller; the hourly
``confirm_due_cashback`` creates entries and sets ``expected_on`` that a lost task missed.

=================  ==========================================================================
event              task
=================  ==========================================================================
order_paid         ``create_order_cashback``: the pending entry
order_delivered    ``mark_order_delivered``: ``expected_on`` = delivery day + return window
order_refunded     ``apply_order_refund``: takes back in proportion to what was refunded
=================  ==========================================================================
"""

from typing import Any

from django.db import transaction

DISPATCH_UID_PREFIX = "cashback.receivers"


def on_order_paid(sender: Any, *, order_id: int, **kwargs: Any) -> None:
    from .tasks.entries import create_order_cashback

    transaction.on_commit(lambda: create_order_cashback.delay(order_id), robust=True)


def on_order_delivered(sender: Any, *, order_id: int, **kwargs: Any) -> None:
    from .tasks.entries import mark_order_delivered

    transaction.on_commit(lambda: mark_order_delivered.delay(order_id), robust=True)


def on_order_refunded(sender: Any, *, order_id: int, **kwargs: Any) -> None:
    from .tasks.entries import apply_order_refund

    transaction.on_commit(lambda: apply_order_refund.delay(order_id), robust=True)


def connect() -> None:
    from commerce.orders import events

    events.order_paid.connect(on_order_paid, dispatch_uid=f"{DISPATCH_UID_PREFIX}.on_order_paid")
    events.order_delivered.connect(on_order_delivered, dispatch_uid=f"{DISPATCH_UID_PREFIX}.on_order_delivered")
    events.order_refunded.connect(on_order_refunded, dispatch_uid=f"{DISPATCH_UID_PREFIX}.on_order_refunded")
