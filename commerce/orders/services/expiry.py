"""Unpaid orders expire: their allocated stock and coupon use go back, and they are marked ``expired``.

Checkout sets ``expires_at = placed_at + ORDER_PAYMENT_TIMEOUT_MINUTES``. The periodic task
``commerce.orders.tasks.expire_unpaid_orders`` (every minute, see ``CELERY_BEAT_SCHEDULE``) calls
:func:`orders_expire_due`, which works in batches:

1. read the ids of at most ``batch_size`` due orders (``pending_payment`` and ``expires_at <= now``, oldest
   first, through the partial index ``orders_order_expiry_idx``), after the last one of the previous batch;
2. expire each **in its own transaction**: lock the row with ``SELECT ... FOR UPDATE SKIP LOCKED`` on
   PostgreSQL (a plain lock elsewhere), re-check it is still unpaid and due on the locked row, then move it
   through :func:`~commerce.orders.services.transitions.order_transition_locked` (stock released, coupon use
   given back, ``expired`` event, ``order_expired`` and the shopper's message after commit).

An order that a payment (or a cancel) holds locked at that moment is skipped, not waited for: the payment
wins, and if it fails the next run expires the order. Running twice, or two runs at once, expires each order
once. One order that cannot be expired (a stock inconsistency) is logged and left for the next run; it does
not stop the batch.
"""

import logging
from datetime import datetime

from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from commerce.core.errors import DomainError

from ..models import Order, OrderStatus
from .transitions import order_transition_locked

logger = logging.getLogger(__name__)


def _expire_locked(order: Order) -> Order:
    return order_transition_locked(
        order=order,
        to_status=OrderStatus.EXPIRED,
        note="Payment was not received in time; the order expired.",
        data={"expires_at": order.expires_at.isoformat() if order.expires_at else None},
    )


def _due(now: datetime) -> Q:
    return Q(status=OrderStatus.PENDING_PAYMENT, expires_at__isnull=False, expires_at__lte=now)


def order_expire(*, order_id: int, now: datetime | None = None) -> Order | None:
    """Expire one order if it is still unpaid and past ``expires_at``; None otherwise (paid, cancelled, not yet
    due, or gone). Waits for the order's lock, unlike the batch run."""
    now = now or timezone.now()
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(_due(now), pk=order_id).first()
        if order is None:
            return None
        return _expire_locked(order)


def _expire_skipping_locked(order_id: int, now: datetime) -> bool:
    skip_locked = connection.features.has_select_for_update_skip_locked
    with transaction.atomic():
        order = Order.objects.select_for_update(skip_locked=skip_locked).filter(_due(now), pk=order_id).first()
        if order is None:  # taken by a payment or another run, or no longer due
            return False
        _expire_locked(order)
        return True


def orders_expire_due(*, now: datetime | None = None, batch_size: int = 100) -> int:
    """Expire every unpaid order whose ``expires_at`` is at or before ``now``, ``batch_size`` ids at a time;
    return how many this run expired."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError("batch_size must be a positive whole number.")
    now = now or timezone.now()
    expired = 0
    after: tuple[datetime | None, int] | None = None
    while True:
        candidates = Order.objects.filter(_due(now))
        if after is not None:
            candidates = candidates.filter(Q(expires_at__gt=after[0]) | Q(expires_at=after[0], pk__gt=after[1]))
        batch = list(candidates.order_by("expires_at", "pk").values_list("expires_at", "pk")[:batch_size])
        for _, order_id in batch:
            try:
                expired += _expire_skipping_locked(order_id, now)
            except (DomainError, DatabaseError):
                logger.exception("order %s could not be expired; the next run tries again", order_id)
        if len(batch) < batch_size:
            break
        after = batch[-1]
    if expired:
        logger.info("expired %s unpaid orders", expired)
    return expired
