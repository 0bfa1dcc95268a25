"""Loyalty tasks: earning. Thin and idempotent (each calls one service that re-checks on locked rows), so a task
delivered twice or run late changes nothing the first run did not.

* Queued by :mod:`loyalty.receivers`: ``earn_order_points`` (order paid), ``apply_order_refund_points`` (refunded,
  or cancelled after payment), ``award_event_points`` (phone verified, profile completed), ``register_referral``
  (signed up with a code), and the checkout holds of the redemption area: ``spend_order_hold`` (paid),
  ``release_order_hold`` (expired or cancelled unpaid), ``refund_order_hold`` (refunded).
* ``confirm_due_points`` (beat, periodic): creates the pending entries lost tasks missed (orders paid in the last 3
  days), confirms the points of orders past their return window, then rewards the referrals that became due.
"""

from typing import Any

from celery import shared_task

from ..services import earning


@shared_task(name="loyalty.tasks.earning.earn_order_points", ignore_result=True)
def earn_order_points(order_id: int) -> int | None:
    """The paid order's pending points (and the first-order points); returns the entry's id."""
    entry = earning.points_earn_for_order(order_id=order_id)
    return entry.pk if entry is not None else None


@shared_task(name="loyalty.tasks.earning.apply_order_refund_points", ignore_result=True)
def apply_order_refund_points(order_id: int) -> int | None:
    """Take back what the refunded part of the order earned."""
    entry = earning.points_order_refunded(order_id=order_id)
    return entry.pk if entry is not None else None


@shared_task(name="loyalty.tasks.earning.award_event_points", ignore_result=True)
def award_event_points(user_id: int, event: str) -> int | None:
    """The one-off points of ``event`` (``phone_verified``, ``profile_completed``, ``first_order``)."""
    entry = earning.points_award_event(user_id=user_id, event=event)
    return entry.pk if entry is not None else None


@shared_task(name="loyalty.tasks.earning.register_referral", ignore_result=True)
def register_referral(user_id: int, code: str, ip: str | None = None, device_id: str | None = None) -> int | None:
    """Record that ``user_id`` signed up with a referral ``code`` (the referrals service judges it)."""
    from ..services.referrals import referral_register

    referral = referral_register(referee_id=user_id, code=code, ip=ip, device_id=device_id)
    return referral.pk if referral is not None else None


@shared_task(name="loyalty.tasks.earning.spend_order_hold", ignore_result=True)
def spend_order_hold(order_id: int) -> None:
    """The order was paid: the points held at its checkout are spent."""
    from ..services.redemption import points_hold_spend

    points_hold_spend(order_id=order_id)


@shared_task(name="loyalty.tasks.earning.release_order_hold", ignore_result=True)
def release_order_hold(order_id: int) -> None:
    """The order expired or was cancelled unpaid: the points held at its checkout go back."""
    from ..services.redemption import points_hold_release

    points_hold_release(order_id=order_id)


@shared_task(name="loyalty.tasks.earning.refund_order_hold", ignore_result=True)
def refund_order_hold(order_id: int) -> None:
    """The paid order was refunded: the points spent on it come back in proportion."""
    from ..services.redemption import points_hold_refunded

    points_hold_refunded(order_id=order_id)


@shared_task(name="loyalty.tasks.earning.confirm_due_points")
def confirm_due_points() -> dict[str, Any]:
    """Periodic: repair pending entries lost tasks missed, confirm points past the return window, reward the
    referrals that became due."""
    from ..services.referrals import referrals_reward_due

    repaired = earning.points_backfill()
    confirmed = earning.points_confirm_due()
    referrals = referrals_reward_due()
    return {"repaired": repaired, "confirmed": confirmed, "referrals": referrals}
