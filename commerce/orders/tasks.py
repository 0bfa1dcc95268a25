"""Periodic and on-demand order jobs: thin, idempotent tasks that call a service (scheduled in
``CELERY_BEAT_SCHEDULE``)."""

from celery import shared_task

from .services.expiry import orders_expire_due


@shared_task(name="commerce.orders.tasks.expire_unpaid_orders", ignore_result=True)
def expire_unpaid_orders() -> int:
    """Expire unpaid orders past ``ORDER_PAYMENT_TIMEOUT_MINUTES`` (beat: every minute); returns how many.

    Safe to run twice or overlapping: each order is locked and re-checked before it expires (see
    :mod:`commerce.orders.services.expiry`)."""
    return orders_expire_due()
