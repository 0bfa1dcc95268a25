"""Every change of an order's status or payment status: the one place they are written.

One rule for all of them: lock the order row (``SELECT ... FOR UPDATE``), re-check the status **on the locked
row** against :data:`~commerce.orders.models.ORDER_TRANSITIONS`, do what the move implies for stock and the
coupon, set the status and its timestamp, append an :class:`~commerce.orders.models.OrderEvent` (who, from, to,
note, data, whether the shopper sees it), and publish the domain event of :mod:`commerce.orders.events` and the
shopper's message (:mod:`.notify`) after commit. Anything the table does not allow is 409 ``invalid_transition``
naming both statuses. :func:`order_transition` does exactly that for any target status; the named services
below add their own input checks and rules on top of it.

What each move does to stock and the coupon (units of every line, all variants locked in one query, id order):

=========================  ==================================================================================
``pending_payment -> paid``  allocation becomes deduction (``variants_stock_fulfil``): units leave both the
                             allocated and the on-hand figures. ``payment_status -> paid``.
``pending_payment ->``       allocation released (``variants_stock_release``) and the coupon use given back
``cancelled | expired``      (``coupon_release``).
``paid -> cancelled``        the units go back on hand (``variant_stock_adjust`` with the order number as the
                             reason, one audited change per variant) and the coupon use is given back;
                             ``order_cancelled(was_paid=True)`` tells payments to refund. ``payment_status``
                             stays ``paid`` until the refund is recorded with :func:`order_record_refund`.
``paid -> fulfilled``        carrier and tracking number recorded (stock was already deducted at payment).
``fulfilled -> delivered``   nothing but the timestamp.
=========================  ==================================================================================

Decisions where the issue is silent:

* **Duplicated payments.** :func:`order_mark_paid` on an order that was ever paid (``paid_at`` set: paid,
  fulfilled, delivered, or cancelled after payment) changes nothing and returns it, so a duplicated webhook is
  harmless. A payment that arrives while the order is still ``pending_payment`` is accepted even if its
  ``expires_at`` has just passed and the expiry task has not run yet: the stock is still allocated.
* **Late payments.** A payment for an order that already ``expired`` or was ``cancelled`` unpaid does not
  revive it (its stock may be sold to someone else by now). The order is flagged for staff
  (``needs_attention``, a ``flagged`` event with the payment reference), that flag is committed, and the call
  raises 409 ``invalid_transition`` with ``late_payment: true`` in the body, so payments refunds the money. A
  caller that runs :func:`order_mark_paid` inside its own ``transaction.atomic`` keeps the flag only if it
  catches the error inside that block.
* **Cancelling a paid order gives the coupon use back too**: the shopper is refunded, so nothing was bought with
  it. Shopper and staff may cancel the same statuses (``pending_payment`` and ``paid``); a staff cancel of a
  paid order also writes an ``order.cancelled_paid`` audit row.
* **Refunds** are recorded by payments after the gateway accepted them (:func:`order_record_refund`); one with a
  ``reference`` already recorded on the order changes nothing (a duplicated refund webhook). Every recorded
  refund writes an ``order.refund_recorded`` audit row (actor from the arguments or the audit context).
* **Expired orders** are not stamped with ``cancelled_at``; their ``expired`` event carries the time.
* Events of staff-only matters (``flagged``) are hidden from the shopper; every status change is visible.
"""

from __future__ import annotations

import logging
import unicodedata
from collections import Counter
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from accounts.models import User
from accounts.services.audit import audit_record
from commerce.catalog.models import ProductVariant
from commerce.catalog.services.stock import variant_stock_adjust, variants_stock_fulfil, variants_stock_release
from commerce.core.errors import Conflict, InvalidInput, NotFoundError
from commerce.core.money import MAX_AMOUNT, MoneyError, quantize, to_decimal
from commerce.core.text import has_hidden_characters
from commerce.offers.services import coupon_release

from .. import events
from ..models import (
    ORDER_TRANSITIONS,
    PAYMENT_TRANSITIONS,
    Order,
    OrderEvent,
    OrderEventType,
    OrderLine,
    OrderStatus,
    PaymentStatus,
)
from .notify import order_notify

logger = logging.getLogger(__name__)

MAX_NOTE_LENGTH = 500  # OrderEvent.note
MAX_CARRIER_LENGTH = 60  # Order.carrier
MAX_TRACKING_LENGTH = 80  # Order.tracking_number
MAX_REFERENCE_LENGTH = 255

AUDIT_CANCELLED_PAID = "order.cancelled_paid"
AUDIT_REFUND_RECORDED = "order.refund_recorded"

# The timestamp each status stamps on the order.
_TIMESTAMPS: dict[str, str] = {
    OrderStatus.PAID: "paid_at",
    OrderStatus.FULFILLED: "fulfilled_at",
    OrderStatus.DELIVERED: "delivered_at",
    OrderStatus.CANCELLED: "cancelled_at",
}
_SIGNALS: dict[str, Signal] = {
    OrderStatus.PAID: events.order_paid,
    OrderStatus.FULFILLED: events.order_fulfilled,
    OrderStatus.DELIVERED: events.order_delivered,
    OrderStatus.CANCELLED: events.order_cancelled,
    OrderStatus.EXPIRED: events.order_expired,
}
# The shopper hears about these moves (see notify.py); "delivered" they witness themselves.
_NOTIFIED = {OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED}


# --- input ----------------------------------------------------------------------------------------------


def _clean_text(value: Any, *, name: str, max_length: int, required: bool, multiline: bool = False) -> str:
    """Trim ``value``; refuse non-strings, text longer than ``max_length``, and control or format characters
    (NUL, bidi overrides, zero-width joiners), except line breaks and tabs in ``multiline`` text (notes)."""
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be text.", fields={name: ["Must be text."]})
    text = unicodedata.normalize("NFC", value).strip()
    if required and not text:
        raise InvalidInput(f"{name} is required.", fields={name: ["This field is required."]})
    if len(text) > max_length:
        raise InvalidInput(
            f"{name} is too long.", fields={name: [f"Ensure this field has no more than {max_length} characters."]}
        )
    if has_hidden_characters(text, multiline=multiline):
        raise InvalidInput(f"{name} contains invalid characters.", fields={name: ["Remove control characters."]})
    return text


def _clean_refund_amount(amount: Any) -> Decimal:
    try:
        value = to_decimal(amount)
    except MoneyError:
        raise InvalidInput("The amount is not a number.", fields={"amount": ["Enter an amount."]}) from None
    if value <= 0 or value > MAX_AMOUNT:
        raise InvalidInput("The amount must be positive.", fields={"amount": ["Must be more than zero."]})
    if quantize(value, "INR") != value:  # two places, as every money column keeps
        raise InvalidInput("At most two decimal places.", fields={"amount": ["At most two decimal places."]})
    return value


# --- locking and the move itself -------------------------------------------------------------------------


def order_lock(*, order_id: int) -> Order:
    """The order row, locked until the surrounding transaction ends; 404 if there is none."""
    if isinstance(order_id, bool) or not isinstance(order_id, int):
        raise NotFoundError("No such order.")
    order = Order.objects.select_for_update().filter(pk=order_id).first()
    if order is None:
        raise NotFoundError("No such order.")
    return order


def _refuse(order: Order, to_status: str, **extra: Any) -> Conflict:
    return Conflict(
        f"Order {order.number} cannot go from {order.status} to {to_status}.",
        code="invalid_transition",
        extra={"from_status": order.status, "to_status": to_status, **extra},
    )


def _quantities(order: Order) -> dict[int, int]:
    """``{variant_id: units}`` of the order's lines, in one query."""
    counts: Counter[int] = Counter()
    for variant_id, quantity in OrderLine.objects.filter(order=order).values_list("variant_id", "quantity"):
        counts[variant_id] += quantity
    return dict(counts)


def _release_coupon(order: Order) -> None:
    if order.offer is not None:
        coupon_release(offer=order.offer, order_reference=order.number)


def _restock(order: Order, quantities: dict[int, int], *, actor: User | None) -> None:
    """Put a paid order's units back on hand. All variants are locked first in one query (id order, as every
    stock change does), then each gets its audited adjustment."""
    list(ProductVariant.objects.select_for_update().filter(pk__in=quantities).order_by("pk").values_list("pk"))
    for variant_id in sorted(quantities):
        variant_stock_adjust(
            variant_id=variant_id,
            delta=quantities[variant_id],
            reason=f"Order {order.number} cancelled after payment: units back on hand.",
            actor=actor,
        )


def _stock_and_coupon(order: Order, to_status: str, *, actor: User | None) -> None:
    """What leaving ``order.status`` for ``to_status`` does to stock and the coupon (see the module table)."""
    if to_status == OrderStatus.FULFILLED or to_status == OrderStatus.DELIVERED:
        return
    quantities = _quantities(order)
    if order.status == OrderStatus.PENDING_PAYMENT and to_status == OrderStatus.PAID:
        if quantities:
            variants_stock_fulfil(quantities=quantities)
    elif order.status == OrderStatus.PENDING_PAYMENT:  # cancelled or expired before payment
        if quantities:
            variants_stock_release(quantities=quantities)
        _release_coupon(order)
    elif order.status == OrderStatus.PAID and to_status == OrderStatus.CANCELLED:
        if quantities:
            _restock(order, quantities, actor=actor)
        _release_coupon(order)


def _event(
    order: Order,
    *,
    type: str,
    from_status: str = "",
    to_status: str = "",
    actor: User | None,
    note: str = "",
    data: dict[str, Any] | None = None,
    shopper_visible: bool = True,
) -> OrderEvent:
    return OrderEvent.objects.create(
        order=order,
        type=type,
        from_status=from_status,
        to_status=to_status,
        actor=actor,
        note=note[:MAX_NOTE_LENGTH],
        data=data or {},
        shopper_visible=shopper_visible,
        created_at=timezone.now(),
    )


def _actor(actor: Any) -> User | None:
    return actor if isinstance(actor, User) and actor.pk is not None else None


def order_transition_locked(
    *,
    order: Order,
    to_status: str,
    actor: User | None = None,
    note: str = "",
    data: dict[str, Any] | None = None,
    fields: dict[str, Any] | None = None,
    signal_kwargs: dict[str, Any] | None = None,
) -> Order:
    """Move ``order``, which the caller has locked inside its transaction (:func:`order_lock`), to ``to_status``.

    ``fields`` are further order columns to write in the same save (carrier, tracking number);
    ``signal_kwargs`` the documented extra arguments of the domain event. For callers in this package (expiry);
    everyone else calls :func:`order_transition` or a named service.
    """
    from_status = order.status
    if to_status not in ORDER_TRANSITIONS.get(from_status, set()):
        raise _refuse(order, to_status)
    if to_status == OrderStatus.PAID and PaymentStatus.PAID not in PAYMENT_TRANSITIONS[order.payment_status]:
        raise Conflict(f"Order {order.number} is already {order.payment_status}.", code="invalid_transition")
    actor = _actor(actor)
    _stock_and_coupon(order, to_status, actor=actor)
    changed = ["status", "updated_at"]
    order.status = to_status
    if to_status in _TIMESTAMPS:
        setattr(order, _TIMESTAMPS[to_status], timezone.now())
        changed.append(_TIMESTAMPS[to_status])
    if to_status == OrderStatus.PAID:
        order.payment_status = PaymentStatus.PAID
        changed.append("payment_status")
    for name, value in (fields or {}).items():
        setattr(order, name, value)
        changed.append(name)
    order.save(update_fields=changed)
    _event(order, type=to_status, from_status=from_status, to_status=to_status, actor=actor, note=note, data=data)
    events.publish(_SIGNALS[to_status], order_id=order.pk, number=order.number, **(signal_kwargs or {}))
    if to_status in _NOTIFIED:
        order_notify(order_id=order.pk, kind=to_status)
    logger.info("order %s %s -> %s", order.number, from_status, to_status)
    return order


def _fulfil_fields(data: dict[str, Any] | None) -> dict[str, str]:
    data = data or {}
    return {
        "carrier": _clean_text(data.get("carrier"), name="carrier", max_length=MAX_CARRIER_LENGTH, required=True),
        "tracking_number": _clean_text(
            data.get("tracking_number"), name="tracking_number", max_length=MAX_TRACKING_LENGTH, required=True
        ),
    }


def order_transition(
    *, order_id: int, to_status: str, actor: User | None = None, note: str = "", data: dict[str, Any] | None = None
) -> Order:
    """Move an order to ``to_status`` under its row lock, with everything the move implies (module docstring).

    409 ``invalid_transition`` (``from_status``/``to_status`` in the body) for a move the table does not allow,
    404 for an unknown order. ``paid -> fulfilled`` needs ``data["carrier"]`` and ``data["tracking_number"]``.
    """
    note = _clean_text(note, name="note", max_length=MAX_NOTE_LENGTH, required=False, multiline=True)
    if to_status not in OrderStatus.values:
        raise InvalidInput(f"{to_status!r} is not an order status.", fields={"to_status": ["Not a status."]})
    fields = _fulfil_fields(data) if to_status == OrderStatus.FULFILLED else None
    signal_kwargs: dict[str, Any] = dict(fields or {})
    with transaction.atomic():
        order = order_lock(order_id=order_id)
        if to_status == OrderStatus.CANCELLED:
            signal_kwargs["was_paid"] = order.status == OrderStatus.PAID
        return order_transition_locked(
            order=order,
            to_status=to_status,
            actor=actor,
            note=note,
            data={**(data or {}), **(fields or {})},
            fields=fields,
            signal_kwargs=signal_kwargs,
        )


# --- the named services ---------------------------------------------------------------------------------


def _flag_locked(order: Order, *, reason: str, actor: User | None, data: dict[str, Any] | None = None) -> None:
    if not order.needs_attention:
        order.needs_attention = True
        order.save(update_fields=["needs_attention", "updated_at"])
    _event(order, type=OrderEventType.FLAGGED, actor=actor, note=reason, data=data, shopper_visible=False)


def order_mark_paid(*, order_id: int, actor: User | None = None, reference: str = "") -> Order:
    """``pending_payment -> paid``: the payment was captured. Allocated units become a deduction.

    An order paid before (``paid_at`` set) is returned unchanged. A late payment for an expired or cancelled
    order flags it for staff and raises 409 ``invalid_transition`` with ``late_payment: true`` (see the module).
    """
    reference = _clean_text(reference, name="reference", max_length=MAX_REFERENCE_LENGTH, required=False)
    with transaction.atomic():
        order = order_lock(order_id=order_id)
        if order.paid_at is not None or order.payment_status != PaymentStatus.UNPAID:
            return order
        if order.status == OrderStatus.PENDING_PAYMENT:
            return order_transition_locked(
                order=order,
                to_status=OrderStatus.PAID,
                actor=actor,
                note="Payment received.",
                data={"reference": reference} if reference else None,
            )
        refusal = _refuse(order, OrderStatus.PAID, late_payment=True)
        _flag_locked(
            order,
            reason=f"Payment {reference or '(no reference)'} arrived after the order was {order.status}: refund it.",
            actor=_actor(actor),
            data={"reference": reference, "late_payment": True, "status": order.status},
        )
    logger.warning("late payment %s for %s order %s", reference, order.status, order.number)
    raise refusal


def order_cancel(*, order_id: int, actor: User | None = None, reason: str = "", by_shopper: bool = False) -> Order:
    """Cancel an unpaid order, or a paid one not yet shipped (anything else: 409 ``invalid_transition``).

    Unpaid: its allocation and coupon use are released. Paid: its units go back on hand, the coupon use is
    given back, and ``order_cancelled(was_paid=True)`` makes payments refund. ``by_shopper`` says the shopper
    asked (the API); the caller checks the order is theirs. The reason, the shopper's or staff's, is the note of
    the ``cancelled`` event, which the shopper sees in the order's history (a shop that cancels owes the
    shopper a why; staff write it for the shopper). A staff cancel of a paid order is audited, with the reason.
    """
    reason = _clean_text(reason, name="reason", max_length=MAX_NOTE_LENGTH, required=False, multiline=True)
    with transaction.atomic():
        order = order_lock(order_id=order_id)
        was_paid = order.status == OrderStatus.PAID
        before = {"status": order.status, "payment_status": order.payment_status}
        note = reason or ("Cancelled at your request." if by_shopper else "Cancelled by the shop.")
        order_transition_locked(
            order=order,
            to_status=OrderStatus.CANCELLED,
            actor=actor,
            note=note,
            data={"by_shopper": bool(by_shopper), "was_paid": was_paid},
            signal_kwargs={"was_paid": was_paid},
        )
        if was_paid and not by_shopper:
            audit_record(
                action=AUDIT_CANCELLED_PAID,
                target=order,
                before=before,
                after={
                    "status": order.status,
                    "reason": reason,
                    "refund_due": str(order.total - order.refunded_amount),
                },
                actor=_actor(actor),
            )
    return order


def order_fulfil(*, order_id: int, actor: User | None = None, carrier: str, tracking_number: str) -> Order:
    """``paid -> fulfilled``: shipped with ``carrier`` under ``tracking_number`` (both required, trimmed, at
    most 60 and 80 characters, no control characters: 400 with ``fields`` otherwise)."""
    return order_transition(
        order_id=order_id,
        to_status=OrderStatus.FULFILLED,
        actor=actor,
        note="Shipped.",
        data={"carrier": carrier, "tracking_number": tracking_number},
    )


def order_deliver(*, order_id: int, actor: User | None = None) -> Order:
    """``fulfilled -> delivered``; starts the return window of cashback and loyalty (``order_delivered``)."""
    return order_transition(order_id=order_id, to_status=OrderStatus.DELIVERED, actor=actor, note="Delivered.")


def order_record_refund(*, order_id: int, amount: Decimal, actor: User | None = None, reference: str = "") -> Order:
    """Record money that went back to the shopper: ``refunded_amount`` grows by ``amount`` and the payment
    status becomes ``partially_refunded`` or ``refunded``; publishes ``order_refunded``.

    400 for an amount that is not positive or has more than two places; 409 ``invalid_transition`` for an
    order with nothing paid or already fully refunded; 409 ``refund_exceeds_paid`` above what is left
    (``total - refunded_amount``, named as ``refundable`` in the body). The same ``reference`` twice on one
    order is recorded once.
    """
    value = _clean_refund_amount(amount)
    reference = _clean_text(reference, name="reference", max_length=MAX_REFERENCE_LENGTH, required=False)
    with transaction.atomic():
        order = order_lock(order_id=order_id)
        if (
            reference
            and OrderEvent.objects.filter(order=order, type=OrderEventType.REFUNDED, data__reference=reference).exists()
        ):
            return order
        if order.payment_status not in (PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED):
            raise Conflict(
                f"Order {order.number} has no payment to refund ({order.payment_status}).",
                code="invalid_transition",
                extra={"from_status": order.payment_status, "to_status": PaymentStatus.REFUNDED},
            )
        refundable = order.total - order.refunded_amount
        if value > refundable:
            raise Conflict(
                f"At most {refundable} {order.currency} of order {order.number} can still be refunded.",
                code="refund_exceeds_paid",
                extra={"refundable": {"amount": str(refundable), "currency": order.currency}},
            )
        before = {"payment_status": order.payment_status, "refunded_amount": str(order.refunded_amount)}
        from_payment = order.payment_status
        order.refunded_amount += value
        fully = order.refunded_amount == order.total
        order.payment_status = PaymentStatus.REFUNDED if fully else PaymentStatus.PARTIALLY_REFUNDED
        if order.payment_status not in PAYMENT_TRANSITIONS[from_payment]:  # the table is the authority
            raise Conflict(f"Order {order.number} cannot be refunded now.", code="invalid_transition")
        order.save(update_fields=["refunded_amount", "payment_status", "updated_at"])
        actor = _actor(actor)
        _event(
            order,
            type=OrderEventType.REFUNDED,
            from_status=from_payment,
            to_status=order.payment_status,
            actor=actor,
            note=f"Refunded {value} {order.currency}.",
            data={"amount": str(value), "currency": order.currency, "reference": reference},
        )
        audit_record(
            action=AUDIT_REFUND_RECORDED,
            target=order,
            before=before,
            after={
                "payment_status": order.payment_status,
                "refunded_amount": str(order.refunded_amount),
                "amount": str(value),
                "reference": reference,
            },
            actor=actor,
        )
        events.publish(
            events.order_refunded,
            order_id=order.pk,
            number=order.number,
            amount=value,
            currency=order.currency,
            refunded_total=order.refunded_amount,
            fully_refunded=fully,
        )
    return order


def order_flag(*, order_id: int, reason: str, actor: User | None = None) -> Order:
    """Mark an order as needing staff attention (a dispute, a late payment): ``needs_attention`` and a
    ``flagged`` event the shopper does not see. ``reason`` is required (at most 500 characters)."""
    reason = _clean_text(reason, name="reason", max_length=MAX_NOTE_LENGTH, required=True, multiline=True)
    with transaction.atomic():
        order = order_lock(order_id=order_id)
        _flag_locked(order, reason=reason, actor=_actor(actor))
    return order
