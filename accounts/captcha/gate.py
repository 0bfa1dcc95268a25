"""When a CAPTCHA is needed, and checking the one a client sent.

* Sign-up (``POST auth/register``) always needs one while a provider is configured.
* Sign-in (``POST auth/token``) and the phone code request (``POST auth/otp/request``) need one once the
  client's IP has ``CAPTCHA_SIGNIN_AFTER_FAILURES`` failed sign-ins in the cache; the count is forgotten
  ``CAPTCHA_SIGNIN_WINDOW_MINUTES`` after the last failure, or at once by a successful sign-in that came
  with a verified CAPTCHA. A successful sign-in *without* one leaves the count alone, so an attacker with an
  account of their own cannot wipe the count between guesses.
* Failed sign-ins are wrong passwords, wrong or expired codes and lockouts on ``auth/token`` and
  ``auth/otp/verify``; ``otp_required`` is a step of a sign-in with 2FA, not a failure.

The token travels in the JSON body as ``captcha``. Missing when needed: 400 ``captcha_required``; refused by
the provider: 400 ``captcha_invalid``; provider unreachable: 503 ``service_unavailable`` (fail-closed, see
:mod:`accounts.captcha.providers`). A token sent when none is needed is ignored (not sent to the provider).

The failure count lives in the cache (Redis in production). If the cache is down, the count is neither
read nor written and sign-in needs no CAPTCHA (fail-open, logged): sign-in stays possible during an outage,
and django-axes' lockout, kept in the database, still caps password guessing.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

from accounts.errors import AuthenticationError, TooManyRequests
from commerce.core.client_ip import client_ip
from commerce.core.errors import InvalidInput

from .providers import SITEVERIFY_PROVIDERS, TEST_PROVIDERS, CaptchaVerifier, RecaptchaVerifier

logger = logging.getLogger("accounts.captcha")

CAPTCHA_FIELD = "captcha"
REGISTER = "register"
# Codes of sign-in answers that are not failures: the password was right and the second factor is next.
NOT_A_FAILURE = frozenset({"otp_required"})
_CACHE_ERRORS = (ConnectionInterrupted, RedisError, OSError)
_FAILURES_KEY = "captcha:signin_failures:{ip}"


def captcha_enabled() -> bool:
    return bool(settings.CAPTCHA_PROVIDER)


def captcha_verifier() -> CaptchaVerifier | None:
    """The verifier for ``CAPTCHA_PROVIDER``, or ``None`` when CAPTCHA is off."""
    provider = settings.CAPTCHA_PROVIDER
    if not provider:
        return None
    if provider in TEST_PROVIDERS:
        return TEST_PROVIDERS[provider]()
    options: dict[str, Any] = {"secret_key": settings.CAPTCHA_SECRET_KEY, "timeout": settings.CAPTCHA_TIMEOUT_SECONDS}
    if provider == RecaptchaVerifier.provider:
        options["min_score"] = settings.CAPTCHA_RECAPTCHA_MIN_SCORE
    return SITEVERIFY_PROVIDERS[provider](**options)


def captcha_check(*, token: str | None, remote_ip: str) -> None:
    """Require a valid CAPTCHA token (when CAPTCHA is on): 400 ``captcha_required`` / ``captcha_invalid``, 503
    when the provider cannot be asked."""
    verifier = captcha_verifier()
    if verifier is None:
        return
    if not token:
        message = "Solve the CAPTCHA and send its token as `captcha`."
        raise InvalidInput(message, code="captcha_required", fields={CAPTCHA_FIELD: [message]})
    result = verifier.verify(token=token, remote_ip=remote_ip)
    if not result.success:
        message = "The CAPTCHA was not solved or has expired. Solve it again."
        raise InvalidInput(message, code="captcha_invalid", fields={CAPTCHA_FIELD: [message]})


# --- Sign-in failures per client IP -------------------------------------------------------------------------


def _key(ip: str) -> str:
    return _FAILURES_KEY.format(ip=ip)


def _window_seconds() -> int:
    return int(settings.CAPTCHA_SIGNIN_WINDOW_MINUTES) * 60


def signin_failures(*, ip: str) -> int:
    """Failed sign-ins from ``ip`` in the current window (0 when CAPTCHA is off or the cache is down)."""
    if not captcha_enabled():
        return 0
    try:
        return int(cache.get(_key(ip)) or 0)
    except _CACHE_ERRORS as exc:
        logger.warning("Sign-in failure count unavailable, no CAPTCHA asked: %s", type(exc).__name__)
        return 0


def signin_captcha_required(*, ip: str) -> bool:
    return captcha_enabled() and signin_failures(ip=ip) >= int(settings.CAPTCHA_SIGNIN_AFTER_FAILURES)


def signin_failure_record(*, ip: str) -> None:
    """Count a failed sign-in from ``ip``; the window restarts with each failure."""
    if not captcha_enabled():
        return
    key, window = _key(ip), _window_seconds()
    try:
        if cache.add(key, 1, timeout=window):
            return
        try:
            cache.incr(key)
        except ValueError:  # expired between add() and incr()
            cache.set(key, 1, timeout=window)
            return
        cache.touch(key, timeout=window)
    except _CACHE_ERRORS as exc:
        logger.warning("Sign-in failure not counted: %s", type(exc).__name__)


def signin_failures_reset(*, ip: str) -> None:
    try:
        cache.delete(_key(ip))
    except _CACHE_ERRORS as exc:
        logger.warning("Sign-in failure count not reset: %s", type(exc).__name__)


def signin_captcha_check(*, request: Any, token: str | None) -> bool:
    """For sign-in and OTP requests: check the CAPTCHA if this client needs one now. True when one was
    verified."""
    if not signin_captcha_required(ip=client_ip(request)):
        return False
    captcha_check(token=token, remote_ip=client_ip(request))
    return True


@contextmanager
def signin_attempt(*, request: Any, captcha: str | None = None, gated: bool = True) -> Iterator[None]:
    """Wrap one sign-in: check the CAPTCHA first if ``gated`` and needed, count the sign-in's failure (an
    ``AuthenticationError`` or lockout raised inside), and reset the count after a success with a CAPTCHA."""
    ip = client_ip(request)
    verified = signin_captcha_check(request=request, token=captcha) if gated else False
    try:
        yield
    except (AuthenticationError, TooManyRequests) as exc:
        if exc.code not in NOT_A_FAILURE:
            signin_failure_record(ip=ip)
        raise
    if verified:
        signin_failures_reset(ip=ip)


def captcha_client_config(*, request: Any) -> dict[str, Any]:
    """What a client needs to show the widget: provider, site key, and where a CAPTCHA is needed now."""
    if not captcha_enabled():
        return {"provider": None, "site_key": None, "required_for": [], "signin_required": False}
    return {
        "provider": settings.CAPTCHA_PROVIDER,
        "site_key": settings.CAPTCHA_SITE_KEY or None,
        "required_for": [REGISTER],
        "signin_required": signin_captcha_required(ip=client_ip(request)),
    }
