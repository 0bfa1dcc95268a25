"""Referrals: a new member who signed up with another member's code; both earn points once the new member's
first order is paid, delivered and past its return window.

* :func:`referral_register` (from the ``user_registered`` account event, by :mod:`loyalty.receivers`): the code
  must be another member's (compared case-insensitively, blanks stripped). An unknown code, a member's own code
  or a second registration of the same referee writes nothing new (None, or the referral already recorded). A
  referee who shares a phone number, a device or an IP address with the referrer (their keyed hashes in
  :class:`accounts.models.AccountFingerprint`, plus the hashes of the ``ip``, ``device_id`` given and of both
  accounts' phone numbers) is **refused**: a :class:`~loyalty.models.Referral` row with status ``refused`` and the
  reason, so staff can see the attempt; nobody earns for it. An accepted referral sets the referee's
  ``PointsAccount.referred_by``.
* :func:`referrals_reward_due` (from the earning area's ``confirm_due_points`` task): a pending referral is due
  when the referee's **first kept paid order** (the earliest with ``paid_at``, not cancelled and not refunded in
  full: an order taken back entirely is not a first order) is delivered and ``CASHBACK_RETURN_WINDOW_DAYS`` have
  passed since delivery. Both members get an ``earn`` entry (qualifying; keys ``referral:<id>:referrer`` and
  ``referral:<id>:referee``; the programme's ``referral_referrer_points`` / ``referral_referee_points``), the
  referral becomes ``rewarded`` with that order, and both are notified after commit. Lock order: the referral (the
  cause) first, then both points accounts in one query in primary-key order.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone

from accounts.models import AccountFingerprint, FingerprintKind
from accounts.services.fingerprints import fingerprint_hash
from commerce.orders.models import Order, OrderStatus

from ..models import PointsAccount, PointsEntryKind, Referral, ReferralStatus
from .ledger import points_account_get_or_create, points_account_lock, points_post
from .notify_members import masked_name, member_notify
from .programme import programme_get

logger = logging.getLogger(__name__)

CODE_MAX_LENGTH = 12
KIND_WORDS = {FingerprintKind.PHONE: "phone number", FingerprintKind.DEVICE: "device", FingerprintKind.IP: "IP address"}


def _hashes_of(*, user_id: int, phone: str, extra: dict[str, str | None]) -> set[tuple[str, str]]:
    """The (kind, hash) pairs an account is known by: its fingerprint rows, its phone and the values in ``extra``
    (kind -> raw value) that normalise."""
    pairs = {
        (str(kind), value_hash)
        for kind, value_hash in AccountFingerprint.objects.filter(user_id=user_id)
        .order_by()
        .values_list("kind", "value_hash")
    }
    for kind, value in ({FingerprintKind.PHONE: phone} | extra).items():
        if value:
            try:
                pairs.add((str(kind), fingerprint_hash(kind=kind, value=value)))
            except ValueError:
                continue
    return pairs


def referral_shared_fingerprints(
    *, referrer_id: int, referee_id: int, ip: str | None = None, device_id: str | None = None
) -> list[str]:
    """The fingerprint kinds (``phone``, ``device``, ``ip``, in that order) the two accounts share. Three queries."""
    users = {
        user.pk: getattr(user, "phone", "") or ""
        for user in get_user_model().objects.filter(pk__in=[referrer_id, referee_id]).only("pk", "phone")
    }
    referee = _hashes_of(
        user_id=referee_id,
        phone=users.get(referee_id, ""),
        extra={FingerprintKind.IP: ip, FingerprintKind.DEVICE: device_id},
    )
    referrer = _hashes_of(user_id=referrer_id, phone=users.get(referrer_id, ""), extra={})
    shared = {kind for kind, _ in referee & referrer}
    return [str(kind) for kind in (FingerprintKind.PHONE, FingerprintKind.DEVICE, FingerprintKind.IP) if kind in shared]


def referral_register(*, referee_id: int, code: str, ip: str | None, device_id: str | None) -> Referral | None:
    """Record that ``referee_id`` signed up with ``code``: pending, or refused as a self-referral (see the module
    docstring). None for a blank, unknown or own code; the existing referral when the referee already has one."""
    code = (code or "").strip().upper()
    if not code or len(code) > CODE_MAX_LENGTH:
        return None
    referrer = PointsAccount.objects.filter(referral_code__iexact=code).only("user_id", "referral_code").first()
    if referrer is None:
        logger.info("Referral code %r of user %s matches no member.", code, referee_id)
        return None
    if referrer.user_id == referee_id:
        return None
    existing = Referral.objects.filter(referee_id=referee_id).first()
    if existing is not None:
        return existing
    shared = referral_shared_fingerprints(
        referrer_id=referrer.user_id, referee_id=referee_id, ip=ip, device_id=device_id
    )
    with transaction.atomic():
        account = points_account_lock(user_id=referee_id)
        fields: dict[str, object] = {
            "referrer_id": referrer.user_id,
            "referee_id": referee_id,
            "code": referrer.referral_code,
        }
        if shared:
            words = ", ".join(KIND_WORDS[FingerprintKind(kind)] for kind in shared)
            fields |= {
                "status": ReferralStatus.REFUSED,
                "refused_reason": f"Self-referral: same {words} as the referrer",
            }
        try:
            with transaction.atomic():
                referral = Referral.objects.create(**fields)
        except IntegrityError:  # registered twice at once: the first one stands
            return Referral.objects.filter(referee_id=referee_id).first()
        if not shared and account.referred_by_id is None:
            account.referred_by_id = referrer.user_id
            account.save(update_fields=["referred_by", "updated_at"])
    return referral


def _first_kept_order() -> Subquery:
    """The referee's first kept paid order (see the module docstring), as a subquery on ``Referral``."""
    return Subquery(
        Order.objects.filter(user_id=OuterRef("referee_id"), paid_at__isnull=False)
        .exclude(status=OrderStatus.CANCELLED)
        .exclude(refunded_amount__gte=F("total"), total__gt=0)
        .order_by("paid_at", "pk")
        .values("pk")[:1]
    )


def _is_due(order: Order, cutoff: datetime) -> bool:
    return (
        order.status == OrderStatus.DELIVERED
        and order.delivered_at is not None
        and order.delivered_at <= cutoff
        and not (order.total > 0 and order.refunded_amount >= order.total)
    )


def _reward_one(*, referral_id: int, order_id: int, cutoff: datetime, now: datetime) -> bool:
    """Reward one referral (re-checked under its lock); False when it is no longer due."""
    programme = programme_get()
    with transaction.atomic():
        referral = Referral.objects.select_for_update().filter(pk=referral_id).first()
        if referral is None or referral.status != ReferralStatus.PENDING:
            return False
        order = Order.objects.filter(pk=order_id).first()
        if order is None or not _is_due(order, cutoff):
            return False
        for user_id in (referral.referrer_id, referral.referee_id):
            points_account_get_or_create(user_id=user_id)
        accounts = {
            account.user_id: account
            for account in PointsAccount.objects.select_for_update()
            .filter(user_id__in=[referral.referrer_id, referral.referee_id])
            .order_by("pk")
        }
        names = dict(
            get_user_model()
            .objects.filter(pk__in=[referral.referrer_id, referral.referee_id])
            .values_list("pk", "full_name")
        )
        for role, user_id, points, other in (
            ("referrer", referral.referrer_id, programme.referral_referrer_points, referral.referee_id),
            ("referee", referral.referee_id, programme.referral_referee_points, referral.referrer_id),
        ):
            if points <= 0:
                continue
            points_post(
                account=accounts[user_id],
                kind=PointsEntryKind.EARN,
                points=points,
                key=f"referral:{referral.pk}:{role}",
                qualifying=True,
                order=order if role == "referee" else None,
                rule_code="referral",
                reason=f"Referral: {'friend referred' if role == 'referrer' else 'joined with a referral code'}"
                f" ({masked_name(names.get(other) or '')}'s first order {order.number})",
                now=now,
            )
            member_notify(
                user_id=user_id,
                kind="referral_rewarded",
                context={
                    "points": points,
                    "friend": masked_name(names.get(other) or ""),
                    "referrer": role == "referrer",
                },
            )
        referral.status = ReferralStatus.REWARDED
        referral.order = order
        referral.rewarded_at = now
        referral.save(update_fields=["status", "order", "rewarded_at"])
    return True


def referrals_reward_due(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Reward every pending referral whose referee's first kept paid order is delivered and past the return
    window (``CASHBACK_RETURN_WINDOW_DAYS``). Returns how many were rewarded; safe to run twice."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.CASHBACK_RETURN_WINDOW_DAYS)
    rewarded, last_pk = 0, 0
    while True:
        batch = list(
            Referral.objects.filter(pk__gt=last_pk, status=ReferralStatus.PENDING)
            .annotate(first_order_id=_first_kept_order())
            .order_by("pk")
            .values_list("pk", "first_order_id")[:batch_size]
        )
        if not batch:
            return rewarded
        last_pk = batch[-1][0]
        due_orders = set(
            Order.objects.filter(
                Q(pk__in=[order_id for _, order_id in batch if order_id is not None]),
                status=OrderStatus.DELIVERED,
                delivered_at__lte=cutoff,
            ).values_list("pk", flat=True)
        )
        for referral_id, order_id in batch:
            if order_id in due_orders and _reward_one(
                referral_id=referral_id, order_id=order_id, cutoff=cutoff, now=now
            ):
                rewarded += 1
