"""Starting a payment: :func:`payment_start` (and :func:`payment_open`, which also says whether it was reused);
the client-side confirmations: :func:`payment_razorpay_verify` and the demo gateway's
:func:`payment_demo_complete`.

The order is locked, checked and the payment row written in one short transaction; the provider is called after
that commits (never under a row lock); then the row is locked again, re-checked and the provider's answer stored.

* **One open payment per order and provider.** A second start for the same order and provider returns the open
  payment (``created`` or ``authorized``) instead of a new one; once the provider has answered it is returned
  without calling the provider again (its ``client_data`` is what the client needs). Concurrent starts serialise
  on the order's row lock; the partial unique index ``payments_payment_one_open_per_provider`` is the last guard.
* **Idempotency.** The payment's ``idempotency_key`` (uuid4) is sent with the provider's create call, so a start
  retried after a timeout or a 503 reuses the key and cannot open a second payment at the provider.
* **Failures.** The provider unreachable (``ProviderUnavailable``, 503): the payment stays ``created`` with
  ``last_error`` and the next start retries with the same key. The provider refusing (``ProviderRefused``, 400):
  the payment becomes ``failed`` (the next start opens a new one with a new key).
* **Refusals, in order:** unknown or unconfigured provider 400 ``provider_unavailable``; an unknown number or
  another user's order 404; an order that is not ``pending_payment`` 409 ``invalid_transition``.
* **Saved methods.** With ``save_method`` the shopper's customer at the provider
  (:func:`payments.services.methods.provider_customer_for`) is passed to the gateway, which asks the provider to
  keep the method (Stripe ``setup_future_usage``, Razorpay's saved card token).

Lock order everywhere in payments: the order row first, then payment rows (primary-key order).
"""

import logging
import uuid

from django.db import IntegrityError, transaction

from accounts.models import User
from commerce.core.errors import Conflict, InvalidInput, NotFoundError
from commerce.orders.models import Order, OrderStatus
from commerce.orders.selectors import order_id_for
from commerce.orders.services.transitions import order_lock

from ..gateways.base import ProviderRefused, ProviderUnavailable, StartedPayment
from ..gateways.demo import SIGNATURE_HEADER, demo_event_body, demo_sign
from ..gateways.registry import gateway_for
from ..models import OPEN_PAYMENT_STATUSES, PAYMENT_TRANSITIONS, Payment, PaymentStatus, Provider
from .apply import payment_events_apply

logger = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 500  # Payment.last_error


def _not_payable(order: Order) -> Conflict:
    return Conflict(
        f"Order {order.number} cannot be paid: it is {order.status}.",
        code="invalid_transition",
        extra={"from_status": order.status, "to_status": OrderStatus.PAID},
    )


def _open_payment(*, order: Order, provider: str) -> Payment | None:
    return (
        Payment.objects.select_for_update()
        .filter(order=order, provider=provider, status__in=OPEN_PAYMENT_STATUSES)
        .order_by("pk")
        .first()
    )


def _open_or_create(*, order_id: int, provider: str, user: User) -> tuple[Payment, bool]:
    """Lock the order, re-check it is payable, and return its open payment with ``provider`` or a new one."""
    with transaction.atomic():
        order = order_lock(order_id=order_id)
        if order.status != OrderStatus.PENDING_PAYMENT:
            raise _not_payable(order)
        payment = _open_payment(order=order, provider=provider)
        if payment is not None:
            return payment, False
        try:
            with transaction.atomic():
                payment = Payment.objects.create(
                    order=order,
                    user=user,
                    provider=provider,
                    amount=order.total,
                    currency=order.currency,
                    idempotency_key=str(uuid.uuid4()),
                )
        except IntegrityError:  # the partial unique index: another start won (only without the order lock)
            payment = _open_payment(order=order, provider=provider)
            if payment is None:
                raise
            return payment, False
        return payment, True


def _customer_for(*, user: User, provider: str) -> str:
    from . import methods  # the saved-methods service; imported here, it builds on this one

    return methods.provider_customer_for(user=user, provider=provider)


def _record_failure(payment: Payment, error: Exception, *, refused: bool) -> None:
    """Note why the provider call failed; a refusal also ends the payment (``failed``). Own transaction."""
    message = str(error)[:MAX_ERROR_LENGTH]
    with transaction.atomic():
        locked = Payment.objects.select_for_update().filter(pk=payment.pk).first()
        if locked is None or locked.status not in OPEN_PAYMENT_STATUSES or locked.provider_order_id:
            return
        locked.last_error = message
        fields = ["last_error", "updated_at"]
        if refused and PaymentStatus.FAILED in PAYMENT_TRANSITIONS[locked.status]:
            locked.status = PaymentStatus.FAILED
            fields.append("status")
        locked.save(update_fields=fields)


def _store_started(*, payment: Payment, started: StartedPayment) -> Payment:
    """Re-lock the order and the payment, re-check, and keep the provider's id and the client's data."""
    with transaction.atomic():
        order_lock(order_id=payment.order_id)
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if locked.provider_order_id and locked.provider_order_id != started.provider_order_id:
            # A concurrent start stored its answer first; with one idempotency key it is the same provider
            # object, so a different id means the provider broke idempotency: keep the first, log the second.
            logger.error(
                "payment %s: provider %s returned %s after %s for one idempotency key",
                locked.pk,
                locked.provider,
                started.provider_order_id,
                locked.provider_order_id,
            )
            return locked
        locked.provider_order_id = started.provider_order_id
        locked.client_data = started.client
        locked.last_error = ""
        locked.save(update_fields=["provider_order_id", "client_data", "last_error", "updated_at"])
        return locked


def payment_open(*, user: User, order_number: str, provider: str, save_method: bool = False) -> tuple[Payment, bool]:
    """Start (or reuse) the payment of ``user``'s order ``order_number`` with ``provider``: ``(payment, created)``.

    See the module docstring for the rules and refusals. ``created`` is false when an open payment was reused.
    """
    gateway = gateway_for(provider)
    order_id = order_id_for(user=user, number=order_number)
    payment, created = _open_or_create(order_id=order_id, provider=provider, user=user)
    if payment.provider_order_id:
        return payment, created
    customer_id = _customer_for(user=user, provider=provider) if save_method else ""
    try:
        started = gateway.start(payment=payment, customer_id=customer_id, save_method=bool(save_method))
    except ProviderUnavailable as exc:
        _record_failure(payment, exc, refused=False)
        raise
    except ProviderRefused as exc:
        _record_failure(payment, exc, refused=True)
        raise
    return _store_started(payment=payment, started=started), created


def payment_start(*, user: User, order_number: str, provider: str, save_method: bool = False) -> Payment:
    """Start a payment of ``user``'s order with ``provider``, reusing the open one (see :func:`payment_open`)."""
    return payment_open(user=user, order_number=order_number, provider=provider, save_method=save_method)[0]


def payment_razorpay_verify(
    *, user: User, razorpay_order_id: str, razorpay_payment_id: str, razorpay_signature: str
) -> Payment:
    """What Razorpay Checkout hands the client after paying: verify the payment signature over
    ``order_id|payment_id`` and apply it (authorised or captured, pending the webhook that confirms it).

    404 when ``razorpay_order_id`` is not one of ``user``'s Razorpay payments (before the signature is looked at,
    so nothing about another shopper's payment is revealed); 400 ``signature_invalid`` for a forged signature;
    400 ``provider_unavailable`` when Razorpay is not configured.
    """
    gateway = gateway_for(Provider.RAZORPAY)
    payment_id = (
        Payment.objects.filter(provider=Provider.RAZORPAY, provider_order_id=razorpay_order_id, user=user)
        .values_list("pk", flat=True)
        .first()
        if razorpay_order_id
        else None
    )
    if payment_id is None:
        raise NotFoundError("No such payment.")
    events = gateway.verify_confirmation(
        data={
            "razorpay_order_id": razorpay_order_id,
            "razorpay_payment_id": razorpay_payment_id,
            "razorpay_signature": razorpay_signature,
        }
    )
    payment_events_apply(provider=Provider.RAZORPAY, events=events)
    return Payment.objects.get(pk=payment_id)


DEMO_OUTCOMES = {"succeeded": "payment.succeeded", "failed": "payment.failed"}


def payment_demo_complete(*, user: User, payment_id: int, outcome: str) -> Payment:
    """Complete ``user``'s demo payment with ``outcome`` (``succeeded`` or ``failed``) the way a provider would:
    a signed demo webhook goes through the webhook inbox (:func:`payments.services.webhooks.webhook_receive`),
    stored, then processed by the ``webhooks`` queue after commit. With Celery eager (the embedded default) the
    order is paid when this returns; with real workers shortly after (read the order or the payment again).

    404 when the demo gateway is off, or for an unknown payment, another user's or one of another provider; 409
    ``invalid_transition`` for a payment already captured or cancelled; 400 for another outcome.
    """
    if outcome not in DEMO_OUTCOMES:
        raise InvalidInput("Outcome must be succeeded or failed.", fields={"outcome": ["Choose succeeded or failed."]})
    try:
        gateway_for(Provider.DEMO)
    except InvalidInput:
        raise NotFoundError("The demo gateway is off.") from None
    payment = (
        Payment.objects.filter(pk=payment_id, user=user, provider=Provider.DEMO).first()
        if isinstance(payment_id, int) and not isinstance(payment_id, bool)
        else None
    )
    if payment is None:
        raise NotFoundError("No such payment.")
    if payment.status in (PaymentStatus.CAPTURED, PaymentStatus.CANCELLED) or not payment.provider_order_id:
        raise Conflict(
            f"Payment {payment.pk} cannot be completed: it is {payment.status}.",
            code="invalid_transition",
            extra={"from_status": payment.status, "to_status": outcome},
        )
    body = demo_event_body(
        type=DEMO_OUTCOMES[outcome],
        provider_order_id=payment.provider_order_id,
        amount=payment.amount,
        currency=payment.currency,
    )
    from . import webhooks  # the inbox; imported here, it builds on this module's services

    webhooks.webhook_receive(provider=Provider.DEMO, body=body, headers={SIGNATURE_HEADER: demo_sign(body)})
    payment.refresh_from_db()
    return payment
