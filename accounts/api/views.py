"""HTTP layer of accounts: validate input, call a service or selector, shape the answer.

Sign-in endpoints are public (no authentication, ``AllowAny``) and throttled more strictly than the rest
(see :mod:`accounts.api.throttles`); sign-up, and sign-in after repeated failures, need a CAPTCHA (see
:mod:`accounts.captcha`). Everything under ``me`` acts on the signed-in user only.

Every answer of these views, errors included, carries ``Cache-Control: no-store`` and ``Pragma: no-cache``:
they hold tokens, one-time secrets or personal data that no browser or proxy cache may keep. Nothing here
creates a Django session or sets a cookie: the API authenticates with bearer tokens only.
"""

import logging
from contextlib import ExitStack
from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken

from accounts.captcha import captcha_check, captcha_client_config, signin_attempt, signin_captcha_check
from accounts.errors import AuthenticationError, TooManyRequests
from accounts.models import User
from accounts.permissions import signed_in
from accounts.selectors import two_factor_status, user_sessions
from accounts.services.audit import audit_context
from accounts.services.fingerprints import account_fingerprint_record
from accounts.services.profile import phone_verification_confirm, phone_verification_request, user_update_profile
from accounts.services.registration import user_register
from accounts.services.tokens import (
    phone_login_request,
    phone_login_verify,
    session_revoke,
    token_obtain,
    token_pair_issue,
    token_refresh,
    token_revoke,
)
from accounts.services.two_factor import (
    SMS,
    TOTP,
    backup_codes_regenerate,
    sms_device_enroll,
    sms_device_for,
    totp_setup_confirm,
    totp_setup_start,
    two_factor_remove,
    two_factor_sms_challenge,
)
from commerce.core.client_ip import client_ip
from commerce.core.errors import Conflict

from . import serializers as s
from .throttles import LoginAccountThrottle, LoginIpThrottle, OtpIpThrottle, OtpPhoneThrottle, sms_rate_check

logger = logging.getLogger(__name__)

DEFAULT_THROTTLES: list[type[BaseThrottle]] = list(api_settings.DEFAULT_THROTTLE_CLASSES)  # type: ignore[arg-type]  # classes once loaded
OTP_SENT_DETAIL = "A code is on its way by SMS. It expires in 5 minutes."
DEVICE_ID_HEADER = "X-Device-Id"
DEVICE_ID_PARAMETER = OpenApiParameter(
    DEVICE_ID_HEADER,
    location=OpenApiParameter.HEADER,
    required=False,
    type=str,
    description="Optional: a stable random id the app or browser keeps for this device (1 to 200 printable "
    "characters, e.g. a UUID). Only a keyed hash of it is kept, for fraud checks.",
)
CAPTCHA_ERRORS = {
    400: OpenApiResponse(description="invalid, captcha_required or captcha_invalid"),
    503: OpenApiResponse(description="service_unavailable: the CAPTCHA provider did not answer"),
}


class RetryLater(exceptions.APIException):
    """A 429 with a code of its own (``locked_out``) and ``Retry-After``."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "throttled"

    def __init__(self, detail: str, code: str, wait: int | None) -> None:
        super().__init__(detail, code)
        self.wait = wait


class AccountsAPIView(APIView):
    """Maps accounts errors to DRF's (401 with ``WWW-Authenticate``, 429 with ``Retry-After``), runs the
    handler inside an audit context naming the user, IP and user agent, and marks every answer, errors
    included, as not to be stored by any cache (``Cache-Control: no-store``, ``Pragma: no-cache`` for
    HTTP/1.0 caches)."""

    def get_authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self._audit = ExitStack()
        self._audit.enter_context(audit_context(request=request))

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        audit = getattr(self, "_audit", None)
        if audit is not None:
            audit.close()
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        response["Pragma"] = "no-cache"
        return response

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, AuthenticationError):
            exc = exceptions.AuthenticationFailed(exc.detail, exc.code)
        elif isinstance(exc, TooManyRequests):
            exc = RetryLater(exc.detail, exc.code, exc.wait)
        return super().handle_exception(exc)


class PublicView(AccountsAPIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]


class RegisterView(PublicView):
    throttle_classes = [*DEFAULT_THROTTLES, LoginIpThrottle]

    @extend_schema(
        request=s.RegisterSerializer,
        parameters=[DEVICE_ID_PARAMETER],
        responses={201: s.RegisteredSerializer, **CAPTCHA_ERRORS},
        tags=["auth"],
    )
    def post(self, request: Request) -> Response:
        """Create an account with email and password (Django's password validators apply). Needs ``captcha``
        while a CAPTCHA provider is configured."""
        data = _valid(s.RegisterSerializer, request)
        captcha_check(token=data.get("captcha"), remote_ip=client_ip(request))
        user = user_register(
            email=data["email"],
            password=data["password"],
            full_name=data["full_name"],
            referral_code=data["referral_code"],
            ip=client_ip(request),
            device_id=request.headers.get(DEVICE_ID_HEADER),
        )
        tokens = token_pair_issue(user=user)
        _fingerprints_record(request, user_id=user.pk, phone=user.phone)
        body = {"user": s.UserSerializer(user).data, "access": tokens.access, "refresh": tokens.refresh}
        return Response(body, status=status.HTTP_201_CREATED)


class TokenObtainView(PublicView):
    throttle_classes = [*DEFAULT_THROTTLES, LoginIpThrottle, LoginAccountThrottle]

    @extend_schema(
        request=s.TokenObtainSerializer,
        parameters=[DEVICE_ID_PARAMETER],
        responses={
            200: s.TokenPairSerializer,
            401: OpenApiResponse(description="no_active_account, otp_required or otp_invalid"),
            429: OpenApiResponse(description="throttled, or locked_out after repeated failures"),
            **CAPTCHA_ERRORS,
        },
        tags=["auth"],
    )
    def post(self, request: Request) -> Response:
        """Email + password (+ ``otp`` for accounts with 2FA) for an access and a refresh token. After repeated
        failed sign-ins from this client, also ``captcha`` (see ``GET auth/captcha``)."""
        data = _valid(s.TokenObtainSerializer, request)
        with signin_attempt(request=request, captcha=data.get("captcha")):
            tokens = token_obtain(
                request=request,
                email=data["email"],
                password=data["password"],
                otp=data.get("otp") or None,
                sms_rate_check=sms_rate_check(request),
            )
        _fingerprints_record(request, access_token=tokens.access)
        return Response({"access": tokens.access, "refresh": tokens.refresh})


class TokenRefreshView(PublicView):
    error_responses = {401: "token_not_valid: the refresh token is invalid, expired, revoked or already used."}

    @extend_schema(request=s.RefreshSerializer, responses={200: s.TokenPairSerializer}, tags=["auth"])
    def post(self, request: Request) -> Response:
        """A new token pair for a refresh token; the refresh token used is revoked (rotation)."""
        data = _valid(s.RefreshSerializer, request)
        tokens = token_refresh(refresh=data["refresh"])
        return Response({"access": tokens.access, "refresh": tokens.refresh})


class LogoutView(PublicView):
    error_responses = {401: "token_not_valid: the refresh token is invalid or expired."}

    @extend_schema(request=s.RefreshSerializer, responses={204: None}, tags=["auth"])
    def post(self, request: Request) -> Response:
        """Revoke a refresh token. The access token stays valid until it expires (minutes)."""
        data = _valid(s.RefreshSerializer, request)
        token_revoke(refresh=data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class OtpRequestView(PublicView):
    throttle_classes = [*DEFAULT_THROTTLES, OtpIpThrottle, OtpPhoneThrottle]

    @extend_schema(
        request=s.OtpLoginRequestSerializer, responses={202: s.OtpRequestedSerializer, **CAPTCHA_ERRORS}, tags=["auth"]
    )
    def post(self, request: Request) -> Response:
        """Send a 6-digit login code by SMS. The answer is the same for every valid number, known or not. After
        repeated failed sign-ins from this client, needs ``captcha`` (see ``GET auth/captcha``)."""
        data = _valid(s.OtpLoginRequestSerializer, request)
        signin_captcha_check(request=request, token=data.get("captcha"))
        phone_login_request(phone=data["phone"])
        return Response({"detail": OTP_SENT_DETAIL}, status=status.HTTP_202_ACCEPTED)


class OtpVerifyView(PublicView):
    throttle_classes = [*DEFAULT_THROTTLES, OtpIpThrottle]

    @extend_schema(
        request=s.OtpVerifySerializer,
        parameters=[DEVICE_ID_PARAMETER],
        responses={
            200: s.PhoneLoginSerializer,
            401: OpenApiResponse(description="otp_invalid, otp_expired, otp_attempts_exceeded, otp_required"),
        },
        tags=["auth"],
    )
    def post(self, request: Request) -> Response:
        """Sign in with the SMS code; the first sign-in creates the account."""
        data = _valid(s.OtpVerifySerializer, request)
        with signin_attempt(request=request, gated=False):  # counts wrong codes towards the CAPTCHA
            login = phone_login_verify(
                phone=data["phone"], code=data["code"], otp=data.get("otp") or None, request=request
            )
        _fingerprints_record(request, user_id=login.user.pk, phone=login.user.phone)
        return Response(
            {
                "access": login.tokens.access,
                "refresh": login.tokens.refresh,
                "created": login.created,
                "user": s.UserSerializer(login.user).data,
            }
        )


class CaptchaConfigView(PublicView):
    @extend_schema(responses={200: s.CaptchaConfigSerializer}, tags=["auth"])
    def get(self, request: Request) -> Response:
        """Which CAPTCHA widget to show (provider and site key) and whether this client needs it for sign-in
        now. Sign-up always needs it while CAPTCHA is on."""
        return Response(s.CaptchaConfigSerializer(captcha_client_config(request=request)).data)


class MeView(AccountsAPIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: s.UserSerializer}, tags=["me"])
    def get(self, request: Request) -> Response:
        return Response(s.UserSerializer(signed_in(request)).data)

    @extend_schema(request=s.MeUpdateSerializer, responses={200: s.UserSerializer}, tags=["me"])
    def patch(self, request: Request) -> Response:
        """Change name and email (the email of an account with a password needs ``current_password``)."""
        data = _valid(s.MeUpdateSerializer, request)
        user = user_update_profile(
            user=signed_in(request),
            full_name=data.get("full_name"),
            email=data.get("email"),
            current_password=data.get("current_password"),
        )
        return Response(s.UserSerializer(user).data)


class MePhoneView(AccountsAPIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [*DEFAULT_THROTTLES, OtpIpThrottle, OtpPhoneThrottle]

    @extend_schema(request=s.OtpRequestSerializer, responses={202: s.OtpRequestedSerializer}, tags=["me"])
    def post(self, request: Request) -> Response:
        """Send a code to a phone number to verify it as yours."""
        data = _valid(s.OtpRequestSerializer, request)
        phone_verification_request(user=signed_in(request), phone=data["phone"])
        return Response({"detail": OTP_SENT_DETAIL}, status=status.HTTP_202_ACCEPTED)


class MePhoneVerifyView(AccountsAPIView):
    permission_classes = [IsAuthenticated]
    error_responses = {409: "phone_in_use: the number belongs to another account (said only after the right code)."}
    throttle_classes = [*DEFAULT_THROTTLES, OtpIpThrottle]

    @extend_schema(request=s.PhoneVerifySerializer, responses={200: s.UserSerializer}, tags=["me"])
    def post(self, request: Request) -> Response:
        """Give back the code: the phone becomes your verified phone."""
        data = _valid(s.PhoneVerifySerializer, request)
        user = phone_verification_confirm(user=signed_in(request), phone=data["phone"], code=data["code"])
        return Response(s.UserSerializer(user).data)


class TwoFactorStatusView(AccountsAPIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: s.TwoFactorStatusSerializer}, tags=["2fa"])
    def get(self, request: Request) -> Response:
        return Response(s.TwoFactorStatusSerializer(two_factor_status(user=signed_in(request))).data)


class TotpView(AccountsAPIView):
    permission_classes = [IsAuthenticated]
    error_responses = {
        "post": {409: "totp_already_enabled"},
        "delete": {409: "two_factor_not_enabled: TOTP is not set up."},
    }

    @extend_schema(request=None, responses={201: s.TotpSetupSerializer}, tags=["2fa"])
    def post(self, request: Request) -> Response:
        """Start TOTP setup: a secret, its otpauth:// URI and a QR code (SVG data URI). Not active until confirmed."""
        setup = totp_setup_start(user=signed_in(request))
        body = {"secret": setup.secret, "provisioning_uri": setup.provisioning_uri, "qr_code": setup.qr_code}
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.OtpSerializer, responses={204: None}, tags=["2fa"])
    def delete(self, request: Request) -> Response:
        """Turn TOTP off; needs a current code (``otp``)."""
        data = _valid(s.OtpSerializer, request)
        two_factor_remove(user=signed_in(request), method=TOTP, otp=data.get("otp"))
        return Response(status=status.HTTP_204_NO_CONTENT)


class TotpConfirmView(AccountsAPIView):
    permission_classes = [IsAuthenticated]
    error_responses = {409: "totp_setup_not_started or totp_already_enabled"}

    @extend_schema(request=s.CodeSerializer, responses={200: s.BackupCodesSerializer}, tags=["2fa"])
    def post(self, request: Request) -> Response:
        """Confirm TOTP with a code from the app; returns the one-time backup codes."""
        data = _valid(s.CodeSerializer, request)
        activation = totp_setup_confirm(user=signed_in(request), code=data["code"])
        return Response({"backup_codes": activation.backup_codes})


class SmsFactorView(AccountsAPIView):
    permission_classes = [IsAuthenticated]
    error_responses = {
        "post": {409: "phone_not_verified or sms_already_enabled"},
        "delete": {409: "two_factor_not_enabled: SMS is not set up."},
    }

    @extend_schema(request=None, responses={201: s.BackupCodesSerializer}, tags=["2fa"])
    def post(self, request: Request) -> Response:
        """Use your verified phone as second factor; returns the one-time backup codes."""
        activation = sms_device_enroll(user=signed_in(request))
        return Response({"backup_codes": activation.backup_codes}, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.OtpSerializer, responses={204: None}, tags=["2fa"])
    def delete(self, request: Request) -> Response:
        """Turn SMS second factor off; needs a current code (``otp``)."""
        data = _valid(s.OtpSerializer, request)
        two_factor_remove(user=signed_in(request), method=SMS, otp=data.get("otp"))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SmsChallengeView(AccountsAPIView):
    permission_classes = [IsAuthenticated]
    error_responses = {409: "two_factor_not_enabled: SMS codes are not set up."}

    @extend_schema(request=None, responses={202: s.OtpRequestedSerializer}, tags=["2fa"])
    def post(self, request: Request) -> Response:
        """Send a code to your SMS second factor, to use as ``otp`` (for example to turn it off)."""
        device = sms_device_for(signed_in(request))
        if device is None:
            raise Conflict("SMS codes are not set up.", code="two_factor_not_enabled")
        sms_rate_check(request)(device.phone)
        two_factor_sms_challenge(user=signed_in(request))
        return Response({"detail": OTP_SENT_DETAIL}, status=status.HTTP_202_ACCEPTED)


class BackupCodesView(AccountsAPIView):
    permission_classes = [IsAuthenticated]
    error_responses = {409: "two_factor_not_enabled"}

    @extend_schema(request=s.OtpSerializer, responses={200: s.BackupCodesSerializer}, tags=["2fa"])
    def post(self, request: Request) -> Response:
        """Replace your backup codes; needs a current code (``otp``)."""
        data = _valid(s.OtpSerializer, request)
        return Response({"backup_codes": backup_codes_regenerate(user=signed_in(request), otp=data.get("otp"))})


class SessionListView(AccountsAPIView, ListAPIView):
    """Your signed-in devices: live refresh tokens, newest first."""

    permission_classes = [IsAuthenticated]
    serializer_class = s.SessionSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return OutstandingToken.objects.none()
        return user_sessions(user=signed_in(self.request))

    @extend_schema(tags=["me"])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class SessionDetailView(AccountsAPIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None}, tags=["me"])
    def delete(self, request: Request, session_id: int) -> Response:
        """Sign that device out (revoke its refresh token). Another user's session is a 404."""
        session_revoke(user=signed_in(request), session_id=session_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _fingerprints_record(
    request: Request, *, user_id: int | None = None, phone: str | None = None, access_token: str = ""
) -> None:
    """Record the IP, the ``X-Device-Id`` header and the phone the account signed in or up with (for fraud
    checks; :mod:`accounts.services.fingerprints`). After a password sign-in the account is the one the new
    ``access_token`` names. Never fails the request: the sign-in already succeeded, so an error is only logged."""
    try:
        if user_id is None:
            user_id = int(AccessToken(access_token)[jwt_settings.USER_ID_CLAIM])  # type: ignore[arg-type]  # the encoded token
            phone = User.objects.filter(pk=user_id).values_list("phone", flat=True).first()
        account_fingerprint_record(
            user_id=user_id, ip=client_ip(request), device_id=request.headers.get(DEVICE_ID_HEADER), phone=phone
        )
    except Exception:
        logger.exception("Recording the fingerprints of a sign-in failed; the sign-in goes on.")


def _valid(serializer_class: type, request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
