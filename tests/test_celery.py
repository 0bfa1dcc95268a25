"""The Celery app's configuration, and a round trip through a real worker on the Redis broker."""

import pytest
from celery.contrib.testing.worker import start_worker

from commerce.core.tasks import worker_ping
from config.celery import app


def test_queues_and_routing():
    assert [queue.name for queue in app.conf.task_queues] == ["default", "notifications", "webhooks"]
    assert app.conf.task_default_queue == "default"
    router = app.amqp.router
    assert router.route({}, "commerce.notifications.tasks.notification_deliver")["queue"].name == "notifications"
    assert router.route({}, "payments.tasks.webhook_process")["queue"].name == "webhooks"
    assert router.route({}, "commerce.core.tasks.worker_ping")["queue"].name == "default"


def test_reliability_settings():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.accept_content == ["json"]
    assert app.conf.task_serializer == "json"
    assert app.conf.result_serializer == "json"
    assert app.conf.task_soft_time_limit < app.conf.task_time_limit
    assert app.conf.broker_transport_options["visibility_timeout"] > app.conf.task_time_limit


def test_tasks_run_eagerly_in_the_embedded_default(settings):
    if settings.REDIS_URL:
        assert app.conf.task_always_eager is False
    else:
        assert app.conf.task_always_eager is True
        assert worker_ping.delay("eager").get(timeout=1)["token"] == "eager"


@pytest.mark.celery_worker
def test_a_real_worker_consumes_a_task_and_returns_its_result():
    assert app.conf.task_always_eager is False
    with start_worker(app, pool="solo", queues=["default"], perform_ping_check=False, shutdown_timeout=10):
        result = worker_ping.delay("round-trip").get(timeout=30)
    assert result["token"] == "round-trip"
    assert result["hostname"]
