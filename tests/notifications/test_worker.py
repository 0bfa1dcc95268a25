"""A real Celery worker on the Redis broker consumes the notification task (full stack only)."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.db import connections

from commerce.notifications import services, sms
from commerce.notifications.errors import TransientSendError
from commerce.notifications.models import Notification
from commerce.notifications.services import notification_send_sms
from config.celery import app


def _close_worker_connections(**kwargs):
    # The worker runs in a thread with its own database connection; close it so the test database can be dropped.
    connections.close_all()


@pytest.mark.celery_worker
def test_a_real_worker_retries_a_transient_error_then_sends_once(transactional_db, monkeypatch):
    monkeypatch.setattr(services, "RETRY_BASE_SECONDS", 0.2)  # keep the broker-scheduled retry short
    previous_eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    task_postrun.connect(_close_worker_connections, weak=False)
    sms.failures.append(TransientSendError("Twilio 503 (code 20503): Service unavailable"))
    try:
        with start_worker(app, pool="solo", queues=["notifications"], perform_ping_check=False, shutdown_timeout=10):
            # Autocommit: the task is published to Redis as soon as the row is committed.
            notification = notification_send_sms(
                to="+919812345678", template="otp_login", context={"code": "482913", "minutes": 5}
            )
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                notification.refresh_from_db()
                if notification.status in (Notification.Status.SENT, Notification.Status.FAILED):
                    break
                time.sleep(0.1)
    finally:
        task_postrun.disconnect(_close_worker_connections)
        app.conf.task_always_eager = previous_eager

    assert notification.status == Notification.Status.SENT
    assert notification.attempts == 2
    assert notification.last_error == "TransientSendError: Twilio 503 (code 20503): Service unavailable"
    assert [(m.to, m.body) for m in sms.outbox] == [
        ("+919812345678", "482913 is your login code. It expires in 5 minutes. Never share it with anyone.")
    ]
    assert notification.provider_message_id == sms.outbox[0].message_id


def test_notification_tasks_are_routed_to_the_notifications_queue():
    router = app.amqp.router
    for name in ("commerce.notifications.tasks.send_notification", "commerce.notifications.tasks.requeue_stale"):
        assert name in app.tasks
        assert router.route({}, name)["queue"].name == "notifications"
