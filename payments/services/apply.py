"""Applying what a provider says happened: :func:`payment_events_apply`.

Webhooks (through the inbox, :mod:`payments.services.webhooks`), Razorpay's client-side confirmation and the
reconciliation fetch all end here as :class:`~payments.gateways.base.NormalizedEvent` lists. Each event is
applied under the order's and the payment's row locks (order first, then payment, as everywhere in payments),
and the state is **derived from amounts**, never incremented by an event, so a duplicate changes nothing and
events in any order converge:

* ``payment_captured``: ``captured_amount`` only grows, to the amount the provider says was captured. When the
  amount and the currency equal the order's total, the payment is ``captured`` and the order is marked paid
  (:func:`~commerce.orders.services.transitions.order_mark_paid`, with the provider's payment id as the
  reference). Otherwise the order is flagged for staff (once) and **never** marked paid; what fits the payment
  (same currency, at most its amount) is still recorded as captured, so staff can refund it.
* a capture for an order that expired or was cancelled unpaid (``order_mark_paid`` refuses it with
  ``late_payment``): the payment is recorded as captured, the order stays as it is and is flagged by the orders
  service ("refund it"), the payment's ``last_error`` says so, and after commit the full refund is queued
  (``payments.tasks.refund_cancelled_order`` → ``order_refund_in_full``: every payment captured for an order that
  was never paid goes back; the order's own figures stay unpaid).
* a capture for an order already paid by **another** payment: recorded, and the order flagged (a double
  payment to refund).
* ``payment_authorized`` / ``payment_failed`` / ``payment_cancelled`` move the status along
  :data:`~payments.models.PAYMENT_TRANSITIONS` and never undo a capture (a late ``failed`` after ``captured`` is a
  no-op). The method (card, upi, ...), the UPI handle and the provider's payment id are recorded.
* ``refund_succeeded``: the :class:`~payments.models.Refund` is found by the provider's refund id (or is the
  pending refund of that amount still waiting for its id; or is created for a refund made at the provider's
  dashboard) and marked ``succeeded``; ``refunded_amount`` becomes the sum of succeeded refunds and the order
  records it (:func:`~commerce.orders.services.transitions.order_record_refund`, reference = provider refund
  id, so the refund service and this webhook record it once). A refund seen before its capture raises
  :class:`EventNotReady`: the webhook processor retries it later.
* ``refund_failed`` marks a pending refund failed (a succeeded one reversed is flagged for staff).
* ``dispute_opened`` flags the order for staff.

Captures and refunds write an audit row (money actions), with the provider as the actor.
"""

import logging
import uuid
from collections.abc import Callable
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum

from accounts.services.audit import audit_record
from commerce.core.errors import Conflict
from commerce.core.money import quantize
from commerce.orders.models import Order
from commerce.orders.models import PaymentStatus as OrderPaymentStatus
from commerce.orders.services.transitions import order_flag, order_lock, order_mark_paid, order_record_refund

from ..gateways.base import EventKind, NormalizedEvent
from ..models import (
    PAYMENT_TRANSITIONS,
    Payment,
    PaymentMethodType,
    PaymentStatus,
    Refund,
    RefundStatus,
)

logger = logging.getLogger(__name__)

AUDIT_CAPTURED = "payment.captured"
AUDIT_REFUNDED = "payment.refunded"
MAX_ERROR_LENGTH = 500
MAX_VPA_LENGTH = 64
MAX_FLAG_LENGTH = 500


class EventNotReady(Conflict):
    """The event cannot be applied yet (a refund seen before its capture): retry it later."""

    default_code = "event_not_ready"


def _find_payment_id(provider: str, event: NormalizedEvent) -> int | None:
    payments = Payment.objects.filter(provider=provider)
    if event.provider_order_id:
        found = payments.filter(provider_order_id=event.provider_order_id).values_list("pk", flat=True).first()
        if found is not None:
            return int(found)
    if event.provider_payment_id:
        found = payments.filter(provider_payment_id=event.provider_payment_id).values_list("pk", flat=True).first()
        if found is not None:
            return int(found)
    return None


def _actor_label(provider: str) -> str:
    return f"{provider} (provider event)"


def _flag(order_id: int, reason: str) -> None:
    order_flag(order_id=order_id, reason=reason[:MAX_FLAG_LENGTH])


def _move(payment: Payment, to_status: str) -> bool:
    """Set ``payment.status`` to ``to_status`` if the table allows it; whether it changed."""
    if payment.status != to_status and to_status in PAYMENT_TRANSITIONS[payment.status]:
        payment.status = to_status
        return True
    return False


def _note_details(payment: Payment, event: NormalizedEvent, *, claim_payment_id: bool) -> bool:
    """Record the method, the UPI handle and the provider's payment id; whether anything changed.

    ``claim_payment_id``: an authorisation or capture names the provider payment that holds the money (Razorpay
    retries inside one order, so a failed attempt's id is replaced); a failure only fills an empty id.
    """
    changed = False
    method = event.method if event.method in PaymentMethodType.values else PaymentMethodType.OTHER
    if event.method and payment.method != method:
        payment.method, changed = method, True
    vpa = event.vpa_handle[:MAX_VPA_LENGTH]
    if vpa and payment.vpa_handle != vpa:
        payment.vpa_handle, changed = vpa, True
    new_id = event.provider_payment_id
    replace = claim_payment_id and payment.status != PaymentStatus.CAPTURED
    if new_id and new_id != payment.provider_payment_id and (replace or not payment.provider_payment_id):
        taken = (
            Payment.objects.filter(provider=payment.provider, provider_payment_id=new_id)
            .exclude(pk=payment.pk)
            .exists()
        )
        if taken:
            logger.error("payment %s: provider payment id %s belongs to another payment", payment.pk, new_id)
        else:
            payment.provider_payment_id, changed = new_id, True
    return changed


def _save(payment: Payment) -> None:
    payment.save(
        update_fields=[
            "status",
            "captured_amount",
            "refunded_amount",
            "provider_payment_id",
            "method",
            "vpa_handle",
            "last_error",
            "updated_at",
        ]
    )


def _reference(payment: Payment) -> str:
    return payment.provider_payment_id or payment.provider_order_id or f"payment {payment.pk}"


# --- payment events -------------------------------------------------------------------------------------------


def _authorized(provider: str, order: Order, payment: Payment, event: NormalizedEvent) -> None:
    changed = _note_details(payment, event, claim_payment_id=True)
    if payment.status in (PaymentStatus.CREATED, PaymentStatus.FAILED):
        changed = _move(payment, PaymentStatus.AUTHORIZED) or changed
    if changed:
        _save(payment)


def _failed(provider: str, order: Order, payment: Payment, event: NormalizedEvent) -> None:
    changed = _note_details(payment, event, claim_payment_id=False)
    if payment.status in (PaymentStatus.CREATED, PaymentStatus.AUTHORIZED) and _move(payment, PaymentStatus.FAILED):
        payment.last_error = (event.error or "The payment failed at the provider.")[:MAX_ERROR_LENGTH]
        changed = True
    if changed:
        _save(payment)


def _cancelled(provider: str, order: Order, payment: Payment, event: NormalizedEvent) -> None:
    if payment.status != PaymentStatus.CAPTURED and _move(payment, PaymentStatus.CANCELLED):
        _save(payment)


def _captured(provider: str, order: Order, payment: Payment, event: NormalizedEvent) -> None:
    before = {"status": payment.status, "captured_amount": str(payment.captured_amount)}
    details_changed = _note_details(payment, event, claim_payment_id=True)
    amount, currency = event.amount, (event.currency or "").upper()
    fits = amount is not None and currency == payment.currency and Decimal("0") < amount <= payment.amount
    matches = fits and amount == order.total and currency == order.currency
    changed = False
    if fits and amount is not None and amount > payment.captured_amount:
        payment.captured_amount, changed = amount, True
    if payment.captured_amount > 0 and payment.status != PaymentStatus.CANCELLED:
        changed = _move(payment, PaymentStatus.CAPTURED) or changed
    problem = ""
    if not matches:
        problem = (
            f"{provider} payment {_reference(payment)} captured {amount} {currency or '(no currency)'} but order "
            f"{order.number} is {order.total} {order.currency}: not marked paid, check and refund."
        )
    elif payment.status == PaymentStatus.CANCELLED:
        problem = f"{provider} payment {_reference(payment)} was captured after it was cancelled: check and refund."
    if problem and payment.last_error != problem[:MAX_ERROR_LENGTH]:
        payment.last_error = problem[:MAX_ERROR_LENGTH]
        _save(payment)
        _flag(order.pk, problem)
        logger.warning("payment %s: %s", payment.pk, problem)
    elif changed or details_changed:
        _save(payment)
    if not changed:
        return
    audit_record(
        action=AUDIT_CAPTURED,
        target=payment,
        before=before,
        after={
            "status": payment.status,
            "captured_amount": str(payment.captured_amount),
            "currency": payment.currency,
            "reference": _reference(payment),
            "event_id": event.event_id,
        },
        actor_label=_actor_label(provider),
    )
    if problem or payment.status != PaymentStatus.CAPTURED:
        return
    _mark_order_paid(provider, order, payment)


def _mark_order_paid(provider: str, order: Order, payment: Payment) -> None:
    reference = _reference(payment)
    if order.paid_at is not None:
        paid_by_other = (
            Payment.objects.filter(order_id=order.pk, status=PaymentStatus.CAPTURED).exclude(pk=payment.pk).exists()
        )
        if paid_by_other:
            _flag(order.pk, f"A second payment ({provider} {reference}) captured for an order already paid: refund it.")
        return
    try:
        # Not in a savepoint of ours: on a late payment order_mark_paid commits its flag in its own (released)
        # savepoint and then raises; catching it here keeps the flag in this transaction.
        order_mark_paid(order_id=order.pk, reference=reference)
    except Conflict as exc:
        if not (exc.extra or {}).get("late_payment"):
            raise
        payment.last_error = f"Late payment: order {order.number} was {order.status}; refunded."[:MAX_ERROR_LENGTH]
        _save(payment)
        logger.warning("payment %s: late payment for %s order %s", payment.pk, order.status, order.number)
        _refund_late_payment_on_commit(order.pk)


def _refund_late_payment_on_commit(order_id: int) -> None:
    """Queue the full refund of the order's captured payments after commit (``payments.tasks.
    refund_cancelled_order``: the order was never paid, so every payment captured for it goes back)."""

    def enqueue() -> None:
        from ..tasks import refund_cancelled_order  # tasks import the services

        try:
            refund_cancelled_order.delay(order_id)
        except Exception:  # the order is flagged "refund it": staff see it if the queue is down
            logger.exception("could not queue the refund of late-paid order %s", order_id)

    transaction.on_commit(enqueue)


# --- refunds and disputes ---------------------------------------------------------------------------------------


def _refund_for(provider: str, payment: Payment, event: NormalizedEvent, amount: Decimal | None) -> Refund | None:
    """The refund this event is about: by the provider's id, else the oldest pending refund of that amount still
    waiting for its id (the refund service stores the id after the provider answered; the webhook may be first)."""
    if event.provider_refund_id:
        found = (
            Refund.objects.select_for_update()
            .filter(provider=provider, provider_refund_id=event.provider_refund_id)
            .first()
        )
        if found is not None:
            return found
    if amount is None:
        return None
    return (
        Refund.objects.select_for_update()
        .filter(payment=payment, status=RefundStatus.PENDING, provider_refund_id="", amount=amount)
        .order_by("pk")
        .first()
    )


def _refund_succeeded(provider: str, order: Order, payment: Payment, event: NormalizedEvent) -> None:
    if payment.captured_amount <= 0:
        raise EventNotReady(f"Refund {event.provider_refund_id} of payment {payment.pk} arrived before its capture.")
    currency = (event.currency or payment.currency).upper()
    if currency != payment.currency:
        _flag(
            order.pk,
            f"{provider} refund {event.provider_refund_id} is in {currency}, the payment in {payment.currency}.",
        )
        return
    refund = _refund_for(provider, payment, event, event.amount)
    if refund is not None and refund.status == RefundStatus.SUCCEEDED:
        return  # a duplicate
    if refund is None:
        if event.amount is None or event.amount <= 0:
            logger.error("payment %s: refund event %s without an amount", payment.pk, event.event_id)
            return
        if payment.refunded_amount + event.amount > payment.captured_amount:
            raise EventNotReady(
                f"Refund {event.provider_refund_id} of {event.amount} exceeds what payment {payment.pk} has captured "
                "so far."
            )
        refund = Refund(
            payment=payment,
            amount=event.amount,
            currency=payment.currency,
            reason="Refunded at the provider.",
            provider=provider,
            idempotency_key=str(uuid.uuid4()),
        )
    if event.provider_refund_id:
        refund.provider_refund_id = event.provider_refund_id
    refund.status = RefundStatus.SUCCEEDED
    refund.last_error = ""
    refund.save()
    refunded = Refund.objects.filter(payment=payment, status=RefundStatus.SUCCEEDED).aggregate(total=Sum("amount"))
    total = quantize(refunded["total"] or Decimal("0.00"), payment.currency)  # SQLite's SUM drops the places
    if total > payment.captured_amount:
        raise EventNotReady(f"Refunds of payment {payment.pk} exceed what it has captured so far.")
    before = {"refunded_amount": str(payment.refunded_amount)}
    payment.refunded_amount = total
    _save(payment)
    reference = refund.provider_refund_id or f"refund {refund.pk}"
    audit_record(
        action=AUDIT_REFUNDED,
        target=payment,
        before=before,
        after={
            "refunded_amount": str(total),
            "amount": str(refund.amount),
            "currency": payment.currency,
            "refund_id": refund.pk,
            "reference": reference,
            "event_id": event.event_id,
        },
        actor_label=_actor_label(provider),
    )
    if order.payment_status not in (OrderPaymentStatus.PAID, OrderPaymentStatus.PARTIALLY_REFUNDED):
        return  # a late payment refunded: the order never recorded it as paid
    try:
        order_record_refund(order_id=order.pk, amount=refund.amount, reference=reference)
    except Conflict as exc:  # its own savepoint was rolled back; the payment's refund stands
        _flag(order.pk, f"{provider} refund {reference} could not be recorded on the order: {exc.detail}")


def _refund_failed(provider: str, order: Order, payment: Payment, event: NormalizedEvent) -> None:
    refund = _refund_for(provider, payment, event, event.amount)
    if refund is None:
        logger.warning("payment %s: failed refund %s is not ours", payment.pk, event.provider_refund_id)
        return
    if refund.status == RefundStatus.SUCCEEDED:
        _flag(order.pk, f"{provider} reports refund {refund.provider_refund_id} failed after it succeeded: check it.")
        return
    if refund.status == RefundStatus.FAILED:
        return
    if event.provider_refund_id:
        refund.provider_refund_id = event.provider_refund_id
    refund.status = RefundStatus.FAILED
    refund.last_error = (event.error or "The refund failed at the provider.")[:MAX_ERROR_LENGTH]
    refund.save(update_fields=["status", "provider_refund_id", "last_error", "updated_at"])


def _dispute(provider: str, order: Order, payment: Payment, event: NormalizedEvent) -> None:
    _flag(order.pk, f"{provider} dispute opened on payment {_reference(payment)}: {event.error or 'no reason given'}.")


_HANDLERS: dict[EventKind, Callable[[str, Order, Payment, NormalizedEvent], None]] = {
    EventKind.PAYMENT_AUTHORIZED: _authorized,
    EventKind.PAYMENT_CAPTURED: _captured,
    EventKind.PAYMENT_FAILED: _failed,
    EventKind.PAYMENT_CANCELLED: _cancelled,
    EventKind.REFUND_SUCCEEDED: _refund_succeeded,
    EventKind.REFUND_FAILED: _refund_failed,
    EventKind.DISPUTE_OPENED: _dispute,
}


def _apply_one(provider: str, event: NormalizedEvent) -> None:
    handler = _HANDLERS.get(event.kind)
    if handler is None:
        return
    payment_id = _find_payment_id(provider, event)
    if payment_id is None:
        logger.warning(
            "%s event %s (%s) names no payment of ours (%s / %s)",
            provider,
            event.event_id,
            event.raw_type,
            event.provider_order_id,
            event.provider_payment_id,
        )
        return
    order_id = Payment.objects.filter(pk=payment_id).values_list("order_id", flat=True).get()
    order = order_lock(order_id=order_id)
    payment = Payment.objects.select_for_update().get(pk=payment_id)
    handler(provider, order, payment, event)


def payment_events_apply(*, provider: str, events: list[NormalizedEvent]) -> None:
    """Apply ``events`` from ``provider`` idempotently, all or nothing (see the module docstring).

    Raises :class:`EventNotReady` (409 ``event_not_ready``) when one cannot be applied yet: nothing is applied
    and the caller retries the whole list later.
    """
    with transaction.atomic():
        for event in events:
            _apply_one(provider, event)
