"""Dead letters are counted by GET /api/v1/health/redis."""

import pytest

from commerce.core import health
from commerce.notifications import sms
from commerce.notifications.errors import PermanentSendError
from commerce.notifications.services import notification_send_sms

pytestmark = pytest.mark.django_db


@pytest.fixture
def notifications_in_every_state(django_capture_on_commit_callbacks):
    """Two dead letters, one sent and one still queued."""
    for phone, fail, run in (
        ("+919800000001", True, True),
        ("+919800000002", True, True),
        ("+919800000003", False, True),
        ("+919800000004", False, False),
    ):
        if fail:
            sms.failures.append(PermanentSendError("Twilio 400 (code 21211): Invalid 'To' Phone Number"))
        with django_capture_on_commit_callbacks(execute=run):
            notification_send_sms(to=phone, template="otp_login", context={"code": "123456", "minutes": 5})


class _ReachableRedis:
    """Stands in for a Redis server with empty queues."""

    def ping(self):
        return True

    def pipeline(self, transaction=False):
        return self

    def llen(self, key):
        return None

    def execute(self):
        return [0, 0, 0, 0]


def test_dead_letter_count_is_part_of_queue_health(notifications_in_every_state, api_client, settings, monkeypatch):
    settings.REDIS_URL = "redis://redis.invalid:6379/0"
    settings.CELERY_BROKER_URL = settings.REDIS_URL
    monkeypatch.setattr(health.redis.Redis, "from_url", lambda *args, **kwargs: _ReachableRedis())

    response = api_client.get("/api/v1/health/redis")

    assert response.status_code == 200
    assert response.json() == {
        "status": "healthy",
        "redis": "healthy",
        "queues": {"default": 0, "notifications": 0, "webhooks": 0},
        "dead_letter": 2,
    }


@pytest.mark.redis
def test_health_redis_counts_dead_letters_on_a_real_redis(notifications_in_every_state, api_client):
    response = api_client.get("/api/v1/health/redis")

    assert response.status_code == 200
    body = response.json()
    assert body["redis"] == "healthy"
    assert body["dead_letter"] == 2
