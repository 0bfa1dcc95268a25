"""Health checks for the liveness/readiness endpoints.

Each check answers ``"healthy"`` or ``"unhealthy"`` and never raises; failures are logged (with the request id)
but their details stay out of the public response. Redis is reached with the short timeouts and the circuit
breaker of :mod:`commerce.core.redis_guard` (the queue check shares the breaker of its server), so a hanging
Redis makes these answer 503 quickly instead of hanging the probe; the cache check uses the ``strict`` alias (the
default one hides errors by design).

Higher apps add figures to ``GET health/redis`` (for example the notification dead-letter count) with
:func:`register_queue_stat` from their ``AppConfig.ready``.
"""

import logging
import uuid
from collections.abc import Callable
from typing import Any

import redis
from django.conf import settings
from django.db import connections

from commerce.core.redis_guard import breaker_for, is_redis_unavailable, redis_address, strict_cache

logger = logging.getLogger(__name__)

HEALTHY = "healthy"
UNHEALTHY = "unhealthy"
NOT_CONFIGURED = "not configured"

# Kombu's Redis transport keeps a queue's messages of priority p > 0 under "<queue>\x06\x16<p>".
_PRIORITY_SEPARATOR = "\x06\x16"
_PRIORITY_STEPS = (0, 3, 6, 9)

_queue_stats: dict[str, Callable[[], int]] = {}


def register_queue_stat(name: str, func: Callable[[], int]) -> None:
    """Add a figure to ``GET health/redis`` (a count computed by ``func``)."""
    _queue_stats[name] = func


def check_database() -> str:
    try:
        for alias in connections:
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
    except Exception:
        logger.exception("Health check: database unreachable")
        return UNHEALTHY
    return HEALTHY


def check_cache() -> str:
    key = f"health:{uuid.uuid4().hex}"
    cache = strict_cache()
    try:
        cache.set(key, "1", timeout=5)
        ok = cache.get(key) == "1"
        cache.delete(key)
    except Exception:
        logger.exception("Health check: cache unreachable")
        return UNHEALTHY
    return HEALTHY if ok else UNHEALTHY


def overall(parts: dict[str, str]) -> str:
    return HEALTHY if all(value in (HEALTHY, NOT_CONFIGURED) for value in parts.values()) else UNHEALTHY


def service_health() -> dict[str, str]:
    parts = {"database": check_database(), "cache": check_cache()}
    return {"status": overall(parts), **parts, "version": settings.RELEASE}


def _broker_url() -> str:
    url = str(settings.CELERY_BROKER_URL)
    return url if url.startswith(("redis://", "rediss://", "unix://")) else str(settings.REDIS_URL)


def queue_health() -> dict[str, Any]:
    """Redis reachability and, per Celery queue, the number of messages waiting."""
    if not settings.REDIS_URL:
        return {"status": HEALTHY, "redis": NOT_CONFIGURED}
    url = _broker_url()
    breaker = breaker_for(redis_address(url))
    if not breaker.allow():  # failed moments ago: answer at once
        return {"status": UNHEALTHY, "redis": UNHEALTHY}
    timeout = settings.REDIS_SOCKET_TIMEOUT
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
        queues = {}
        for name in settings.TASK_QUEUE_NAMES:
            keys = [name] + [f"{name}{_PRIORITY_SEPARATOR}{step}" for step in _PRIORITY_STEPS[1:]]
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.llen(key)
            queues[name] = sum(pipe.execute())
    except redis.RedisError as exc:
        if is_redis_unavailable(exc):
            breaker.failure(exc)
        logger.exception("Health check: Redis unreachable")
        return {"status": UNHEALTHY, "redis": UNHEALTHY}
    breaker.success()
    body: dict[str, Any] = {"status": HEALTHY, "redis": HEALTHY, "queues": queues}
    for name, func in _queue_stats.items():
        body[name] = func()
    return body
