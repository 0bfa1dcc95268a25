"""A real Celery worker process on the Redis broker is SIGKILLed while it processes a webhook: the message
(``acks_late``) is delivered again to the next worker and the event is applied once (full stack only).

The worker runs in a child process started from this test (a thread could not be killed). Its launcher makes the
first processing attempt stop in the middle, after the inbox row and the order are locked and before anything is
committed, and write a marker file; the test then kills it with SIGKILL. PostgreSQL rolls back the dead
X
unacknowledged message and processes it (the Redis transport restores a message unacknowledged for longer than
the visibility timeout; the restore sweep runs every second here instead of every ~100 s).
"""

import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from commerce.orders.models import OrderEvent, OrderEventType, OrderStatus
from config.celery import app
from payments.models import PaymentStatus, WebhookEvent, WebhookStatus
from payments.services.webhooks import webhook_receive
from tests.payments.test_webhooks import demo_delivery

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]

# The worker: the first apply (no marker yet) takes the locks, writes the marker and hangs until killed.
LAUNCHER = """
import os, pathlib, sys, time
import django
django.setup()
from config.celery import app
from payments.services import apply

marker = pathlib.Path(sys.argv[1])
real_apply = apply.payment_events_apply

def apply_or_hang(**kwargs):
    if not marker.exists():
        from commerce.orders.services.transitions import order_lock
        from payments.models import Payment
        payment = Payment.objects.get(provider_order_id=kwargs["events"][0].provider_order_id)
        order_lock(order_id=payment.order_id)
        marker.write_text(str(os.getpid()))
        time.sleep(300)
    return real_apply(**kwargs)

apply.payment_events_apply = apply_or_hang
app.conf.broker_transport_options = {
    "visibility_timeout": 2, "unacked_restore_interval": 1, "unacked_restore_throttle": 1
}
app.worker_main(["worker", "--pool=solo", "-Q", "webhooks", "--without-gossip", "--without-mingle",
                 "--without-heartbeat", "--loglevel=WARNING", "-n", f"killme{os.getpid()}@%h"])
"""


def start_worker(marker: Path, log: Path) -> subprocess.Popen:
    database = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{database['USER']}:{database['PASSWORD']}@{database['HOST'] or '127.0.0.1'}"
        f":{database['PORT'] or 5432}/{database['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_RESULT_BACKEND": settings.CELERY_RESULT_BACKEND,
    }
    return subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, str(marker)],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def wait_for(condition, *, seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; worker log:\n{log.read_text()[-3000:]}")


def purge_webhooks_queue() -> None:
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("webhooks")


def test_a_worker_killed_mid_processing_leaves_the_event_to_be_redelivered_and_applied_once(
    pending_order, make_payment, tmp_path
):
    assert app.conf.task_always_eager is False
    purge_webhooks_queue()
    payment = make_payment(pending_order)
    body, headers = demo_delivery(payment)
    marker, log = tmp_path / "hung", tmp_path / "worker.log"

    first = start_worker(marker, log)
    second = None
    try:
        # Autocommit: the task is published to Redis as soon as the row is committed.
        row, created = webhook_receive(provider="demo", body=body, headers=headers)
        assert created
        wait_for(marker.exists, seconds=60, what="the first worker to start processing", log=log)
        assert int(marker.read_text()) == first.pid
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=10) == -signal.SIGKILL

        row.refresh_from_db()
        assert (row.status, row.attempts) == (WebhookStatus.RECEIVED, 0)  # the attempt was rolled back

        second = start_worker(marker, log)

        def processed() -> bool:
            row.refresh_from_db()
            return row.status != WebhookStatus.RECEIVED

        wait_for(processed, seconds=90, what="the redelivered message to be processed", log=log)
    finally:
        for worker in (first, second):
            if worker is not None and worker.poll() is None:
                worker.terminate()
                try:
                    worker.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait(timeout=10)
        purge_webhooks_queue()

    payment.refresh_from_db()
    pending_order.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == (WebhookStatus.PROCESSED, 1, "")
    assert (payment.status, payment.captured_amount) == (PaymentStatus.CAPTURED, Decimal("998.00"))
    assert pending_order.status == OrderStatus.PAID
    assert OrderEvent.objects.filter(order=pending_order, type=OrderEventType.PAID).count() == 1
    assert WebhookEvent.objects.count() == 1
