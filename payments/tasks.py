"""Celery tasks of the payments app, routed to the ``webhooks`` queue by ``CELERY_TASK_ROUTES``.

Both are safe to run twice and with ``acks_late``: the inbox row's status, its row lock and the idempotent apply
make a redelivered message change nothing that was already applied.
"""

from typing import Any

from celery import Task, shared_task

from .models import WebhookStatus
from .services import reconcile, webhooks


@shared_task(bind=True, name="payments.tasks.process_webhook", max_retries=None)
def process_webhook(self: Task, webhook_id: int) -> str:
    """Process one inbox row. Retries are counted on the row (``webhooks.MAX_ATTEMPTS``), so Celery's own retry
    limit is off; the countdown (exponential, jittered) is the one the row records in ``next_attempt_at``.

    In eager mode (the embedded default) there is no broker to hold a delayed retry: the row stays ``received``
    with its ``next_attempt_at`` and the sweep (``payments.tasks.reconcile_payments``) or ``manage.py
    replay_webhooks --status received`` picks it up."""
    status = webhooks.webhook_process(webhook_id=webhook_id)
    if status == WebhookStatus.RECEIVED and not self.request.is_eager:
        countdown = webhooks.webhook_retry_in(webhook_id=webhook_id)
        if countdown is not None:
            raise self.retry(countdown=countdown)
    return status


@shared_task(name="payments.tasks.reconcile_payments")
def reconcile_payments() -> dict[str, Any]:
    """Periodic (beat entry ``payments-reconcile``): publish lost webhook tasks again, then ask the providers about
    payments left pending too long and apply what they say."""
    requeued = webhooks.webhooks_requeue_stale()
    result = reconcile.payments_reconcile()
    return {"webhooks_requeued": requeued, **result.as_dict()}


@shared_task(name="payments.tasks.refund_cancelled_order", ignore_result=True)
def refund_cancelled_order(order_id: int) -> int:
    """Refund a cancelled paid order in full (queued by ``payments.receivers`` on ``order_cancelled`` with
    ``was_paid``); returns how many refunds it wrote. Safe to run twice: refunds already made or pending count as
    spent, so a second run writes none. An order that no longer exists is logged and skipped."""
    import logging

    from commerce.core.errors import NotFoundError

    from .services.refunds import CANCELLED_ORDER_REASON, order_refund_in_full

    try:
        return len(order_refund_in_full(order_id=order_id, reason=CANCELLED_ORDER_REASON))
    except NotFoundError:
        logging.getLogger(__name__).warning("refund of cancelled order %s: no such order", order_id)
        return 0


@shared_task(name="payments.tasks.retry_pending_refunds", ignore_result=True)
def retry_pending_refunds() -> dict[str, int]:
    """Periodic (beat entry ``payments-retry-refunds``, every 5 minutes): send refunds the provider never
    acknowledged again, with their own idempotency keys, and refund the cancelled paid orders whose refund task
    was lost (``payments.services.refunds``). Safe to overlap with itself."""
    from .services.refunds import cancelled_orders_refund_due, refunds_retry_pending

    return {"refunds_sent": refunds_retry_pending(), "cancelled_orders_refunded": cancelled_orders_refund_due()}
