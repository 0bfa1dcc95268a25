"""The admins that libraries register (auth groups, django-otp devices, JWT tokens, django-axes) in the theme.

Each library's ModelAdmin is kept as it is (list columns, filters, read-only-ness, permissions, django-otp's
``OTP_ADMIN_HIDE_SENSITIVE_DATA`` handling) and only gets unfold's ``ModelAdmin``/``TabularInline`` as a
further base, so its screens look like the rest of the back office. A model is re-registered only if the
library registered it (django-axes does so only while ``AXES_ENABLE_ADMIN`` is on).

Imported by :mod:`accounts.admin`; ``accounts`` comes after these libraries in ``INSTALLED_APPS``, so their
admin modules have registered by then.
"""

from typing import Any

from axes.admin import AccessAttemptAdmin as BaseAccessAttemptAdmin
from axes.admin import AccessFailureLogAdmin as BaseAccessFailureLogAdmin
from axes.admin import AccessLogAdmin as BaseAccessLogAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.models import Group
from django.db import models
from django.http import HttpRequest
from django_otp.plugins.otp_static.admin import StaticDeviceAdmin as BaseStaticDeviceAdmin
from django_otp.plugins.otp_static.admin import StaticTokenInline as BaseStaticTokenInline
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin as BaseTOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework_simplejwt.token_blacklist.admin import BlacklistedTokenAdmin as BaseBlacklistedTokenAdmin
from rest_framework_simplejwt.token_blacklist.admin import OutstandingTokenAdmin as BaseOutstandingTokenAdmin
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from unfold.admin import ModelAdmin, TabularInline

from commerce.core.admin_records import ReadOnlyAdminMixin


class GroupAdmin(BaseGroupAdmin, ModelAdmin):
    """Roles are groups (:mod:`accounts.roles`)."""


class TOTPDeviceAdmin(BaseTOTPDeviceAdmin, ModelAdmin):
    pass


class StaticTokenInline(BaseStaticTokenInline, TabularInline):
    pass


class StaticDeviceAdmin(BaseStaticDeviceAdmin, ModelAdmin):
    inlines = [StaticTokenInline]


class ReadOnlyRecordMixin(ReadOnlyAdminMixin):
    """Records the libraries write: shown, never added, edited or deleted here (no Save buttons, no actions).

    Deleting a revoked token would make it valid again, and sign-in logs are evidence; a session is revoked by
    its owner (``DELETE me/sessions/{id}``) through the token service. Listed first, so it wins over the
    library's own permission methods."""

    actions: Any = None


class OutstandingTokenAdmin(ReadOnlyRecordMixin, BaseOutstandingTokenAdmin, ModelAdmin):
    pass


class BlacklistedTokenAdmin(ReadOnlyRecordMixin, BaseBlacklistedTokenAdmin, ModelAdmin):
    pass


class AccessAttemptAdmin(BaseAccessAttemptAdmin, ModelAdmin):
    """Failed-attempt counters: deleting one unlocks the account or address (the admin role's job), so delete
    stays; adding or editing a counter by hand does not."""

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AccessLogAdmin(ReadOnlyRecordMixin, BaseAccessLogAdmin, ModelAdmin):
    pass


class AccessFailureLogAdmin(ReadOnlyRecordMixin, BaseAccessFailureLogAdmin, ModelAdmin):
    pass


THEMED_ADMINS: dict[type[models.Model], type[ModelAdmin]] = {
    Group: GroupAdmin,
    TOTPDevice: TOTPDeviceAdmin,
    StaticDevice: StaticDeviceAdmin,
    OutstandingToken: OutstandingTokenAdmin,
    BlacklistedToken: BlacklistedTokenAdmin,
    AccessAttempt: AccessAttemptAdmin,
    AccessLog: AccessLogAdmin,
    AccessFailureLog: AccessFailureLogAdmin,
}


def reregister_themed(site: admin.AdminSite = admin.site) -> None:
    """Swap each library admin registered on ``site`` for its themed subclass (idempotent)."""
    for model, themed in THEMED_ADMINS.items():
        if site.is_registered(model) and not isinstance(site._registry[model], themed):
            site.unregister(model)
            site.register(model, themed)


reregister_themed()
