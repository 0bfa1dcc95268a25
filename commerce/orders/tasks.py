"""Periodic and on-demand order jobs: thin, idempotent tasks that call a service (scheduled in
``CELERY_BEAT_SCHEDULE``)."""

from celery import shared_task

from .services.expiry import orders_expire_due
from .services.idempotency import idempotency_records_purge
from .services.recommendations import co_purchases_recount


@shared_task(name="commerce.orders.tasks.expire_unpaid_orders", ignore_result=True)
def expire_unpaid_orders() -> int:
    """Expire unpaid orders past ``ORDER_PAYMENT_TIMEOUT_MINUTES`` (beat: every minute); returns how many.

    Safe to run twice or overlapping: each order is locked and re-checked before it expires (see
    :mod:`commerce.orders.services.expiry`)."""
    return orders_expire_due()


@shared_task(name="commerce.orders.tasks.recount_co_purchases", ignore_result=True)
def recount_co_purchases() -> dict[str, int]:
    """Recompute the co-purchase counts of "frequently bought together" from paid orders (beat: hourly).

    Idempotent (a second run over the same orders writes nothing) and safe to overlap: on PostgreSQL a run that
    finds another one in progress returns at once as skipped (see :mod:`commerce.orders.services.recommendations`).
    """
    result = co_purchases_recount()
    return {
        "pairs": result.pairs,
        "created": result.created,
        "updated": result.updated,
        "deleted": result.deleted,
        "skipped": int(result.skipped),
    }


@shared_task(name="commerce.orders.tasks.purge_idempotency_records", ignore_result=True)
def purge_idempotency_records() -> int:
    """Delete checkout ``Idempotency-Key`` records older than ``IDEMPOTENCY_KEY_TTL_HOURS`` (beat: hourly); returns
    how many. Idempotent: a second run finds nothing older left."""
    return idempotency_records_purge()
