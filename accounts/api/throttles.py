"""Throttles of the sign-in endpoints (rates in ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``).

* ``LoginIpThrottle`` — scope ``login`` (10/min), keyed by client IP: ``auth/token``, ``auth/register``.
* ``LoginAccountThrottle`` — scope ``login`` (10/min), keyed by the email tried (hashed): ``auth/token``.
* ``OtpPhoneThrottle`` — scope ``otp_phone`` (3/10min), keyed by the phone a code goes to (hashed): every code
  sent by SMS (OTP login, phone verification, SMS second factor).
* ``OtpIpThrottle`` — scope ``otp_ip`` (10/10min), keyed by client IP: every OTP request and verification, and
  SMS second-factor challenges.

A throttled request gets 429 ``{"code": "throttled", ...}`` with ``Retry-After``. Rates may span several units
(``3/10min``). The phone and email throttles count the normalised value, so "98123 45678" and "+919812345678"
share a bucket; a value that cannot be normalised is refused by the serializer (400) and still counts for the IP.
Throttles run before the serializer, so keys derived from raw input are computed from any string, lone
surrogates included (:func:`_digest`).

Client IPs come from :func:`commerce.core.client_ip.client_ip`, as for django-axes and the audit log. When the
throttle cache (Redis) is unreachable, the password sign-in throttles let requests through (django-axes still
locks out repeated failures; its counts live in the database), while the OTP/SMS throttles refuse them with 503
``service_unavailable``: they guard SMS spend and one-time codes (see :mod:`commerce.core.api.throttling`).
"""

import hashlib
import re
from typing import Any

from django.core.exceptions import ValidationError
from rest_framework.exceptions import Throttled

from accounts.models import UserManager
from accounts.phone import normalize_phone
from commerce.core.api.throttling import GuardedRateThrottle

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PERIOD = re.compile(r"^\s*(\d*)\s*([smhd])[a-z]*\s*$")


def _digest(value: str) -> str:
    """A short key for raw input. ``surrogatepass``: JSON may carry lone surrogates ("\\ud800"), which plain
    UTF-8 refuses to encode, and this runs before the serializer rejects them."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class KeyedRateThrottle(GuardedRateThrottle):
    """A sliding-window throttle keyed by :meth:`ident_for`; also usable directly with :meth:`allow_ident`.
    Fails open when its cache is unreachable unless ``fail_closed`` (then 503)."""

    def parse_rate(self, rate: str | None) -> tuple[int | None, int | None]:
        if rate is None:
            return (None, None)
        num, period = rate.split("/")
        match = _PERIOD.match(period)
        if match is None:
            raise ValueError(f"Unreadable throttle rate {rate!r}")
        return int(num), int(match.group(1) or 1) * _UNITS[match.group(2)]

    def ident_for(self, request: Any) -> str | None:
        raise NotImplementedError

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        ident = self.ident_for(request)
        return None if ident is None else self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request: Any, view: Any) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception as exc:
            return self.cache_failed(exc)

    def allow_ident(self, ident: str) -> bool:
        """Count one use for ``ident`` and say whether it is within the rate (like ``allow_request``)."""
        try:
            return self._allow_ident(ident)
        except Exception as exc:
            return self.cache_failed(exc)

    def _allow_ident(self, ident: str) -> bool:
        self.key = self.cache_format % {"scope": self.scope, "ident": ident}
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        if len(self.history) >= self.num_requests:
            return self.throttle_failure()
        return self.throttle_success()


def _data(request: Any) -> dict[str, Any]:
    data = request.data
    return data if isinstance(data, dict) else {}


class LoginIpThrottle(KeyedRateThrottle):
    scope = "login"
    cache_format = "throttle_%(scope)s_ip_%(ident)s"

    def ident_for(self, request: Any) -> str | None:
        return self.get_ident(request)


class LoginAccountThrottle(KeyedRateThrottle):
    scope = "login"
    cache_format = "throttle_%(scope)s_account_%(ident)s"

    def ident_for(self, request: Any) -> str | None:
        email = _data(request).get("email")
        if not isinstance(email, str) or not email.strip():
            return None
        return _digest(UserManager.normalize_email(email))


class OtpIpThrottle(KeyedRateThrottle):
    scope = "otp_ip"
    fail_closed = True

    def ident_for(self, request: Any) -> str | None:
        return self.get_ident(request)


class OtpPhoneThrottle(KeyedRateThrottle):
    scope = "otp_phone"
    fail_closed = True

    def ident_for(self, request: Any) -> str | None:
        raw = _data(request).get("phone")
        if not isinstance(raw, str):
            return None
        try:
            return _digest(normalize_phone(raw))
        except ValidationError:
            return None

    @classmethod
    def ident_for_phone(cls, phone: str) -> str:
        return _digest(phone)


def sms_rate_check(request: Any):
    """For SMS codes sent outside the OTP endpoints (the SMS second factor of ``auth/token``): the same per-phone
    and per-IP rules as OTP login. Returns ``check(phone)``, which raises ``Throttled`` when over a rate and
    :class:`~commerce.core.redis_guard.RedisUnavailable` (503) when the throttle cache is unreachable."""

    def check(phone: str) -> None:
        for throttle, ident in (
            (OtpPhoneThrottle(), OtpPhoneThrottle.ident_for_phone(phone)),
            (OtpIpThrottle(), OtpIpThrottle().get_ident(request)),
        ):
            if not throttle.allow_ident(ident):
                raise Throttled(wait=throttle.wait())

    return check
