"""Order domain events: the one place higher apps (payments, cashback, loyalty) learn what happened to an order.

Each is a Django signal sent **after the transaction that caused it commits** (by :func:`publish`, which the
order services call), never from inside it, so a receiver never sees an order that is later rolled back. The
sender is the :class:`~commerce.orders.models.Order` class; every signal carries ``order_id`` (int) and
``number`` (str). Receivers live in the higher app, are connected in its ``AppConfig.ready``, and do nothing but
call a service or enqueue a task (they run after commit, outside any transaction of ours).

=================  ===================================================================================
signal             sent when, and its extra arguments
=================  ===================================================================================
order_placed       checkout wrote a ``pending_payment`` order.
order_paid         payment captured: ``pending_payment -> paid``. Allocated stock became a deduction.
order_cancelled    ``-> cancelled``. ``was_paid`` (bool): payments refunds the captured amount when true.
order_expired      an unpaid order passed ``ORDER_PAYMENT_TIMEOUT_MINUTES``; stock and coupon released.
order_fulfilled    shipped: ``paid -> fulfilled``. ``carrier`` and ``tracking_number`` (str).
order_delivered    ``fulfilled -> delivered``; starts the return window of cashback and loyalty.
order_refunded     money went back: ``amount`` (Decimal, this refund), ``currency`` (str),
                   ``refunded_total`` (Decimal, all refunds so far), ``fully_refunded`` (bool).
=================  ===================================================================================
"""

from typing import Any

import django.dispatch
from django.db import transaction

order_placed = django.dispatch.Signal()
order_paid = django.dispatch.Signal()
order_cancelled = django.dispatch.Signal()
order_expired = django.dispatch.Signal()
order_fulfilled = django.dispatch.Signal()
order_delivered = django.dispatch.Signal()
order_refunded = django.dispatch.Signal()

ALL_EVENTS: dict[str, django.dispatch.Signal] = {
    "placed": order_placed,
    "paid": order_paid,
    "cancelled": order_cancelled,
    "expired": order_expired,
    "fulfilled": order_fulfilled,
    "delivered": order_delivered,
    "refunded": order_refunded,
}


def publish(signal: django.dispatch.Signal, *, order_id: int, number: str, **kwargs: Any) -> None:
    """Send ``signal`` once the current transaction commits (at once outside one).

    ``send_robust``: one failing receiver is logged by Django and does not stop the others, nor undo the order.
    """
    from .models import Order

    transaction.on_commit(lambda: signal.send_robust(sender=Order, order_id=order_id, number=number, **kwargs))
