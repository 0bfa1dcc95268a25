"""Admin for accounts: users (roles shown and audited), SMS devices, and the read-only audit log.

Permission checks go through :mod:`accounts.permissions`. The OTP-protected site itself is in
:mod:`accounts.admin_site`; the libraries' admins (groups, OTP devices, tokens, lockouts) are re-registered in the
theme by :mod:`accounts.third_party_admin`.
"""

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserCreationForm
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest
from django_otp.plugins.otp_totp.models import TOTPDevice
from unfold.admin import ModelAdmin
from unfold.forms import AdminPasswordChangeForm, UserChangeForm
from unfold.widgets import UnfoldAdminPasswordWidget

from . import third_party_admin  # noqa: F401  (re-registers the libraries' admins in the theme)
from .models import AuditEntry, SmsDevice, User
from .permissions import PermissionCheckedAdmin
from .services.audit import audit_record

AUDITED_FLAGS = ("is_active", "is_staff", "is_superuser")


class EmailUserCreationForm(UserCreationForm):
    """Django's plain creation form (a password is always set), with the theme's password inputs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("password1", "password2"):
            self.fields[name].widget = UnfoldAdminPasswordWidget(attrs={"autocomplete": "new-password"})

    class Meta:
        model = User
        fields = ("email", "phone", "full_name")


class EmailUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(PermissionCheckedAdmin, DjangoUserAdmin, ModelAdmin):
    form = EmailUserChangeForm
    add_form = EmailUserCreationForm
    change_password_form = AdminPasswordChangeForm
    ordering = ("email",)
    list_display = (
        "email",
        "full_name",
        "phone",
        "phone_verified",
        "is_staff",
        "has_totp",
        "is_active",
        "date_joined",
    )
    list_filter = ("is_staff", "is_superuser", "is_active", "phone_verified", "groups")
    search_fields = ("email", "full_name", "phone")
    readonly_fields = ("last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("full_name", "phone", "phone_verified")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "phone", "full_name", "password1", "password2")}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: User | None = None) -> tuple[str, ...]:
        """Only superusers grant superuser status or direct permissions (no escalation past one's role)."""
        fields = tuple(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += ("is_superuser", "user_permissions")
        return fields

    def has_change_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False  # a superuser's account is changed by superusers only
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        totp = TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
        return super().get_queryset(request).annotate(_has_totp=Exists(totp))

    @admin.display(boolean=True, description="TOTP", ordering="_has_totp")
    def has_totp(self, obj: User) -> bool:
        return bool(getattr(obj, "_has_totp", False))

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        """Audit changes of the staff flags (group changes are audited by the m2m signal)."""
        before: dict[str, Any] = {}
        if change and obj.pk:
            before = User.objects.filter(pk=obj.pk).values(*AUDITED_FLAGS).first() or {}
        super().save_model(request, obj, form, change)
        after = {flag: getattr(obj, flag) for flag in AUDITED_FLAGS}
        if change and before and before != after:
            changed = [flag for flag in AUDITED_FLAGS if before[flag] != after[flag]]
            audit_record(
                action="user.flags_changed",
                target=obj,
                request=request,
                before={flag: before[flag] for flag in changed},
                after={flag: after[flag] for flag in changed},
            )


@admin.register(SmsDevice)
class SmsDeviceAdmin(PermissionCheckedAdmin, ModelAdmin):
    """Staff may remove a member's SMS second factor (e.g. a lost phone); the removal is audited."""

    list_display = ("user", "name", "phone", "confirmed")
    list_filter = ("confirmed",)
    search_fields = ("user__email", "phone")
    readonly_fields = ("user", "phone", "confirmed")

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False  # enrolment needs a verified phone: users do it themselves (POST me/2fa/sms)


@admin.register(AuditEntry)
class AuditEntryAdmin(PermissionCheckedAdmin, ModelAdmin):
    """Read-only: there is no add, change or delete, and no bulk actions."""

    list_display = ("created_at", "actor_label", "action", "target_type", "target_id", "target_label", "ip_address")
    list_filter = ("action", "target_type", ("created_at", admin.DateFieldListFilter))
    search_fields = ("actor_label", "action", "target_id", "target_label", "ip_address", "user_agent")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    actions = None
    list_select_related = False
    show_full_result_count = False

    def get_readonly_fields(self, request: HttpRequest, obj: AuditEntry | None = None) -> list[str]:
        return [field.name for field in AuditEntry._meta.fields]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False
