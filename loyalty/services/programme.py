"""The programme's settings row (:class:`~loyalty.models.Programme`): created from the ``LOYALTY_*`` settings the
first time it is read, then edited in the admin ("Programme settings")."""

from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction

from ..models import Programme


def programme_defaults() -> dict[str, object]:
    return {
        "point_value": Decimal(str(settings.LOYALTY_POINT_VALUE)),
        "max_redeem_percent": Decimal(str(settings.LOYALTY_MAX_REDEEM_PERCENT)),
        "expiry_months": settings.LOYALTY_EXPIRY_MONTHS,
        "expiry_reminder_days": settings.LOYALTY_EXPIRY_REMINDER_DAYS,
        "referral_referrer_points": settings.LOYALTY_REFERRAL_REFERRER_POINTS,
        "referral_referee_points": settings.LOYALTY_REFERRAL_REFEREE_POINTS,
        "tier_window_months": settings.LOYALTY_TIER_WINDOW_MONTHS,
        "tier_downgrade_grace_days": settings.LOYALTY_TIER_DOWNGRADE_GRACE_DAYS,
        "leaderboard_size": settings.LOYALTY_LEADERBOARD_SIZE,
    }


def programme_get() -> Programme:
    """The programme's settings (one row, ``pk=1``), created with the defaults on first use (a race to create
    joins the winner). One query."""
    programme = Programme.objects.filter(pk=1).first()
    if programme is not None:
        return programme
    try:
        with transaction.atomic():
            return Programme.objects.create(pk=1, **programme_defaults())
    except IntegrityError:
        return Programme.objects.get(pk=1)
