"""Reads of the accounts app that are more than a one-line queryset."""

from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, QuerySet
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts.models import AccountFingerprint, FingerprintKind, SmsDevice, User
from accounts.roles import ALL_ROLES


@dataclass(frozen=True)
class TwoFactorStatus:
    totp: bool
    sms_phone: str | None
    backup_codes_remaining: int

    @property
    def enabled(self) -> bool:
        return self.totp or self.sms_phone is not None


def two_factor_status(*, user: User) -> TwoFactorStatus:
    """Which second factors ``user`` has (three queries)."""
    sms = SmsDevice.objects.filter(user=user, confirmed=True).values_list("phone", flat=True).first()
    return TwoFactorStatus(
        totp=TOTPDevice.objects.filter(user=user, confirmed=True).exists(),
        sms_phone=sms,
        backup_codes_remaining=StaticToken.objects.filter(device__user=user, device__confirmed=True).count(),
    )


def user_roles(*, user: User) -> list[str]:
    """The staff roles ``user`` holds, in the order of :data:`accounts.roles.ALL_ROLES`."""
    names = set(user.groups.values_list("name", flat=True))
    return [role for role in ALL_ROLES if role in names]


def user_sessions(*, user: User) -> QuerySet[OutstandingToken]:
    """The user's live refresh tokens (signed-in devices): not expired, not revoked, newest first."""
    return (
        OutstandingToken.objects.filter(user=user, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True)
        .order_by("-created_at", "-id")
        .only("id", "jti", "created_at", "expires_at")
    )


def accounts_sharing_fingerprints(*, user_id: int) -> dict[str, int]:
    """For each fingerprint kind (``ip``, ``device``, ``phone``), how many *other* accounts were seen with any of
    the hashes this account was seen with (0 when none). One query, whatever the history: a semi-join on the
    ``(kind, value_hash)`` index."""
    mine = AccountFingerprint.objects.filter(user_id=user_id, kind=OuterRef("kind"), value_hash=OuterRef("value_hash"))
    counts = dict(
        AccountFingerprint.objects.filter(Exists(mine))
        .exclude(user_id=user_id)
        .order_by()
        .values("kind")
        .annotate(accounts=Count("user_id", distinct=True))
        .values_list("kind", "accounts")
    )
    return {str(kind): counts.get(kind, 0) for kind in FingerprintKind.values}
