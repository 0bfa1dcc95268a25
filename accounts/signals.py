"""Signal receivers that write the audit log (connected in :meth:`accounts.apps.AccountsConfig.ready`).

* (not audit) keeping the OTP verification of a test client's ``force_login`` (see :func:`persist_verified_device`);
* staff sign-ins through Django's ``login()`` (the admin) and failed sign-ins to staff accounts or the admin;
* role changes: a user's groups, a user's direct permissions, a role's (group's) permissions — from either
  side of the relation (``user.groups.add(g)`` and ``group.user_set.add(u)`` alike);
* removal of a confirmed TOTP or SMS device, however it happens (API, admin, cascade).

Who acted and from where comes from :func:`accounts.services.audit.audit_context`, which the admin and the API
set for each request.
"""

from typing import Any

from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db import models
from django.db.models.signals import m2m_changed, post_delete
from django.urls import NoReverseMatch, reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import SmsDevice, User, UserManager
from accounts.services.audit import audit_record


def _is_admin_request(request: Any) -> bool:
    try:
        prefix = reverse("admin:index")
    except NoReverseMatch:
        return False
    return bool(request is not None and getattr(request, "path", "").startswith(prefix))


def staff_logged_in(sender: Any, request: Any, user: User, **kwargs: Any) -> None:
    if not user.is_staff:
        return
    audit_record(
        action="staff.login",
        target=user,
        actor=user,
        request=request,
        after={"channel": "admin", "otp_verified": getattr(user, "otp_device", None) is not None},
    )


def persist_verified_device(sender: Any, request: Any, user: User, **kwargs: Any) -> None:
    """Keep the OTP verification of a ``login()`` whose request has no ``user`` yet (``Client.force_login``):
    django-otp's own receiver only handles requests that went through ``AuthenticationMiddleware``. The device
    must be the user's and confirmed; ``user.otp_device`` is only ever set by code that verified it."""
    device = getattr(user, "otp_device", None)
    session = getattr(request, "session", None)
    if device is None or session is None or hasattr(request, "user"):
        return
    if device.user_id == user.pk and device.confirmed:
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id


def staff_login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    """A failed password sign-in to a staff account (any channel), or any failed sign-in to the admin."""
    email = UserManager.normalize_email(credentials.get("email") or credentials.get("username"))
    staff = User.objects.filter(email=email, is_staff=True).first() if email else None
    admin = _is_admin_request(request)
    if staff is None and not admin:
        return
    locked = bool(getattr(request, "axes_locked_out", False))
    audit_record(
        action="staff.login_failed",
        target=staff,
        actor=None,
        actor_label=email,
        request=request if request is not None and getattr(request, "META", None) is not None else None,
        after={"channel": "admin" if admin else "api", "reason": "locked_out" if locked else "bad_credentials"},
    )


# --- Role changes ---------------------------------------------------------------------------------------


def _group_names(user: User) -> list[str]:
    return sorted(user.groups.values_list("name", flat=True))


def _permission_names(queryset: Any) -> list[str]:
    return sorted(f"{app}.{codename}" for app, codename in queryset.values_list("content_type__app_label", "codename"))


# through model -> (action, owner model, owner's m2m field name, describe(owner))
_TRACKED: dict[type, tuple[str, type[models.Model], str, Any]] = {
    User.groups.through: ("user.groups_changed", User, "groups", _group_names),
    User.user_permissions.through: (
        "user.permissions_changed",
        User,
        "user_permissions",
        lambda user: _permission_names(user.user_permissions.all()),
    ),
    Group.permissions.through: (
        "group.permissions_changed",
        Group,
        "permissions",
        lambda group: _permission_names(group.permissions.all()),
    ),
}


def role_m2m_changed(
    sender: type, instance: Any, action: str, reverse: bool, pk_set: set[int] | None, **kwargs: Any
) -> None:
    tracked = _TRACKED.get(sender)
    if tracked is None:
        return
    audit_action, owner_model, field, describe = tracked
    stage, _, kind = action.partition("_")
    stash = instance.__dict__.setdefault("_audit_m2m_before", {})
    key = (sender, kind)
    if stage == "pre":
        if not reverse:
            owners = [instance]
        elif pk_set is None:  # clear() from the other side: every owner linked now
            owners = list(owner_model._default_manager.filter(**{field: instance}))
        else:
            owners = list(owner_model._default_manager.filter(pk__in=pk_set))
        stash[key] = [(owner, describe(owner)) for owner in owners]
        return
    for owner, before in stash.pop(key, []):
        after = describe(owner)
        if after != before:
            audit_record(action=audit_action, target=owner, before={field: before}, after={field: after})


# --- 2FA removal ----------------------------------------------------------------------------------------


def second_factor_removed(sender: type, instance: Any, **kwargs: Any) -> None:
    if not instance.confirmed:
        return  # an abandoned setup, not a second factor
    audit_record(
        action="2fa.device_removed",
        target_type=User._meta.label_lower,
        target_id=instance.user_id,
        before={"device": instance.persistent_id, "type": instance._meta.label_lower, "name": instance.name},
    )


def connect() -> None:
    user_logged_in.connect(persist_verified_device, dispatch_uid="accounts.otp.persist_verified_device")
    user_logged_in.connect(staff_logged_in, dispatch_uid="accounts.audit.staff_logged_in")
    user_login_failed.connect(staff_login_failed, dispatch_uid="accounts.audit.staff_login_failed")
    for through in _TRACKED:
        m2m_changed.connect(role_m2m_changed, sender=through, dispatch_uid=f"accounts.audit.m2m.{through.__name__}")
    for model in (TOTPDevice, SmsDevice):
        post_delete.connect(
            second_factor_removed, sender=model, dispatch_uid=f"accounts.audit.removed.{model.__name__}"
        )
