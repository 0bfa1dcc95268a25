"""The shopper's messages about an order: placed, paid, shipped (with carrier and tracking number), cancelled and
expired.

:func:`order_notify` is called by the service that changed the order, inside its transaction; it only
schedules the message with ``transaction.on_commit``, so nothing is rendered or queued while the order row is
locked, and a rolled-back change sends nothing. After commit the order is read again (one query with its
shopper, one for its lines, one for who cancelled a cancelled order) and handed to the notifications app
(:func:`~commerce.notifications.services.notification_send_email` /
:func:`~commerce.notifications.services.notification_send_sms`), which stores and delivers it with retries.

Decisions:

* **Channel.** Email to the address the order was placed with (``Order.email``, else the account's current
  one); SMS to the order's phone (else the account's) only when there is no email. Never both.
* **Expired orders get a message too**: the shopper may have been interrupted while paying and should learn
  that nothing is held for them any more. Delivery gets none (the shopper has the parcel).
* A message that cannot be sent (no contact at all, an address the notifications app refuses) is logged and
  skipped: a transition never fails because of its message.
* Templates: ``templates/emails/orders/<kind>/`` and ``templates/sms/orders/<kind>.txt``. Each names the order
  number and the total as formatted money (:func:`format_money`: ``₹1,23,456.00`` with Indian digit grouping
  for INR); the shipped message names the carrier and tracking number.
"""

import logging
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction

from commerce.core.money import quantize
from commerce.notifications.models import Notification
from commerce.notifications.services import notification_send_to_reachable

from ..models import Order, OrderEvent, OrderEventType, OrderStatus

logger = logging.getLogger(__name__)

KINDS = ("placed", OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED)
CURRENCY_SYMBOLS = {"INR": "₹", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def _group_indian(whole: str) -> str:
    """``1234567`` -> ``12,34,567``: the last three digits, then pairs."""
    if len(whole) <= 3:
        return whole
    head, tail = whole[:-3], whole[-3:]
    pairs: list[str] = []
    while len(head) > 2:
        pairs.insert(0, head[-2:])
        head = head[:-2]
    return ",".join([head, *pairs, tail])


def format_money(amount: Decimal, currency: str) -> str:
    """An amount as a shopper reads it: ``₹1,23,456.00`` (INR groups in lakhs), ``$1,234.50``, ``AED 12.00``."""
    value = quantize(amount, currency)
    sign = "-" if value < 0 else ""
    text = f"{abs(value):f}"
    whole, _, fraction = text.partition(".")
    grouped = _group_indian(whole) if currency == "INR" else f"{int(whole):,}"
    number = f"{grouped}.{fraction}" if fraction else grouped
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{currency} {number}"


def order_message_context(*, order: Order) -> dict[str, Any]:
    """What every order template may use: ``number``, ``name``, ``total``, ``lines`` (``title``, ``sku``,
    ``quantity``, ``amount``), ``carrier``, ``tracking_number``, ``was_paid`` (a cancelled order was paid: a refund
    follows), ``by_shopper`` (the shopper cancelled it, else the shop did), ``reason`` (the shop's reason for
    cancelling, as the order's history shows it; empty when the shopper cancelled), ``payment_minutes``."""
    address = order.shipping_address if isinstance(order.shipping_address, dict) else {}
    name = address.get("name") or getattr(order.user, "full_name", "") or "there"
    lines = [
        {
            "title": line.product_title,
            "sku": line.sku,
            "quantity": line.quantity,
            "amount": format_money(line.line_total, order.currency),
        }
        for line in order.lines.all()
    ]
    by_shopper, reason = False, ""
    if order.status == OrderStatus.CANCELLED:
        event = OrderEvent.objects.filter(order=order, type=OrderEventType.CANCELLED).order_by("-id").first()
        by_shopper = bool(event and event.data.get("by_shopper"))
        reason = event.note if event and not by_shopper and event.note != "Cancelled by the shop." else ""
    return {
        "number": order.number,
        "name": name,
        "total": format_money(order.total, order.currency),
        "lines": lines,
        "carrier": order.carrier,
        "tracking_number": order.tracking_number,
        "was_paid": order.paid_at is not None,
        "by_shopper": by_shopper,
        "reason": reason,
        "payment_minutes": settings.ORDER_PAYMENT_TIMEOUT_MINUTES,
    }


def order_notify_now(*, order_id: int, kind: str) -> Notification | None:
    """Queue the ``kind`` message of an order now (after commit, :func:`order_notify` calls this). None when
    the order has gone or the shopper cannot be reached."""
    order = Order.objects.select_related("user").prefetch_related("lines").filter(pk=order_id).first()
    if order is None:
        logger.warning("order %s vanished before its %s message was sent", order_id, kind)
        return None
    context = order_message_context(order=order)
    email = order.email or (order.user.email or "")
    phone = order.phone or (order.user.phone or "")
    return notification_send_to_reachable(
        email=email,
        phone=phone,
        template=f"orders/{kind}",
        context=context,
        user_id=order.user_id,
        label=f"order {order.number}",
        kind=kind,
    )


def order_notify(*, order_id: int, kind: str) -> None:
    """Send the shopper the ``kind`` message (one of :data:`KINDS`) once the current transaction commits.

    Call it from the service that placed or moved the order (checkout calls it with ``kind="placed"``). An
    error while sending is logged and never reaches the caller (``robust``)."""
    if kind not in KINDS:
        raise ValueError(f"Unknown order message {kind!r}.")
    transaction.on_commit(lambda: order_notify_now(order_id=order_id, kind=kind), robust=True)
