"""The API's general throttles: fixed-window counters, one cache round trip per request.

DRF's ``AnonRateThrottle``/``UserRateThrottle`` keep a list of every request's timestamp in the cache and
read and rewrite that whole list on each request, and ``UserRateThrottle`` also counts anonymous requests, so
an anonymous request paid for two lists. These count requests per client per window with an atomic increment
instead: ``anon`` applies to anonymous clients (keyed by IP), ``user`` to signed-in ones (keyed by user id).

A fixed window can let up to twice the rate through across a window boundary; that is acceptable for these
broad limits. Endpoints that need exact limits (login, OTP) use sliding-window throttles of their own.
"""

from typing import Any

from rest_framework.throttling import SimpleRateThrottle


class FixedWindowRateThrottle(SimpleRateThrottle):
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
        key = self.cache_format % {"scope": self.scope, "ident": ident, "window": window}
        try:
            count = self.cache.incr(key)
        except ValueError:  # first request of the window; add() loses only to a parallel first request
            count = 1 if self.cache.add(key, 1, timeout=self.duration + 1) else self.cache.incr(key)
        self.window_end = (window + 1) * self.duration
        return count <= self.num_requests

    def wait(self) -> float:
        return max(1.0, self.window_end - self.now)


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
