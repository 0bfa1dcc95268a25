"""JWT sign-in: password (+ second factor), phone OTP, refresh with rotation, logout.

Refresh tokens rotate: each refresh blacklists the presented token and returns a new pair, so a refresh token
works once. Logout blacklists the refresh token; the short-lived access token (``JWT_ACCESS_MINUTES``) stays
valid until it expires.

Password failures go through ``django.contrib.auth.authenticate`` *with the request*, so django-axes counts
them per account and per IP and refuses a locked-out client with :class:`~accounts.errors.TooManyRequests`
(``locked_out``, 429, ``Retry-After`` = the cool-off). The email is normalised before it reaches axes, so
``Ann@x.com`` and ``ann@x.com`` count as one account.

API sign-in never creates a Django session or sets a cookie: nothing here calls ``django.contrib.auth.login``,
and django-axes' success hook, which would create a session just to hash its key into the access log, is
given the request without its session (:class:`_SessionlessRequest`).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth import authenticate
from django.contrib.auth.models import update_last_login
from django.db import transaction
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import events
from accounts.errors import AuthenticationError, TooManyRequests
from accounts.lockout import LOCKED_OUT_DETAIL, retry_after_seconds
from accounts.models import PhoneOTP, User, UserManager
from accounts.permissions import get_owned_or_404
from commerce.core.client_ip import client_ip

from .audit import audit_record
from .otp import OtpCheck, phone_otp_check, phone_otp_consume, phone_otp_count_failure, phone_otp_request, phone_user_id
from .profile import profile_completed_publish, profile_is_complete
from .two_factor import (
    BACKUP,
    TOTP,
    has_confirmed_totp,
    require_second_factor,
    sms_device_for,
    two_factor_enabled,
    two_factor_sms_challenge,
)


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str


@dataclass(frozen=True)
class PhoneLogin:
    user: User
    created: bool
    tokens: TokenPair


def token_pair_issue(*, user: User, login: bool = True) -> TokenPair:
    """A new access/refresh pair for ``user``; ``login`` (not a refresh) also updates ``last_login``."""
    refresh = RefreshToken.for_user(user)
    if login and jwt_settings.UPDATE_LAST_LOGIN:
        update_last_login(User, user)
    return TokenPair(access=str(refresh.access_token), refresh=str(refresh))


class _SessionlessRequest:
    """``request`` as django-axes' success hook sees it: everything but ``session``.

    ``AxesDatabaseHandler.user_logged_in`` stores a hash of the session key in its access log and *creates* a
    session (a row in ``django_session`` and a ``sessionid`` cookie) when the request has none. A bearer-token
    sign-in has no session and must not get one; without ``session`` axes logs an empty hash instead.
    Attribute writes (axes marks the request) go through to the real request.
    """

    def __init__(self, request: Any) -> None:
        object.__setattr__(self, "_request", request)

    def __getattr__(self, name: str) -> Any:
        if name == "session":
            raise AttributeError(name)
        return getattr(self._request, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._request, name, value)


def _invalid_credentials() -> AuthenticationError:
    return AuthenticationError("No active account found with the given credentials.", code="no_active_account")


def _locked_out(request: Any) -> TooManyRequests:
    return TooManyRequests(LOCKED_OUT_DETAIL, code="locked_out", wait=retry_after_seconds(request))


def token_obtain(
    *,
    request: Any,
    email: str,
    password: str,
    otp: str | None = None,
    sms_rate_check: Callable[[str], None] | None = None,
) -> TokenPair:
    """Sign in with email and password (and ``otp`` when the account has 2FA) and return a token pair.

    Without ``otp``, a user whose only factor is SMS is sent a code (``sms_rate_check(phone)`` runs first and
    may raise to throttle it) and gets 401 ``otp_required``; a wrong code is 401 ``otp_invalid``.
    """
    email = UserManager.normalize_email(email)
    user = authenticate(request=request, email=email, password=password)
    if user is None:
        if getattr(request, "axes_locked_out", False):
            raise _locked_out(request)
        raise _invalid_credentials()
    if two_factor_enabled(user):
        if not otp and not has_confirmed_totp(user):
            device = sms_device_for(user)
            if device is not None:
                if sms_rate_check is not None:
                    sms_rate_check(device.phone)
                two_factor_sms_challenge(user=user)
        try:
            require_second_factor(user=user, otp=otp)
        except AuthenticationError as exc:
            if user.is_staff and exc.code == "otp_invalid":
                audit_record(
                    action="staff.login_failed",
                    target=user,
                    actor=user,
                    request=request,
                    after={"channel": "api", "reason": "otp_invalid"},
                )
            raise
    # What django-axes does on Django's user_logged_in: log the access and reset the failure count.
    AxesProxyHandler.user_logged_in(sender=User, request=_SessionlessRequest(request), user=user)
    tokens = token_pair_issue(user=user)
    if user.is_staff:
        audit_record(action="staff.login", target=user, actor=user, request=request, after={"channel": "api"})
    return tokens


def token_refresh(*, refresh: str) -> TokenPair:
    """Exchange a refresh token for a new pair; the presented token is blacklisted in the same transaction, so
    two concurrent refreshes with one token cannot both succeed."""
    token = _refresh_token(refresh)
    jti = token.get(jwt_settings.JTI_CLAIM)
    user_id = token.get(jwt_settings.USER_ID_CLAIM)
    with transaction.atomic():
        # order_by("pk"): the model orders by user, an outer join PostgreSQL cannot lock.
        outstanding = OutstandingToken.objects.select_for_update().filter(jti=jti).order_by("pk").first()
        if outstanding is None:
            raise AuthenticationError("Token is invalid.", code="token_not_valid")
        _, created = BlacklistedToken.objects.get_or_create(token=outstanding)
        if not created:
            raise AuthenticationError("Token is blacklisted.", code="token_not_valid")
        user = User.objects.filter(**{jwt_settings.USER_ID_FIELD: user_id}).first()
        if user is None or not jwt_settings.USER_AUTHENTICATION_RULE(user):
            raise AuthenticationError("No active account found for the given token.", code="no_active_account")
        return token_pair_issue(user=user, login=False)


def token_revoke(*, refresh: str) -> None:
    """Log out: blacklist the refresh token. An invalid, expired or already blacklisted token is a 401."""
    token = _refresh_token(refresh)
    token.blacklist()


def session_revoke(*, user: User, session_id: int) -> None:
    """Sign one of the user's devices out: blacklist that refresh token. Another user's session is a 404."""
    outstanding = get_owned_or_404(OutstandingToken.objects.all(), user, pk=session_id)
    BlacklistedToken.objects.get_or_create(token=outstanding)


def _refresh_token(raw: str) -> RefreshToken:
    try:
        return RefreshToken(raw)  # type: ignore[arg-type]  # simplejwt accepts the encoded token string
    except TokenError as exc:
        raise AuthenticationError(
            str(exc.args[0]) if exc.args else "Token is invalid.", code="token_not_valid"
        ) from exc


def phone_login_request(*, phone: str) -> None:
    """Send a login code to ``phone`` (E.164). Known and unknown phones take the same path."""
    phone_otp_request(phone=phone, purpose=PhoneOTP.Purpose.LOGIN, user_id=phone_user_id(phone))


def phone_login_verify(*, phone: str, code: str, otp: str | None = None, request: Any = None) -> PhoneLogin:
    """Sign in with a phone login code; the first login creates the account (phone marked verified).

    An account with an authenticator app also needs ``otp`` (TOTP or a backup code): the SMS alone would let a
    SIM swap bypass it. The SMS code is checked first (so nothing about the account leaks to someone without
    it) and is consumed only when the whole login succeeds; a wrong ``otp`` counts as a wrong attempt on it.
    """
    check = phone_otp_check(phone=phone, purpose=PhoneOTP.Purpose.LOGIN, code=code, consume=False)
    if not check.ok:
        raise AuthenticationError(check.message, code=check.error_code)
    user = User.objects.filter(phone=phone).first()
    if user is not None and has_confirmed_totp(user):
        try:
            require_second_factor(user=user, otp=otp, methods=(TOTP, BACKUP))
        except AuthenticationError as exc:
            if exc.code == "otp_invalid":
                phone_otp_count_failure(check=check)
            raise
    return _phone_login_finish(phone=phone, check=check, request=request)


DEVICE_ID_HEADER = "X-Device-Id"


def _client(request: Any) -> tuple[str | None, str | None]:
    """The client's IP and ``X-Device-Id`` header (for the ``user_registered`` event), None without a request."""
    if request is None:
        return None, None
    headers = getattr(request, "headers", None)
    return client_ip(request), (headers.get(DEVICE_ID_HEADER) if headers is not None else None)


def _phone_login_finish(*, phone: str, check: OtpCheck, request: Any) -> PhoneLogin:
    with transaction.atomic():
        if not phone_otp_consume(check=check):
            raise AuthenticationError(OtpCheck(ok=False, reason="invalid").message, code="otp_invalid")
        user = User.objects.select_for_update().filter(phone=phone).first()
        created = user is None
        if user is None:
            user = User(phone=phone, phone_verified=True, date_joined=timezone.now())
            user.set_unusable_password()
            user.full_clean(exclude=["password"])
            user.save()
            ip, device_id = _client(request)
            events.publish(events.user_registered, user_id=user.pk, referral_code="", ip=ip, device_id=device_id)
            events.publish(events.phone_verified, user_id=user.pk)
        elif not user.phone_verified:
            was_complete = profile_is_complete(user)
            user.phone_verified = True
            user.save(update_fields=["phone_verified"])
            events.publish(events.phone_verified, user_id=user.pk)
            profile_completed_publish(user=user, was_complete=was_complete)
    if not user.is_active:
        raise AuthenticationError("This account is disabled.", code="account_disabled")
    tokens = token_pair_issue(user=user)
    if user.is_staff:
        audit_record(action="staff.login", target=user, actor=user, request=request, after={"channel": "phone_otp"})
    return PhoneLogin(user=user, created=created, tokens=tokens)
