"""Starting a payment: :func:`payment_start` (and :func:`payment_open`, which also says whether it was reused).

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
from commerce.core.errors import Conflict
from commerce.orders.models import Order, OrderStatus
from commerce.orders.selectors import order_id_for
from commerce.orders.services.transitions import order_lock

from ..gateways.base import ProviderRefused, ProviderUnavailable, StartedPayment
from ..gateways.registry import gateway_for
from ..models import OPEN_PAYMENT_STATUSES, PAYMENT_TRANSITIONS, Payment, PaymentStatus

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
