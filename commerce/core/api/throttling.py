"""The API's general throttles: fixed-window counters, one cache round trip per request.

DRF's ``AnonRateThrottle``/``UserRateThrottle`` keep a list of every request's timestamp in the cache and
read and rewrite that whole list on each request, and ``UserRateThrottle`` also counts anonymous requests, so
an anonymous request paid for two lists. These count requests per client per window with an atomic increment
instead: ``anon`` applies to anonymous clients (keyed by IP), ``user`` to signed-in ones (keyed by user id).

A fixed window can let up to twice the rate through across a window boundary; that is acceptable for these
broad limits. Endpoints that need exact limits (login, OTP) use sliding-window throttles of their own.

Every throttle keys clients by :func:`commerce.core.client_ip.client_ip` (``X-Forwarded-For`` behind
``NUM_PROXIES`` proxies), like django-axes and the audit log, and counts in the ``strict`` cache alias, which
raises when Redis is unreachable. What an unreachable cache means is then the throttle's choice
(:func:`throttle_cache_unavailable`): these general throttles *fail open* (the request goes through, counted in
``commerce_throttle_degraded_total{scope}`` and logged at most once a minute per scope), so browsing keeps
working; throttles guarding SMS spend or one-time codes set ``fail_closed`` and answer 503
``service_unavailable`` (counted in ``commerce_throttle_unavailable_total{scope}``).
"""

import logging
from typing import Any

from django.core.cache import BaseCache
from prometheus_client import Counter
from rest_framework.throttling import SimpleRateThrottle

from commerce.core.client_ip import client_ip
from commerce.core.redis_guard import STRICT_CACHE, RateLimitedLog, RedisUnavailable, is_redis_unavailable

logger = logging.getLogger(__name__)
_log = RateLimitedLog(logger)

THROTTLE_DEGRADED = Counter(
    "commerce_throttle_degraded",
    "Requests let through without throttling because the throttle cache (Redis) was unreachable.",
    ["scope"],
)
THROTTLE_UNAVAILABLE = Counter(
    "commerce_throttle_unavailable",
    "Requests refused with 503 because the throttle their endpoint needs could not reach its cache (Redis).",
    ["scope"],
)


def throttle_cache_unavailable(*, scope: str, exc: BaseException, fail_closed: bool) -> bool:
    """Decide for a throttle whose cache failed with ``exc``: ``True`` (let the request through) when it fails
    open, else raise :class:`~commerce.core.redis_guard.RedisUnavailable` (503)."""
    if fail_closed:
        THROTTLE_UNAVAILABLE.labels(scope).inc()
        _log.warning(f"closed:{scope}", "Throttle %s cannot reach its cache (%s); refusing with 503", scope, exc)
        raise RedisUnavailable() from exc
    THROTTLE_DEGRADED.labels(scope).inc()
    _log.warning(f"open:{scope}", "Throttle %s cannot reach its cache (%s); letting requests through", scope, exc)
    return True


class GuardedRateThrottle(SimpleRateThrottle):
    """Base of the project's throttles: the client IP from :func:`client_ip`, counts in the ``strict`` cache,
    and a choice (``fail_closed``) of what to do when that cache is unreachable."""

    cache: BaseCache = STRICT_CACHE
    fail_closed = False
    num_requests: int
    duration: int

    def get_ident(self, request: Any) -> str:
        return client_ip(request)

    def cache_failed(self, exc: Exception) -> bool:
        """``True`` to let the request through; raises 503 for a throttle that fails closed; re-raises ``exc``
        when it is not about Redis being unreachable (a bug)."""
        if not is_redis_unavailable(exc):
            raise exc
        return throttle_cache_unavailable(scope=str(self.scope), exc=exc, fail_closed=self.fail_closed)


class FixedWindowRateThrottle(GuardedRateThrottle):
    cache_format = "throttle:%(scope)s:%(ident)s:%(window)d"

    def ident_for(self, request: Any) -> str | None:
        raise NotImplementedError

    def allow_request(self, request: Any, view: Any) -> bool:
        if self.rate is None:
            return True
        ident = self.ident_for(request)
        if ident is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_end = (window + 1) * self.duration
        key = self.cache_format % {"scope": self.scope, "ident": ident, "window": window}
        try:
            count = self._count(key)
        except Exception as exc:
            return self.cache_failed(exc)
        return count <= self.num_requests

    def _count(self, key: str) -> int:
        cache = self.cache
        try:
            return int(cache.incr(key))
        except ValueError:  # first request of the window; add() loses only to a parallel first request
            return 1 if cache.add(key, 1, timeout=self.duration + 1) else int(cache.incr(key))

    def wait(self) -> float:
        return max(1.0, float(self.window_end - self.now))


class AnonThrottle(FixedWindowRateThrottle):
    scope = "anon"

    def ident_for(self, request: Any) -> str | None:
        if request.user and request.user.is_authenticated:
            return None
        return self.get_ident(request)


class UserThrottle(FixedWindowRateThrottle):
    scope = "user"

    def ident_for(self, request: Any) -> str | None:
        if request.user and request.user.is_authenticated:
            return str(request.user.pk)
        return None
