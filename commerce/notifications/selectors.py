"""Reads for notifications."""

from .models import Notification


def notification_dead_letter_count() -> int:
    """Notifications given up on (status ``failed``), shown as ``dead_letter`` by ``GET health/redis``."""
    return Notification.objects.filter(status=Notification.Status.FAILED).count()
