import pytest
import redis as redis_lib
from django.db import OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper

from commerce.core import health, redis_guard

pytestmark = pytest.mark.django_db

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture(autouse=True)
def _fresh_redis_guard():
    redis_guard.reset_state()
    yield
    redis_guard.reset_state()


def test_health_is_healthy(api_client, settings):
    settings.RELEASE = "1.2.3"
    response = api_client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "healthy", "database": "healthy", "cache": "healthy", "version": "1.2.3"}


def test_health_is_public_and_unthrottled(api_client, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": "1/min", "user": "1/min"}}
    statuses = {api_client.get("/api/v1/health").status_code for _ in range(5)}
    assert statuses == {200}


def test_health_reports_database_down(api_client, monkeypatch):
    def refuse(self, *args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(BaseDatabaseWrapper, "cursor", refuse)
    response = api_client.get("/api/v1/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["database"] == "unhealthy"
    assert body["cache"] == "healthy"
    assert "refused" not in response.content.decode()


def test_health_reports_cache_down(api_client, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": UNREACHABLE_REDIS,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        }
    }
    response = api_client.get("/api/v1/health")
    assert response.status_code == 503
    assert response.json()["cache"] == "unhealthy"
    assert response.json()["database"] == "healthy"


def test_queue_health_without_redis_says_not_configured(api_client, settings):
    settings.REDIS_URL = ""
    response = api_client.get("/api/v1/health/redis")
    assert response.status_code == 200
    assert response.json() == {"status": "healthy", "redis": "not configured"}


def test_queue_health_with_redis_down_is_503(api_client, settings):
    settings.REDIS_URL = UNREACHABLE_REDIS
    settings.CELERY_BROKER_URL = UNREACHABLE_REDIS
    response = api_client.get("/api/v1/health/redis")
    assert response.status_code == 503
    assert response.json() == {"status": "unhealthy", "redis": "unhealthy"}


def test_queue_health_does_not_call_a_redis_that_failed_moments_ago(api_client, settings, monkeypatch):
    settings.REDIS_URL = UNREACHABLE_REDIS
    settings.CELERY_BROKER_URL = UNREACHABLE_REDIS
    settings.REDIS_SOCKET_TIMEOUT = 0.25
    clients = []
    real_from_url = redis_lib.Redis.from_url

    def counting_from_url(*args, **kwargs):
        clients.append(kwargs)
        return real_from_url(*args, **kwargs)

    monkeypatch.setattr(health.redis.Redis, "from_url", counting_from_url)
    statuses = [api_client.get("/api/v1/health/redis").status_code for _ in range(3)]
    assert statuses == [503, 503, 503]
    assert clients == [{"socket_connect_timeout": 0.25, "socket_timeout": 0.25}]
    assert redis_guard.breaker_for("127.0.0.1:1").is_open


@pytest.mark.redis
def test_queue_health_counts_waiting_messages(api_client, settings):
    url = settings.REDIS_URL.rsplit("/", 1)[0] + "/14"
    settings.CELERY_BROKER_URL = url
    client = redis_lib.Redis.from_url(url)
    client.flushdb()
    try:
        client.rpush("notifications", "m1", "m2")
        client.rpush("notifications\x06\x163", "m3")
        client.rpush("webhooks", "m4")
        response = api_client.get("/api/v1/health/redis")
    finally:
        client.flushdb()
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["redis"] == "healthy"
    assert body["queues"] == {"default": 0, "notifications": 3, "webhooks": 1}
