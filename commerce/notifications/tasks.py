"""Celery tasks of the notifications app, routed to the ``notifications`` queue by ``CELERY_TASK_ROUTES``."""

from celery import Task, shared_task

from . import services


@shared_task(bind=True, name="commerce.notifications.tasks.send_notification", max_retries=None)
def send_notification(self: Task, notification_id: int) -> str:
    """Deliver one notification; idempotent. Retries are counted on the row (services.MAX_ATTEMPTS), so
    Celery's own retry limit is off."""
    delivery = services.notification_deliver(notification_id=notification_id)
    while delivery.retry_in is not None and self.request.is_eager:
        # Eager mode (the embedded default) has no broker to hold a delayed retry, and Celery's eager retry
        # does not survive task_eager_propagates: try again at once. The row's attempt limit ends the loop.
        delivery = services.notification_deliver(notification_id=notification_id)
    if delivery.retry_in is not None:
        raise self.retry(countdown=delivery.retry_in)
    return delivery.outcome


@shared_task(name="commerce.notifications.tasks.requeue_stale")
def requeue_stale() -> dict[str, int]:
    """Periodic recovery of lost tasks and abandoned send attempts (see services.notification_requeue_stale)."""
    sweep = services.notification_requeue_stale()
    return {"requeued": sweep.requeued, "dead_lettered": sweep.dead_lettered}
