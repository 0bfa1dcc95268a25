"""Loyalty tasks: the ledger's nightly expiry of points past their date (oldest first) and the morning reminders
of points about to expire (beat entries ``loyalty-expire-points`` and ``loyalty-expiry-reminders``). Both are
idempotent: run twice, the second does nothing new."""

from celery import shared_task

from ..services.ledger import points_expire_due, points_expiry_reminders_send


@shared_task(name="loyalty.tasks.ledger.expire_points")
def expire_points() -> int:
    return points_expire_due()


@shared_task(name="loyalty.tasks.ledger.send_expiry_reminders")
def send_expiry_reminders() -> int:
    return points_expiry_reminders_send()
