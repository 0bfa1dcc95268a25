"""Reads of orders for their shopper, each to a fixed number of queries.

* :func:`order_list`: the shopper's orders, newest first, optionally of one status; one query per page (plus
  the count), whatever the number of orders, lines or events: the item count is an aggregate, the merchant a
  join.
* :func:`order_detail`: one order with its lines, shopper-visible events and adjustments: four queries, however
  many lines and events it has.

Another user's order, and an unknown number, are the same 404 (never reveal that an order exists).
"""

import re

from django.db.models import Prefetch, QuerySet, Sum

from accounts.models import User
from commerce.core.errors import InvalidInput, NotFoundError

from .models import Order, OrderEvent, OrderStatus
from .services.numbers import order_number_normalize

# What an order number can look like once normalised (``ORD-7K3M9Q``; the column holds 16). Anything else
# (NUL bytes PostgreSQL refuses, other scripts, 300 characters) is a 404 without a query.
NUMBER_SHAPE = re.compile(r"[A-Z0-9-]{1,16}", re.ASCII)


def _clean_number(number: str) -> str | None:
    cleaned = order_number_normalize(number)
    return cleaned if NUMBER_SHAPE.fullmatch(cleaned) else None


def _own(user: User) -> QuerySet[Order]:
    return Order.objects.filter(user=user).select_related("merchant")


def order_list(*, user: User, status: str | None = None) -> QuerySet[Order]:
    """``user``'s orders, newest first, each annotated with ``items`` (units over its lines). ``status`` must be
    one of :class:`~commerce.orders.models.OrderStatus` (400 ``fields.status`` otherwise)."""
    orders = _own(user)
    if status is not None:
        if status not in OrderStatus.values:
            raise InvalidInput(
                f"Unknown status {status[:40]!r}.",
                fields={"status": [f"Must be one of: {', '.join(OrderStatus.values)}."]},
            )
        orders = orders.filter(status=status)
    return orders.annotate(items=Sum("lines__quantity")).order_by("-placed_at", "-id")


def order_detail(*, user: User, number: str) -> Order:
    """``user``'s order ``number`` (as typed: case and surrounding blanks do not matter), with ``lines``,
    ``adjustments`` and ``visible_events`` (the shopper-visible events, oldest first) loaded. 404 otherwise."""
    cleaned = _clean_number(number)
    order = None
    if cleaned is not None:
        order = (
            _own(user)
            .prefetch_related(
                "lines",
                "adjustments",
                Prefetch(
                    "events",
                    queryset=OrderEvent.objects.shopper_visible().order_by("created_at", "id"),
                    to_attr="visible_events",
                ),
            )
            .filter(number=cleaned)
            .first()
        )
    if order is None:
        raise NotFoundError("No such order.")
    return order


def order_id_for(*, user: User, number: str) -> int:
    """The id of ``user``'s order ``number`` (one query), for a service that locks it by id; 404 otherwise."""
    cleaned = _clean_number(number)
    order_id = (
        Order.objects.filter(user=user, number=cleaned).values_list("pk", flat=True).first()
        if cleaned is not None
        else None
    )
    if order_id is None:
        raise NotFoundError("No such order.")
    return int(order_id)
