import pytest
import redis as redis_lib
from django.db import OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper

pytestmark = pytest.mark.django_db

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


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
