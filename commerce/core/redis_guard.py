"""Redis may be down; the platform must not go down with it.

Three pieces, used through the settings (``CACHES`` in ``config/settings/base.py``) and by the throttles:

**Short timeouts and a circuit breaker.** Every django-redis connection (both cache aliases and
``django_redis.get_redis_connection``, which the offer event buffer uses) comes from a
:class:`GuardedConnectionPool`. Its connections time out after ``REDIS_SOCKET_TIMEOUT`` (connect and read,
0.3 s by default), and the first connection error or timeout opens the breaker of that server (host and port,
so all databases of one server share it) for ``REDIS_CIRCUIT_SECONDS`` (5 s): meanwhile every call fails at
once with :class:`CircuitOpenError` (a ``redis.ConnectionError``) without touching the network. When the time
is up, one call goes through as a probe; if it succeeds the breaker closes, if not it opens again. So a Redis
that hangs costs each process at most one timeout per ``REDIS_CIRCUIT_SECONDS``, instead of one per call. The
breaker lives in the process (each gunicorn worker and Celery worker finds out on its own). The timeout applies
to every call through these pools, so none may legitimately take longer (no ``KEYS``, no blocking pops); the
offer buffer flush reads ten seconds of events at a time, far below it. Celery's own broker connections do not
use these pools.

**Two cache aliases on the same Redis.** ``default`` is a :class:`DegradingRedisCache`: django-redis with
``IGNORE_EXCEPTIONS`` on, so when Redis is unreachable ``get``/``get_many`` are misses and ``set``, ``add``,
``delete``, ``incr`` return ``None`` without raising. Every cached read in the project (catalog listings,
product details, the category tree, offer lists) is written as "read the cache, else build from the database
and store", so it falls through to the database without any code of its own; the ignored errors are counted
(``commerce_cache_errors_ignored_total``) and logged at most once a minute. django-redis's own logging of
ignored errors (``DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS``) would log a traceback per call, so it is replaced.
``strict`` (:data:`STRICT_CACHE_ALIAS`, same location and key prefix) raises instead: code that must know the
cache is down uses it and decides. The throttles do (:mod:`commerce.core.api.throttling`): the general and
password sign-in throttles let requests through, the SMS/OTP throttles refuse them with 503 (they protect SMS
spend and one-time codes, which must not go unguarded). A consequence of the default alias: cache
invalidations made while Redis is unreachable are lost, so entries cached before an outage may be served after
it until they expire (at most their TTL: 30 to 60 s for lists, 10 min product details, 1 h the category tree).

**One notion of "Redis is unavailable"**: :func:`is_redis_unavailable` (connection errors, timeouts, an open
breaker, a Redis that is loading, read-only or out of memory, and django-redis's ``ConnectionInterrupted``
around any of them). The API's exception handler maps those to 503 ``service_unavailable`` as a last guard.
"""

import logging
import socket
import sys
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, cast

import redis
from django.conf import settings
from django.core.cache import BaseCache, caches
from django_prometheus.cache.backends.redis import RedisCache as PrometheusRedisCache
from django_redis.exceptions import ConnectionInterrupted
from prometheus_client import Counter
from redis import exceptions as redis_errors
from redis.connection import parse_url

from commerce.core.errors import DependencyUnavailable

logger = logging.getLogger(__name__)

STRICT_CACHE_ALIAS = "strict"
DEFAULT_CIRCUIT_SECONDS = 5.0

CIRCUIT_OPENED = Counter(
    "commerce_redis_circuit_opened",
    "Times a Redis server was found unreachable and calls to it were suspended for REDIS_CIRCUIT_SECONDS.",
    ["address"],
)
CALLS_SKIPPED = Counter(
    "commerce_redis_calls_skipped",
    "Redis calls refused at once because the server was found unreachable moments before.",
    ["address"],
)
CACHE_ERRORS_IGNORED = Counter(
    "commerce_cache_errors_ignored",
    "Operations of the default cache that failed on Redis and were treated as a miss or a no-op.",
)

# Errors that mean "Redis cannot serve us right now", as opposed to a bug in how it is called.
_UNAVAILABLE = (
    redis_errors.ConnectionError,  # includes BusyLoadingError (LOADING) and CircuitOpenError
    redis_errors.TimeoutError,
    redis_errors.ReadOnlyError,  # a replica after a failover
    redis_errors.OutOfMemoryError,
    redis_errors.MasterDownError,
    socket.timeout,
)


class CircuitOpenError(redis_errors.ConnectionError):
    """Raised instead of calling a Redis server that failed less than ``REDIS_CIRCUIT_SECONDS`` ago."""


class RedisUnavailable(DependencyUnavailable):
    """The request needs Redis and Redis is unreachable: 503 ``service_unavailable`` with ``Retry-After``."""

    def __init__(self, detail: str = "This service is briefly unavailable. Try again in a few seconds.") -> None:
        super().__init__(detail, code="service_unavailable")
        self.retry_after = max(1, round(circuit_seconds()))


def is_redis_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says Redis is unreachable or unusable (see the module docstring)."""
    if isinstance(exc, ConnectionInterrupted):
        cause = exc.__cause__
        return cause is None or is_redis_unavailable(cause)
    return isinstance(exc, _UNAVAILABLE)


def circuit_seconds() -> float:
    return float(getattr(settings, "REDIS_CIRCUIT_SECONDS", DEFAULT_CIRCUIT_SECONDS))


_rate_limited_logs: "weakref.WeakSet[RateLimitedLog]" = weakref.WeakSet()


class RateLimitedLog:
    """Log a recurring condition at most once per ``interval`` seconds per key, saying how many were skipped."""

    def __init__(
        self, log: logging.Logger, *, interval: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.log = log
        self.interval = interval
        self.clock = clock
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        _rate_limited_logs.add(self)

    def warning(self, key: str, message: str, *args: Any, exc_info: Any = None) -> bool:
        """Log ``message % args`` as a warning unless ``key`` was logged less than ``interval`` ago."""
        return self.log_at(logging.WARNING, key, message, *args, exc_info=exc_info)

    def error(self, key: str, message: str, *args: Any, exc_info: Any = None) -> bool:
        return self.log_at(logging.ERROR, key, message, *args, exc_info=exc_info)

    def log_at(self, level: int, key: str, message: str, *args: Any, exc_info: Any = None) -> bool:
        now = self.clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.interval:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return False
            self._last[key] = now
            suppressed = self._suppressed.pop(key, 0)
        if suppressed:
            message += " (%d more like this since the last report)"
            args = (*args, suppressed)
        self.log.log(level, message, *args, exc_info=exc_info)
        return True

    def reset(self) -> None:
        with self._lock:
            self._last.clear()
            self._suppressed.clear()


class CircuitBreaker:
    """Remembers that one Redis server failed, so calls skip it for ``REDIS_CIRCUIT_SECONDS``.

    Closed: calls go through. Open (after a connection error or timeout): calls are refused until the period
    ends; then the first caller is let through as a probe while the others keep being refused for another
    period. A success (any reply from the server) closes it.
    """

    def __init__(self, address: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.address = address
        self.clock = clock
        self._lock = threading.Lock()
        self._open_until = 0.0  # 0.0: closed

    @property
    def is_open(self) -> bool:
        return bool(self._open_until)

    def allow(self) -> bool:
        if not self._open_until:  # the common case, without the lock
            return True
        with self._lock:
            if not self._open_until:
                return True
            now = self.clock()
            if now < self._open_until:
                allowed = False
            else:
                self._open_until = now + circuit_seconds()
                allowed = True
        if not allowed:
            CALLS_SKIPPED.labels(self.address).inc()
        return allowed

    def failure(self, exc: BaseException) -> None:
        with self._lock:
            was_closed = not self._open_until
            self._open_until = self.clock() + circuit_seconds()
        if was_closed:
            CIRCUIT_OPENED.labels(self.address).inc()
            _log.warning(
                f"open:{self.address}",
                "Redis at %s is unreachable (%s: %s); not calling it for %.0f s",
                self.address,
                type(exc).__name__,
                exc,
                circuit_seconds(),
            )

    def success(self) -> None:
        if not self._open_until:
            return
        with self._lock:
            was_open = bool(self._open_until)
            self._open_until = 0.0
        if was_open:
            logger.info("Redis at %s answers again", self.address)

    def reset(self) -> None:
        with self._lock:
            self._open_until = 0.0


_log = RateLimitedLog(logger)
_breakers: dict[str, CircuitBreaker] = {}
_breakers_lock = threading.Lock()


def breaker_for(address: str) -> CircuitBreaker:
    """The process's breaker for one Redis server (``host:port``, or the socket path)."""
    with _breakers_lock:
        breaker = _breakers.get(address)
        if breaker is None:
            breaker = _breakers[address] = CircuitBreaker(address)
        return breaker


def reset_state() -> None:
    """Close every breaker and forget what the rate-limited logs reported (tests; a planned Redis switch-over)."""
    with _breakers_lock:
        for breaker in _breakers.values():
            breaker.reset()
    for log in list(_rate_limited_logs):
        log.reset()


class _GuardedConnection:
    """Mixed into redis-py's connection class by :class:`GuardedConnectionPool`: reports failures and replies
    to the pool's breaker. ``breaker`` is set on the subclass made for each pool."""

    breaker: CircuitBreaker

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().connect(*args, **kwargs)  # type: ignore[misc]
        except (redis_errors.ConnectionError, redis_errors.TimeoutError) as exc:
            self.breaker.failure(exc)
            raise

    def send_packed_command(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().send_packed_command(*args, **kwargs)  # type: ignore[misc]
        except (redis_errors.ConnectionError, redis_errors.TimeoutError) as exc:
            self.breaker.failure(exc)
            raise

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            response = super().read_response(*args, **kwargs)  # type: ignore[misc]
        except (redis_errors.ConnectionError, redis_errors.TimeoutError) as exc:
            self.breaker.failure(exc)
            raise
        except redis_errors.ResponseError:
            self.breaker.success()  # the server answered, if only with an error
            raise
        self.breaker.success()
        return response


_guarded_classes: dict[tuple[type, str], type] = {}


def _guarded_class(connection_class: type, breaker: CircuitBreaker) -> type:
    """``connection_class`` reporting to ``breaker``; one class per (class, server), however many pools."""
    key = (connection_class, breaker.address)
    with _breakers_lock:
        guarded = _guarded_classes.get(key)
        if guarded is None:
            name = f"Guarded{connection_class.__name__}"
            guarded = _guarded_classes[key] = type(name, (_GuardedConnection, connection_class), {"breaker": breaker})
        return guarded


def _address(kwargs: dict[str, Any]) -> str:
    if kwargs.get("path"):
        return str(kwargs["path"])
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"


def redis_address(url: str) -> str:
    """The breaker key of the server a ``redis://``, ``rediss://`` or ``unix://`` URL points at."""
    return _address(parse_url(url))  # type: ignore[no-untyped-call]


class GuardedConnectionPool(redis.ConnectionPool):
    """A redis-py connection pool behind the circuit breaker of its server (``CONNECTION_POOL_CLASS`` of
    django-redis). Works for ``redis://``, ``rediss://`` and ``unix://`` URLs alike."""

    def __init__(self, connection_class: type = redis.Connection, **kwargs: Any) -> None:
        self.breaker = breaker_for(_address(kwargs))
        super().__init__(connection_class=_guarded_class(connection_class, self.breaker), **kwargs)

    def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        if not self.breaker.allow():
            raise CircuitOpenError(f"Redis at {self.breaker.address} failed moments ago; not calling it")
        return super().get_connection(*args, **kwargs)


class _IgnoredErrorLog:
    """Stands in for django-redis's logger of ignored errors: counts them, logs one line a minute at most."""

    def _report(self, *args: Any, **kwargs: Any) -> None:
        CACHE_ERRORS_IGNORED.inc()
        exc = sys.exc_info()[1]
        _log.warning(
            "cache-ignored",
            "Cache unavailable, reading from the database instead (%s: %s)",
            type(exc.__cause__ or exc).__name__ if exc else "error",
            (exc.__cause__ or exc) if exc else "",
        )

    exception = _report
    error = _report


class DegradingRedisCache(PrometheusRedisCache):  # type: ignore[misc]
    """The default cache: django-redis (with django-prometheus's hit/miss metrics) that treats an unreachable
    Redis as a miss (reads) or a no-op (writes) instead of raising. See the module docstring."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._ignore_exceptions = True
        self._log_ignored_exceptions = True
        self.logger = _IgnoredErrorLog()


def strict_cache() -> BaseCache:
    """The cache alias that raises when Redis is unreachable (``default`` when no ``strict`` alias is set)."""
    return caches[STRICT_CACHE_ALIAS if STRICT_CACHE_ALIAS in settings.CACHES else "default"]


class _StrictCacheProxy:
    """:func:`strict_cache`, looked up on every use (so settings overrides take effect), usable as an attribute."""

    def __getattr__(self, name: str) -> Any:
        return getattr(strict_cache(), name)


STRICT_CACHE = cast(BaseCache, _StrictCacheProxy())
