"""A merchant's cashback terms and the secret its conversion reports are signed with.

:func:`merchant_cashback_terms_get` returns the terms row, creating an empty one (no cap, not flagged, no secret)
the first time. :func:`merchant_conversion_secret_rotate` issues a new secret and returns it: it is shown once,
in the back office, and never again (the admin displays only when it was rotated). The secret it replaces stays
valid for ``CASHBACK_SECRET_GRACE_HOURS`` so the merchant's network can switch over without losing reports; a
second rotation within the grace period ends the first grace at once (only one previous secret is kept).
"""

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from accounts.services.audit import audit_record

from ..models import MerchantCashback

SECRET_BYTES = 32
DEFAULT_GRACE_HOURS = 24


def merchant_cashback_terms_get(*, merchant_id: int) -> MerchantCashback:
    """The merchant's cashback terms, created empty on first use (safe when two callers race to create it)."""
    terms = MerchantCashback.objects.filter(merchant_id=merchant_id).first()
    if terms is not None:
        return terms
    try:
        with transaction.atomic():
            return MerchantCashback.objects.create(merchant_id=merchant_id)
    except IntegrityError:  # created meanwhile by a concurrent caller
        return MerchantCashback.objects.get(merchant_id=merchant_id)


def grace_period() -> timedelta:
    return timedelta(hours=getattr(settings, "CASHBACK_SECRET_GRACE_HOURS", DEFAULT_GRACE_HOURS))


def merchant_conversion_secret_rotate(*, merchant_id: int, actor: User, now: datetime | None = None) -> str:
    """Issue a new conversion secret for the merchant and return it (show it once; it is not shown again).

    The current secret, if any, becomes the previous one, accepted until now + ``CASHBACK_SECRET_GRACE_HOURS``.
    Audited as ``conversion.secret_rotated`` with the grace period's end; neither secret is ever written to the
    audit log.
    """
    now = now or timezone.now()
    merchant_cashback_terms_get(merchant_id=merchant_id)
    new_secret = secrets.token_urlsafe(SECRET_BYTES)
    with transaction.atomic():
        terms = MerchantCashback.objects.select_for_update().get(merchant_id=merchant_id)
        had_secret = bool(terms.conversion_secret)
        terms.previous_secret = terms.conversion_secret
        terms.previous_secret_expires_at = now + grace_period() if had_secret else None
        terms.conversion_secret = new_secret
        terms.secret_rotated_at = now
        terms.save(
            update_fields=[
                "conversion_secret",
                "previous_secret",
                "previous_secret_expires_at",
                "secret_rotated_at",
                "updated_at",
            ]
        )
        expires = terms.previous_secret_expires_at
        audit_record(
            action="conversion.secret_rotated",
            target=terms,
            actor=actor,
            after={
                "merchant_id": merchant_id,
                "first_secret": not had_secret,
                "previous_valid_until": expires.isoformat() if expires else None,
            },
        )
    return new_secret
