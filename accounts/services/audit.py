"""The one way to write the audit log.

Call :func:`audit_record` with what happened. Who did it and from where comes from the arguments, or else
from the surrounding :func:`audit_context` (the admin and the API set it for the duration of a request), so
signal receivers deep inside a save (group changes, device removal) still know the actor, IP and user agent.

Actions recorded by this app (later apps add their money-moving actions):

==============================  =====================================================================
``staff.login``                  a staff member signed in (admin or API); ``after.channel``
``staff.login_failed``           a failed sign-in to a staff account or to the admin; ``after.reason``
``user.groups_changed``          roles (groups) of a user changed; ``before/after.groups``
``user.permissions_changed``     direct permissions of a user changed
``user.flags_changed``           ``is_staff``/``is_superuser``/``is_active`` changed in the admin
``group.permissions_changed``    the permissions of a role changed
``2fa.totp_enabled``             a TOTP device was confirmed
``2fa.sms_enabled``              a verified phone was enrolled as SMS second factor
``2fa.backup_codes_generated``   a new set of backup codes was issued
``2fa.device_removed``           a TOTP/SMS/backup device was deleted (by its owner, an admin, or cascade)
==============================  =====================================================================
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any

from django.db import models
from django.http import HttpRequest

from accounts.models import AuditEntry, User
from commerce.core.client_ip import client_ip_or_none


@dataclass(frozen=True)
class AuditContext:
    actor: User | None = None
    ip_address: str | None = None
    user_agent: str = ""


_context: ContextVar[AuditContext | None] = ContextVar("audit_context", default=None)


def context_from_request(request: HttpRequest | Any, *, actor: User | None = None) -> AuditContext:
    if actor is None:
        user = getattr(request, "user", None)
        actor = user if getattr(user, "is_authenticated", False) else None
    meta = getattr(request, "META", None)
    if meta is None:  # not an HTTP request (a task, the shell): no address to record
        return AuditContext(actor=actor)
    # The address the throttles and django-axes see; None (not "unknown") for the GenericIPAddressField.
    return AuditContext(
        actor=actor, ip_address=client_ip_or_none(request), user_agent=meta.get("HTTP_USER_AGENT", "")[:512]
    )


@contextmanager
def audit_context(*, request: HttpRequest | Any = None, actor: User | None = None) -> Iterator[AuditContext]:
    """Make ``actor`` (default: the request's user) and the request's IP/user agent the defaults for every
    :func:`audit_record` inside the block."""
    ctx = context_from_request(request, actor=actor) if request is not None else AuditContext(actor=actor)
    token = _context.set(ctx)
    try:
        yield ctx
    finally:
        _context.reset(token)


def current_audit_context() -> AuditContext:
    return _context.get() or AuditContext()


@contextmanager
def acting_as(actor: User) -> Iterator[None]:
    """Default the actor to ``actor`` inside the block, unless the surrounding context already names one (an
    admin removing someone's device stays the actor); IP and user agent are kept."""
    current = current_audit_context()
    if current.actor is not None:
        yield
        return
    token = _context.set(replace(current, actor=actor))
    try:
        yield
    finally:
        _context.reset(token)


def _label(obj: Any) -> str:
    return str(obj)[:254] if obj is not None else ""


def audit_record(
    *,
    action: str,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str | int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    actor: User | None = None,
    actor_label: str | None = None,
    request: HttpRequest | Any = None,
) -> AuditEntry:
    """Append one row to the audit log and return it.

    ``target`` may be a model instance, or be given as ``target_type`` (``"app_label.model"``) and ``target_id``.
    The actor, IP and user agent come from ``actor``/``request`` when given, else from :func:`audit_context`.
    """
    ctx = context_from_request(request, actor=actor) if request is not None else current_audit_context()
    if actor is None:
        actor = ctx.actor
    if target is not None:
        target_type = target._meta.label_lower
        target_id = target.pk
    if actor_label is None:
        actor_label = _label(actor)
    return AuditEntry.objects.create(
        actor=actor,
        actor_label=actor_label[:254],
        action=action,
        target_type=target_type,
        target_id="" if target_id is None else str(target_id),
        target_label=_label(target),
        before=before or {},
        after=after or {},
        ip_address=ctx.ip_address,
        user_agent=ctx.user_agent,
    )
