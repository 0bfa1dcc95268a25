"""The OTP-protected admin site and its sign-in.

* Sign-in form: email, password and the code from the authenticator app (or a backup code). The password is
  checked through ``authenticate(request, ...)`` so django-axes counts failures and locks out.
* Only staff *verified by TOTP* may use the admin (``OTPAdminSite.has_permission``).
* A staff member whose only second factor is SMS must pass it first (an empty code sends one).
* A staff member without an authenticator app signs in with the password (and SMS code) and is sent to
  ``admin/otp/setup/``: it shows the QR code and secret, takes a code from the app, confirms the device,
  verifies the session and shows the backup codes once.
* The site is also unfold's (:class:`~unfold.sites.UnfoldAdminSite`): the theme, the grouped sidebar
  (``settings.UNFOLD``, :mod:`commerce.core.admin_navigation`) and the branded header. Every admin response
  carries the admin's Content-Security-Policy (:mod:`accounts.admin_csp`).
* Every admin request runs inside :func:`~accounts.services.audit.audit_context`, so audit rows written by
  admin actions (role changes, device removal, money actions later) name the staff member, IP and user agent.
"""

from functools import update_wrapper
from typing import Any

from django import forms
from django.contrib.auth import authenticate
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django_otp import login as otp_login
from django_otp.admin import OTPAdminSite
from unfold.forms import AuthenticationForm as UnfoldAuthenticationForm
from unfold.sites import UnfoldAdminSite
from unfold.widgets import BASE_INPUT_CLASSES

from commerce.core.client_ip import client_ip
from commerce.core.errors import Conflict, InvalidInput
from commerce.core.redis_guard import RedisUnavailable

from .admin_csp import with_admin_policy
from .api.throttles import OtpIpThrottle, OtpPhoneThrottle
from .models import UserManager
from .services.audit import audit_context, audit_record
from .services.two_factor import (
    BACKUP,
    SMS,
    TOTP,
    has_confirmed_totp,
    sms_device_for,
    totp_setup_confirm,
    totp_setup_details,
    totp_setup_start,
    two_factor_enabled,
    two_factor_sms_challenge,
    two_factor_verify,
)


class AdminLoginForm(UnfoldAuthenticationForm):
    """Django's admin sign-in form (via unfold's, which styles its inputs) plus the authenticator code."""

    otp_token = forms.CharField(
        label="Authenticator code",
        required=False,
        max_length=32,
        help_text="The 6-digit code from your authenticator app, or a backup code. "
        "Leave empty if you have not set up an app yet.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "class": " ".join(BASE_INPUT_CLASSES)}
        ),
    )

    error_messages = {
        **UnfoldAuthenticationForm.error_messages,
        "otp_required": "Enter the code from your authenticator app.",
        "otp_invalid": "The authenticator code is wrong or was already used.",
        "sms_sent": "We sent a code by SMS. Enter it as the code to continue, then set up an authenticator app.",
    }

    def clean(self) -> dict[str, Any]:
        email = UserManager.normalize_email(self.cleaned_data.get("username"))
        password = self.cleaned_data.get("password")
        if not (email and password):
            return self.cleaned_data
        user = authenticate(self.request, email=email, password=password)
        if user is None:
            raise self.get_invalid_login_error()
        self.confirm_login_allowed(user)
        if has_confirmed_totp(user):
            token = self.cleaned_data.get("otp_token")
            if not token:
                raise forms.ValidationError(self.error_messages["otp_required"], code="otp_required")
            device = two_factor_verify(user=user, otp=token, methods=(TOTP, BACKUP))
            if device is None:
                audit_record(
                    action="staff.login_failed",
                    target=user,
                    actor_label=email,
                    request=self.request,
                    after={"channel": "admin", "reason": "otp_invalid"},
                )
                raise forms.ValidationError(self.error_messages["otp_invalid"], code="otp_invalid")
            # django-otp's user_logged_in receiver stores this device in the session (the session is verified).
            user.otp_device = device  # type: ignore[attr-defined]  # django-otp reads it on login
        elif two_factor_enabled(user):
            # SMS is their only factor: it must be passed before they may set up the app the admin requires
            # (the session stays unverified, so the setup page follows).
            self._check_sms_factor(user, email)
        self.user_cache = user
        return self.cleaned_data

    def _check_sms_factor(self, user: Any, email: str) -> None:
        token = self.cleaned_data.get("otp_token")
        if not token:
            device = sms_device_for(user)
            if device is None:  # two_factor_enabled() said SMS is set up; it was removed meanwhile
                raise forms.ValidationError(self.error_messages["otp_invalid"], code="otp_invalid")
            ip = client_ip(self.request)
            for throttle, ident in (
                (OtpPhoneThrottle(), OtpPhoneThrottle.ident_for_phone(device.phone)),
                (OtpIpThrottle(), ip),
            ):
                try:
                    allowed = throttle.allow_ident(ident)
                except RedisUnavailable:  # the SMS throttles fail closed: no code goes out unthrottled
                    raise forms.ValidationError(
                        "SMS codes cannot be sent right now. Try again in a minute, or use a backup code.",
                        code="service_unavailable",
                    ) from None
                if not allowed:
                    raise forms.ValidationError(
                        f"Too many codes requested. Try again in {int(throttle.wait() or 1)} seconds.", code="throttled"
                    )
            two_factor_sms_challenge(user=user)
            raise forms.ValidationError(self.error_messages["sms_sent"], code="otp_required")
        if two_factor_verify(user=user, otp=token, methods=(SMS, BACKUP)) is None:
            audit_record(
                action="staff.login_failed",
                target=user,
                actor_label=email,
                request=self.request,
                after={"channel": "admin", "reason": "otp_invalid"},
            )
            raise forms.ValidationError(self.error_messages["otp_invalid"], code="otp_invalid")


def needs_totp_setup(request: HttpRequest) -> bool:
    """Signed in as active staff, not OTP-verified, and no authenticator app yet."""
    user = request.user
    return bool(
        user.is_authenticated
        and user.is_active
        and user.is_staff
        and not user.is_verified()  # type: ignore[attr-defined]  # added by django-otp's OTPMiddleware
        and not has_confirmed_totp(user)
    )


class AccountsAdminSite(OTPAdminSite, UnfoldAdminSite):
    """The one admin site: OTP-protected (``OTPAdminSite.has_permission``) and themed by unfold.

    ``UnfoldAdminSite`` comes after ``OTPAdminSite`` so the OTP permission check wins, while unfold's
    ``each_context`` (sidebar, branding, colours from ``settings.UNFOLD``) and its extra URLs apply.
    """

    login_form = AdminLoginForm
    login_template = "admin/accounts/login.html"

    def admin_view(self, view: Any, cacheable: bool = False) -> Any:
        if view == self.logout:
            # Signing out must work before 2FA is set up, too.
            logout = csrf_protect(never_cache(view))
            return update_wrapper(lambda *args, **kwargs: with_admin_policy(logout(*args, **kwargs)), view)
        inner = super().admin_view(view, cacheable)

        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if needs_totp_setup(request):
                return HttpResponseRedirect(reverse("admin:otp_setup", current_app=self.name))
            with audit_context(request=request):
                return with_admin_policy(inner(request, *args, **kwargs))

        return update_wrapper(wrapper, view)

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if request.method == "GET" and needs_totp_setup(request):
            return HttpResponseRedirect(reverse("admin:otp_setup", current_app=self.name))
        with audit_context(request=request):
            return with_admin_policy(super().login(request, extra_context))

    def get_urls(self) -> list[Any]:
        return [
            path("otp/setup/", csrf_protect(never_cache(self._otp_setup_view)), name="otp_setup"),
            *super().get_urls(),
        ]

    def _otp_setup_view(self, request: HttpRequest) -> HttpResponse:
        return with_admin_policy(self.otp_setup(request))

    def otp_setup(self, request: HttpRequest) -> HttpResponse:
        """Set up the authenticator app of a signed-in staff member who has none."""
        user = request.user
        if not (user.is_authenticated and user.is_active and user.is_staff):
            return HttpResponseRedirect(reverse("admin:login", current_app=self.name))
        if user.is_verified():  # type: ignore[attr-defined]  # added by django-otp's OTPMiddleware
            return HttpResponseRedirect(reverse("admin:index", current_app=self.name))
        if has_confirmed_totp(user):
            # Set up already (elsewhere): sign in again with the code.
            return HttpResponseRedirect(reverse("admin:login", current_app=self.name))
        context = {**self.each_context(request), "title": "Set up two-factor authentication", "error": None}
        with audit_context(request=request):
            if request.method == "POST":
                try:
                    activation = totp_setup_confirm(user=user, code=request.POST.get("otp_token", ""))
                except InvalidInput as exc:
                    context["error"] = exc.detail
                except Conflict:
                    return HttpResponseRedirect(reverse("admin:otp_setup", current_app=self.name))
                else:
                    otp_login(request, activation.device)
                    context.update(title="Two-factor authentication is on", backup_codes=activation.backup_codes)
                    return TemplateResponse(request, "admin/accounts/otp_setup_done.html", context)
                setup = totp_setup_details(_pending_device(user))
            else:
                setup = totp_setup_start(user=user, restart=False)
        context["setup"] = setup
        return TemplateResponse(request, "admin/accounts/otp_setup.html", context)


def _pending_device(user: Any) -> Any:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
