"""Refunds: :func:`refund_create` (one payment, any amount up to what is left), :func:`order_refund_in_full`
(every captured payment of an order, in full: a cancelled paid order), :func:`refund_settle` (a refund's outcome,
from our own call or the provider's event), :func:`refunds_retry_pending` (the sweep of refunds the provider
never acknowledged) and :func:`cancelled_orders_refund_due` (the sweep of cancelled paid orders whose refund
task was lost).

How a refund is made (the provider is never called under a row lock):

1. **Request**, one short transaction: the payment row is locked and what may still be refunded is computed on
   it, ``captured - refunded - pending``: a ``pending`` refund counts as spent, so two concurrent requests can
   never together refund more than was captured (the second waits for the first's lock and sees its pending row).
   Above that: 409 ``refund_exceeds_captured`` with ``refundable`` (a money object) in the body. The
   :class:`~payments.models.Refund` row is written ``pending`` with its own idempotency key, and an audit row
   ``payment.refund_requested`` says who asked, how much and why. Commit.
2. **Provider call**, no lock held: ``gateway.refund`` with the refund's idempotency key, so sending it again
   (a retry after a timeout) cannot refund twice at the provider.
3. **Outcome**, :func:`refund_settle`: the order, the payment and the refund are locked again (order first, then
   payment, as everywhere in payments), re-checked (an event may have settled it meanwhile: then nothing changes)
   and written:

   * succeeded: the refund is ``succeeded``; the payment's ``refunded_amount`` is recomputed as the sum of its
     succeeded refunds (never incremented, so applying an outcome twice changes nothing); the order records it
     through ``order_record_refund`` under :func:`refund_order_reference` (recorded once per reference), which
     moves its payment status to ``partially_refunded``/``refunded`` and publishes ``order_refunded``.
   * failed (the provider refused): ``failed`` with the provider's error; its amount is free again.
     :func:`refund_create` then raises 400 ``provider_refused`` (the failed row stays, for the record).
   * pending at the provider (Razorpay processes refunds later): the provider's refund id is kept and the
     provider's refund event settles it.

Decisions where the issue is silent:

* **Provider down** (``ProviderUnavailable``): the refund stays ``pending`` with the error noted and
  :func:`refund_create` raises 503 ``provider_unavailable`` (``refund_id`` in the body). It is not lost:
  :func:`refunds_retry_pending` (the periodic task ``payments.tasks.retry_pending_refunds``) sends every refund
  still pending without a provider id after :data:`RETRY_AFTER` again, with the same idempotency key. Its amount
  stays reserved meanwhile, so nobody can refund it twice by asking again.
* **A refund of money the order never counted as paid** (a late payment, which the orders service refused and
  flagged): the money goes back and the payment records it; the order, still unpaid, is left as it is. A refund
  the order refuses to record (more than it says is left: a second payment of the same order) flags the order
  for staff. Both as ``payments.services.apply`` does for the provider's refund events.
* **Full refund of an order** refunds, per captured payment, whatever is not refunded or pending yet; running it
  twice (a retried task) refunds nothing more. A payment whose refund the provider refuses flags the order for
  staff; one whose provider is down stays pending for the sweep. Neither stops the other payments.
* Amounts: positive, at most two decimal places and as many as the payment's currency has; floats are refused.
  The reason is required (trimmed, at most 300 characters, no control characters).
"""

import logging
import unicodedata
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import User
from accounts.services.audit import audit_record
from commerce.core.errors import Conflict, DomainError, InvalidInput, NotFoundError
from commerce.core.money import MAX_AMOUNT, MoneyError, quantize, to_decimal
from commerce.core.text import has_hidden_characters
from commerce.orders.models import Order, OrderStatus
from commerce.orders.models import PaymentStatus as OrderPaymentStatus
from commerce.orders.services.transitions import order_flag, order_lock, order_record_refund

from ..gateways.base import Gateway, ProviderRefused, ProviderUnavailable, RefundResult
from ..gateways.registry import gateway_for
from ..models import Payment, Refund, RefundStatus

logger = logging.getLogger(__name__)

AUDIT_REFUND_REQUESTED = "payment.refund_requested"
MAX_REASON_LENGTH = 300  # Refund.reason
MAX_ERROR_LENGTH = 500  # Refund.last_error
#: A pending refund the provider never acknowledged is sent again after this long (see :func:`refunds_retry_pending`).
RETRY_AFTER = timedelta(minutes=10)
CANCELLED_ORDER_REASON = "Order cancelled after payment: refunded in full."


# --- input ----------------------------------------------------------------------------------------------


def _clean_amount(amount: Any) -> Decimal:
    try:
        value = to_decimal(amount)
    except MoneyError:
        raise InvalidInput(
            "The amount is not a number.", fields={"amount": ["Enter an amount, e.g. 499.00."]}
        ) from None
    if value <= 0:
        raise InvalidInput("The amount must be more than zero.", fields={"amount": ["Must be more than zero."]})
    if value > MAX_AMOUNT:
        raise InvalidInput("The amount is too large.", fields={"amount": [f"At most {MAX_AMOUNT}."]})
    if value != value.quantize(Decimal("0.01")):
        raise InvalidInput("At most two decimal places.", fields={"amount": ["At most two decimal places."]})
    return value.quantize(Decimal("0.01"))


def _clean_reason(reason: Any) -> str:
    if not isinstance(reason, str):
        raise InvalidInput("The reason must be text.", fields={"reason": ["Must be text."]})
    text = unicodedata.normalize("NFC", reason).strip()
    if not text:
        raise InvalidInput("A reason is required.", fields={"reason": ["This field is required."]})
    if len(text) > MAX_REASON_LENGTH:
        raise InvalidInput(
            "The reason is too long.",
            fields={"reason": [f"Ensure this field has no more than {MAX_REASON_LENGTH} characters."]},
        )
    if has_hidden_characters(text):
        raise InvalidInput("The reason contains invalid characters.", fields={"reason": ["Remove control characters."]})
    return text


def _actor(actor: Any) -> User | None:
    return actor if isinstance(actor, User) and actor.pk is not None else None


def _valid_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --- arithmetic -----------------------------------------------------------------------------------------


def _total(payment: Payment, status: str) -> Decimal:
    total: Decimal | None = Refund.objects.filter(payment=payment, status=status).aggregate(total=Sum("amount"))[
        "total"
    ]
    return total if total is not None else Decimal("0.00")


def refundable_amount(*, payment: Payment) -> Decimal:
    """What may still be refunded of ``payment``: captured, less refunded, less refunds pending. Exact only
    while the caller holds the payment's row lock."""
    left: Decimal = payment.captured_amount - payment.refunded_amount - _total(payment, RefundStatus.PENDING)
    return left if left > 0 else Decimal("0.00")


# --- request, provider call, outcome --------------------------------------------------------------------


def _payment_lock(payment_id: Any) -> Payment:
    if not _valid_id(payment_id):
        raise NotFoundError("No such payment.")
    # Only the payment row: the order is locked (first) by refund_settle, never here, so the two cannot deadlock.
    payment = Payment.objects.select_for_update(of=("self",)).select_related("order").filter(pk=payment_id).first()
    if payment is None:
        raise NotFoundError("No such payment.")
    return payment


def _request_locked(*, payment: Payment, amount: Decimal, reason: str, actor: User | None) -> Refund:
    """Write the pending refund of ``amount`` on ``payment`` (locked by the caller) and its audit row."""
    refund = Refund.objects.create(
        payment=payment,
        amount=amount,
        currency=payment.currency,
        reason=reason,
        status=RefundStatus.PENDING,
        provider=payment.provider,
        idempotency_key=f"rf_{uuid.uuid4().hex}",
        requested_by=actor,
    )
    audit_record(
        action=AUDIT_REFUND_REQUESTED,
        target=refund,
        after={
            "payment": payment.pk,
            "order": payment.order.number,
            "provider": payment.provider,
            "amount": str(amount),
            "currency": payment.currency,
            "reason": reason,
        },
        actor=actor,
    )
    logger.info("refund %s of %s %s requested on payment %s", refund.pk, amount, payment.currency, payment.pk)
    return refund


def _exceeds(payment: Payment, left: Decimal) -> Conflict:
    detail = (
        f"At most {left} {payment.currency} of payment {payment.pk} can still be refunded."
        if payment.captured_amount > 0
        else f"Payment {payment.pk} has captured nothing to refund."
    )
    return Conflict(
        detail,
        code="refund_exceeds_captured",
        extra={"refundable": {"amount": str(left), "currency": payment.currency}},
    )


def _unavailable(refund: Refund, error: str) -> tuple[Refund, DomainError]:
    """Note why the provider's answer is missing on the still pending refund; the 503 to report."""
    Refund.objects.filter(pk=refund.pk, status=RefundStatus.PENDING).update(
        last_error=f"Provider unavailable: {error}"[:MAX_ERROR_LENGTH], updated_at=timezone.now()
    )
    refund.refresh_from_db()
    return refund, ProviderUnavailable(
        f"{refund.provider} could not be reached: the refund of {refund.amount} {refund.currency} stays pending "
        "and is sent again automatically.",
        extra={"refund_id": refund.pk},
    )


def _send(*, gateway: Gateway, refund_id: int) -> tuple[Refund, DomainError | None]:
    """Call the provider for the pending refund (no lock held), then record its answer with :func:`refund_settle`.

    Returns the refund and the error to report: ``ProviderRefused`` (recorded as failed) or ``ProviderUnavailable``
    (still pending, the error noted; also for an unexpected error of the adapter, whose outcome is unknown: the
    idempotency key makes sending it again safe); ``None`` when it succeeded or is pending at the provider."""
    refund = Refund.objects.select_related("payment", "payment__order").get(pk=refund_id)
    try:
        result = gateway.refund(payment=refund.payment, refund=refund)
    except ProviderUnavailable as exc:
        logger.warning("refund %s: provider %s unavailable: %s", refund.pk, refund.provider, exc.detail)
        return _unavailable(refund, exc.detail)
    except ProviderRefused as exc:
        result = RefundResult(provider_refund_id="", succeeded=False, error=exc.detail)
    except Exception as exc:  # an adapter's unmapped error: the outcome is unknown, so the refund stays pending
        logger.exception("refund %s: unexpected error from %s", refund.pk, refund.provider)
        return _unavailable(refund, f"{type(exc).__name__}: {exc}")
    if result.pending and not result.succeeded:
        refund = refund_settle(refund_id=refund.pk, outcome="pending", provider_refund_id=result.provider_refund_id)
        return refund, None
    refund = refund_settle(
        refund_id=refund.pk,
        outcome="succeeded" if result.succeeded else "failed",
        provider_refund_id=result.provider_refund_id,
        error=result.error,
    )
    if refund.status == RefundStatus.FAILED:
        return refund, ProviderRefused(
            f"{refund.provider} refused the refund: {refund.last_error or 'no reason given'}.",
            extra={"refund_id": refund.pk},
        )
    return refund, None


def refund_settle(
    *, refund_id: int, outcome: str, provider_refund_id: str = "", error: str = "", actor: User | None = None
) -> Refund:
    """Record what became of a refund: ``outcome`` is ``succeeded``, ``failed`` or ``pending`` (accepted by the
    provider, not done yet: only its id is kept). Idempotent: a refund already succeeded or failed is returned
    unchanged (but learns its provider id if it had none), so our own answer and the provider's event may arrive
    in either order. For the provider's refund events too (``payments.services.apply``).

    A provider refund id already held by another row (the provider's event recorded the refund first, under its
    own row) makes this one ``failed`` with a note naming the other: the money is counted once, on that row.
    """
    if outcome not in ("succeeded", "failed", "pending"):
        raise InvalidInput(f"Unknown refund outcome {outcome!r}.", fields={"outcome": ["Not an outcome."]})
    provider_refund_id = (provider_refund_id or "").strip()[:100]
    row = Refund.objects.filter(pk=refund_id).values_list("payment_id", "payment__order_id").first()
    if row is None:
        raise NotFoundError("No such refund.")
    payment_id, order_id = row
    with transaction.atomic():
        order = order_lock(order_id=order_id)
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        payment.order = order
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        changed: list[str] = []
        if provider_refund_id and not refund.provider_refund_id:
            holder = (
                Refund.objects.filter(provider=refund.provider, provider_refund_id=provider_refund_id)
                .exclude(pk=refund.pk)
                .values_list("pk", flat=True)
                .first()
            )
            if holder is not None:
                if refund.status == RefundStatus.PENDING:
                    refund.status = RefundStatus.FAILED
                    refund.last_error = f"Recorded by the provider's event as refund {holder}."
                    refund.save(update_fields=["status", "last_error", "updated_at"])
                return refund
            refund.provider_refund_id = provider_refund_id
            changed.append("provider_refund_id")
        if refund.status != RefundStatus.PENDING or outcome == "pending":
            if changed:
                refund.save(update_fields=[*changed, "updated_at"])
            return refund
        if outcome == "failed":
            refund.status = RefundStatus.FAILED
            refund.last_error = (error or "Refused by the provider.")[:MAX_ERROR_LENGTH]
            refund.save(update_fields=[*changed, "status", "last_error", "updated_at"])
            logger.warning("refund %s failed: %s", refund.pk, refund.last_error)
            return refund
        refund.status = RefundStatus.SUCCEEDED
        refund.last_error = ""
        refund.save(update_fields=[*changed, "status", "last_error", "updated_at"])
        payment.refunded_amount = _total(payment, RefundStatus.SUCCEEDED)
        payment.save(update_fields=["refunded_amount", "updated_at"])
        _record_on_order(payment=payment, refund=refund, actor=actor or refund.requested_by)
    logger.info("refund %s of %s %s succeeded", refund.pk, refund.amount, refund.currency)
    return refund


def refund_order_reference(refund: Refund) -> str:
    """The reference a refund is recorded under on its order: the provider's refund id (or ``refund <id>``), the
    same one ``payments.services.apply`` uses, so our own answer and the provider's event record it once."""
    return refund.provider_refund_id or f"refund {refund.pk}"


def _record_on_order(*, payment: Payment, refund: Refund, actor: User | None) -> None:
    """``order_record_refund`` for an order that counts the payment as paid, in its own savepoint. A refund of a
    payment the order never counted (a late payment) leaves the order as it is; a refusal (more than the order
    says is left: a second payment of the same order) flags it for staff. The payment's figures stand."""
    order = payment.order
    if order.payment_status not in (OrderPaymentStatus.PAID, OrderPaymentStatus.PARTIALLY_REFUNDED):
        logger.info("refund %s of payment %s: order %s never counted it as paid", refund.pk, payment.pk, order.number)
        return
    reference = refund_order_reference(refund)
    try:
        order_record_refund(order_id=order.pk, amount=refund.amount, actor=actor, reference=reference)
    except Conflict as exc:
        logger.warning("refund %s not recorded on order %s: %s", refund.pk, order.number, exc.detail)
        order_flag(
            order_id=order.pk,
            reason=f"{refund.provider} refund {reference} could not be recorded on the order: {exc.detail}"[:500],
            actor=actor,
        )


def refund_create(*, payment_id: int, amount: Decimal, reason: str, actor: User | None = None) -> Refund:
    """Refund ``amount`` of a captured payment, with ``reason`` (see the module for the whole path).

    Returns the refund, ``succeeded`` or (when the provider settles later) ``pending``. Refusals: 400 for a bad
    amount or reason, 400 ``provider_unavailable`` when the payment's provider is no longer configured (nothing
    written), 404 for an unknown payment, 409 ``refund_exceeds_captured`` above what is left (``refundable`` in
    the body); after the refund row is written: 400 ``provider_refused`` (recorded ``failed``) or 503
    ``provider_unavailable`` (still ``pending``, sent again by :func:`refunds_retry_pending`), both with
    ``refund_id`` in the body.
    """
    value = _clean_amount(amount)
    reason = _clean_reason(reason)
    actor = _actor(actor)
    with transaction.atomic():
        payment = _payment_lock(payment_id)
        if quantize(value, payment.currency) != value:
            raise InvalidInput(
                f"{payment.currency} amounts have no more decimal places than the currency has.",
                fields={"amount": [f"Not a whole amount of {payment.currency}."]},
            )
        gateway = gateway_for(payment.provider)
        left = refundable_amount(payment=payment)
        if value > left:
            raise _exceeds(payment, left)
        refund = _request_locked(payment=payment, amount=value, reason=reason, actor=actor)
    refund, error = _send(gateway=gateway, refund_id=refund.pk)
    if error is not None:
        raise error
    return refund


def order_refund_in_full(*, order_id: int, reason: str, actor: User | None = None) -> list[Refund]:
    """Refund every captured payment of the order in full: per payment, whatever is neither refunded nor pending
    yet (so a second run refunds nothing more). Returns the refunds written by this call, whatever became of them.

    404 for an unknown order. A provider that refuses flags the order for staff; one that is down leaves its refund
    pending for :func:`refunds_retry_pending`; neither stops the refunds of the other payments.
    """
    reason = _clean_reason(reason)
    actor = _actor(actor)
    if not _valid_id(order_id) or not Order.objects.filter(pk=order_id).exists():
        raise NotFoundError("No such order.")
    payment_ids = list(
        Payment.objects.filter(order_id=order_id, captured_amount__gt=0).order_by("pk").values_list("pk", flat=True)
    )
    refunds: list[Refund] = []
    for payment_id in payment_ids:
        unavailable = ""
        with transaction.atomic():
            payment = _payment_lock(payment_id)
            left = refundable_amount(payment=payment)
            if left <= 0:
                continue
            try:
                gateway = gateway_for(payment.provider)
            except InvalidInput as exc:
                unavailable = f"Refund {left} {payment.currency} of payment {payment.pk} by hand: {exc.detail}"
            else:
                refund = _request_locked(payment=payment, amount=left, reason=reason, actor=actor)
        if unavailable:  # flagged after the payment's lock is released (the order is always locked first)
            order_flag(order_id=order_id, reason=unavailable, actor=actor)
            continue
        refund, error = _send(gateway=gateway, refund_id=refund.pk)
        refunds.append(refund)
        if isinstance(error, ProviderRefused):
            order_flag(
                order_id=order_id,
                reason=f"The refund of {refund.amount} {refund.currency} (refund {refund.pk}) was refused: "
                f"{refund.last_error}",
                actor=actor,
            )
    return refunds


def refunds_retry_pending(*, older_than: timedelta = RETRY_AFTER, limit: int = 100) -> int:
    """Send again every refund still ``pending`` without a provider id, requested more than ``older_than`` ago
    (the provider was down or the answer was lost), with its own idempotency key; returns how many were sent.

    A pending refund that has a provider id was accepted and is settled by the provider's refund event (or the
    payments reconciliation), so it is left alone. Safe to overlap with itself: the provider deduplicates by the
    idempotency key and :func:`refund_settle` records an outcome once.
    """
    cutoff = timezone.now() - older_than
    rows = list(
        Refund.objects.filter(status=RefundStatus.PENDING, provider_refund_id="", created_at__lt=cutoff)
        .order_by("pk")
        .values_list("pk", "provider")[:limit]
    )
    sent = 0
    for refund_id, provider in rows:
        try:
            gateway = gateway_for(provider)
        except InvalidInput:
            logger.warning("refund %s: provider %s is not configured; left pending", refund_id, provider)
            continue
        refund, error = _send(gateway=gateway, refund_id=refund_id)
        sent += 1
        if error is not None:
            logger.warning("refund %s retried: %s", refund.pk, error.detail)
    return sent


def cancelled_orders_refund_due(*, older_than: timedelta = RETRY_AFTER, limit: int = 100) -> int:
    """Refund in full the paid orders cancelled more than ``older_than`` ago whose payments have no refund at all:
    the task the ``order_cancelled`` receiver queued was lost (broker down at commit, a worker gone). Returns how
    many orders it refunded. Orders with any refund (pending, succeeded, even failed and flagged for staff) are
    left alone, so a refused refund is not asked again and again.
    """
    cutoff = timezone.now() - older_than
    order_ids = list(
        Order.objects.filter(
            status=OrderStatus.CANCELLED,
            payment_status=OrderPaymentStatus.PAID,
            cancelled_at__lt=cutoff,
            payments__captured_amount__gt=0,
        )
        .exclude(payments__refunds__isnull=False)
        .order_by("pk")
        .values_list("pk", flat=True)
        .distinct()[:limit]
    )
    for order_id in order_ids:
        logger.warning("order %s was cancelled after payment and never refunded: refunding it now", order_id)
        order_refund_in_full(order_id=order_id, reason=CANCELLED_ORDER_REASON)
    return len(order_ids)
