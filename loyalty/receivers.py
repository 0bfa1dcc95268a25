"""Receivers of the orders' (:mod:`commerce.orders.events`) and accounts' (:mod:`accounts.events`) domain events;
connected in :meth:`loyalty.apps.LoyaltyConfig.ready`.

They only enqueue a task of :mod:`loyalty.tasks.earning` after the current transaction commits (the events are
already sent after their own commit; ``on_commit`` keeps that true for a receiver called inside someone else's
transaction). ``robust``: a broker that is down must not break the caller; the periodic ``confirm_due_points``
creates the pending points of recently paid orders whose task was lost.

==================  ===============================================================================================
event               tasks
==================  ===============================================================================================
order_paid          ``earn_order_points`` (pending points, first-order points), ``spend_order_hold``
order_refunded      ``apply_order_refund_points`` (take back in proportion), ``refund_order_hold``
order_cancelled     paid: ``apply_order_refund_points`` (everything; the refund event follows and changes nothing
                    more); unpaid: ``release_order_hold``
order_expired       ``release_order_hold``
order_delivered     nothing: ``confirm_due_points`` finds delivered orders past their return window itself
user_registered     ``register_referral`` when a ``referral_code`` was given
phone_verified      ``award_event_points(phone_verified)``
profile_completed   ``award_event_points(profile_completed)``
==================  ===============================================================================================
"""

from typing import Any

from django.db import transaction

DISPATCH_UID_PREFIX = "loyalty.receivers"
MAX_REFERRAL_CODE = 12


def on_order_paid(sender: Any, *, order_id: int, **kwargs: Any) -> None:
    from .tasks.earning import earn_order_points, spend_order_hold

    transaction.on_commit(lambda: earn_order_points.delay(order_id), robust=True)
    transaction.on_commit(lambda: spend_order_hold.delay(order_id), robust=True)


def on_order_refunded(sender: Any, *, order_id: int, **kwargs: Any) -> None:
    from .tasks.earning import apply_order_refund_points, refund_order_hold

    transaction.on_commit(lambda: apply_order_refund_points.delay(order_id), robust=True)
    transaction.on_commit(lambda: refund_order_hold.delay(order_id), robust=True)


def on_order_cancelled(sender: Any, *, order_id: int, was_paid: bool = False, **kwargs: Any) -> None:
    from .tasks.earning import apply_order_refund_points, refund_order_hold, release_order_hold

    if was_paid:
        transaction.on_commit(lambda: apply_order_refund_points.delay(order_id), robust=True)
        # Spent points come back with the refund's event; an order paid entirely in points has no refund, so the
        # cancellation itself returns them (idempotent: the refund event later returns only what is left).
        transaction.on_commit(lambda: refund_order_hold.delay(order_id), robust=True)
    else:
        transaction.on_commit(lambda: release_order_hold.delay(order_id), robust=True)


def on_order_expired(sender: Any, *, order_id: int, **kwargs: Any) -> None:
    from .tasks.earning import release_order_hold

    transaction.on_commit(lambda: release_order_hold.delay(order_id), robust=True)


def on_user_registered(
    sender: Any,
    *,
    user_id: int,
    referral_code: str = "",
    ip: str | None = None,
    device_id: str | None = None,
    **kwargs: Any,
) -> None:
    code = (referral_code or "").strip()
    if not code or len(code) > MAX_REFERRAL_CODE:
        return
    from .tasks.earning import register_referral

    transaction.on_commit(lambda: register_referral.delay(user_id, code, ip, device_id), robust=True)


def on_phone_verified(sender: Any, *, user_id: int, **kwargs: Any) -> None:
    from .tasks.earning import award_event_points

    transaction.on_commit(lambda: award_event_points.delay(user_id, "phone_verified"), robust=True)


def on_profile_completed(sender: Any, *, user_id: int, **kwargs: Any) -> None:
    from .tasks.earning import award_event_points

    transaction.on_commit(lambda: award_event_points.delay(user_id, "profile_completed"), robust=True)


def connect() -> None:
    from accounts import events as account_events
    from commerce.orders import events as order_events

    for signal, receiver in (
        (order_events.order_paid, on_order_paid),
        (order_events.order_refunded, on_order_refunded),
        (order_events.order_cancelled, on_order_cancelled),
        (order_events.order_expired, on_order_expired),
        (account_events.user_registered, on_user_registered),
        (account_events.phone_verified, on_phone_verified),
        (account_events.profile_completed, on_profile_completed),
    ):
        signal.connect(receiver, dispatch_uid=f"{DISPATCH_UID_PREFIX}.{receiver.__name__}")
