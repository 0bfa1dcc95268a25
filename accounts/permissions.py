"""The one place permission questions are answered, for the API and the admin alike.

* :func:`has_role` — is the user in the role's group (see :mod:`accounts.roles`)? Superusers hold every role.
* :func:`can` — does the user hold the model permission ``"app_label.codename"`` (through a role, a direct
  grant, or superuser status)? Inactive users can do nothing.
* :func:`owned_by` / :func:`get_owned_or_404` — API objects are scoped to their owner; another user's object
  is a 404, never a 403, so ids reveal nothing.
* DRF permission classes built from the same functions: :func:`HasRole` and :func:`Can` return a class,
  e.g. ``permission_classes = [IsAuthenticated, Can("orders.view_order")]``.
* :class:`PermissionCheckedAdmin` — a ModelAdmin mixin whose view/add/change/delete checks go through :func:`can`.
"""

from typing import Any, TypeVar

from django.db import models
from django.http import Http404
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import BasePermission

from accounts.models import User
from accounts.roles import ALL_ROLES

M = TypeVar("M", bound=models.Model)


def signed_in(request: Any) -> User:
    """The request's user on endpoints behind ``IsAuthenticated``: never anonymous there (401 if it were)."""
    user = request.user
    if not isinstance(user, User):
        raise NotAuthenticated()
    return user


def has_role(user: Any, role: str) -> bool:
    if role not in ALL_ROLES:
        raise ValueError(f"Unknown role {role!r}; roles are {', '.join(ALL_ROLES)}.")
    if not (user and user.is_authenticated and user.is_active):
        return False
    if user.is_superuser:
        return True
    return user.groups.filter(name=role).exists()


def can(user: Any, permission: str, obj: Any = None) -> bool:
    if "." not in permission:
        raise ValueError(f"Permissions are written 'app_label.codename', not {permission!r}.")
    if not (user and user.is_authenticated and user.is_active):
        return False
    return user.has_perm(permission, obj)


def owned_by(queryset: models.QuerySet[M], user: Any, *, owner_field: str = "user") -> models.QuerySet[M]:
    """Only the objects ``user`` owns (none for an anonymous user)."""
    if not (user and user.is_authenticated):
        return queryset.none()
    return queryset.filter(**{owner_field: user})


def get_owned_or_404(queryset: models.QuerySet[M], user: Any, *, owner_field: str = "user", **lookup: Any) -> M:
    """The object matching ``lookup`` among those ``user`` owns; 404 if missing *or someone else's*."""
    obj = owned_by(queryset, user, owner_field=owner_field).filter(**lookup).first()
    if obj is None:
        raise Http404("Not found.")
    return obj


def HasRole(*roles: str) -> type[BasePermission]:
    """A DRF permission class admitting users who hold any of ``roles``."""

    class _HasRole(BasePermission):
        def has_permission(self, request: Any, view: Any) -> bool:
            return any(has_role(request.user, role) for role in roles)

    _HasRole.__name__ = f"HasRole({', '.join(roles)})"
    return _HasRole


def Can(*permissions: str) -> type[BasePermission]:
    """A DRF permission class admitting users who hold all of ``permissions``."""

    class _Can(BasePermission):
        def has_permission(self, request: Any, view: Any) -> bool:
            return all(can(request.user, permission) for permission in permissions)

    _Can.__name__ = f"Can({', '.join(permissions)})"
    return _Can


class PermissionCheckedAdmin:
    """ModelAdmin mixin: the admin asks :func:`can` for the model's standard permissions."""

    def _can(self, request: Any, action: str) -> bool:
        opts = self.model._meta  # type: ignore[attr-defined]
        return can(request.user, f"{opts.app_label}.{action}_{opts.model_name}")

    def has_view_permission(self, request: Any, obj: Any = None) -> bool:
        return self._can(request, "view") or self._can(request, "change")

    def has_add_permission(self, request: Any, *args: Any) -> bool:
        return self._can(request, "add")

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return self._can(request, "change")

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return self._can(request, "delete")

    def has_module_permission(self, request: Any) -> bool:
        return any(self._can(request, action) for action in ("view", "add", "change", "delete"))
