"""The points ledger: the only code that changes a points account's balances, writes a :class:`PointsEntry` or
creates and consumes :class:`PointsLot` rows.

Every movement goes through :func:`points_post`, called inside the caller's transaction with the account row
already locked (:func:`points_account_lock`). It checks the signs of the movement for its kind (a wrong sign is a
programming error: ``ValueError``), refuses anything that would make ``available``, ``pending`` or ``held``
negative (409 ``insufficient_points``), updates the balances, appends the ledger row with the balances after it,
and keeps the lots:

* points that become available (``confirm``, ``earn``, ``return``, a positive ``adjustment``) form a new lot that
  expires ``programme.expiry_months`` after the movement;
* points that leave the account (``spend``, ``redeem``, ``expire``, ``reversal``, a negative ``adjustment``)
  consume lots oldest first (``available_at``, then id);
* ``hold`` and ``release`` move points between ``available`` and ``held`` and leave the lots alone, so for every
  account ``sum(lot.remaining) == available + held``.

The row's unique ``key`` names its cause, so a movement posted twice fails at the database even if a caller's own
re-check were wrong. A qualifying entry (points earned, or earned points taken back) schedules the follow-ups
(tier, achievements, leaderboard) for after the commit through :mod:`.hooks`.

Expiry (:func:`points_expire_due`) and its reminders (:func:`points_expiry_reminders_send`) live here too, since
they read and consume the lots.
"""

import calendar
import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import QuerySet, Sum
from django.utils import timezone

from accounts.models import User
from accounts.services.audit import audit_record
from commerce.core.errors import Conflict, DomainError, InvalidInput
from commerce.orders.models import Order

from ..models import PointsAccount, PointsEntry, PointsEntryKind, PointsLot
from . import hooks
from .notify import points_expiring_notify
from .programme import programme_get

logger = logging.getLogger(__name__)

# Referral codes: 8 characters from an alphabet without the look-alikes 0/O and 1/I (read aloud, typed on a phone).
REFERRAL_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
REFERRAL_CODE_LENGTH = 8
_REFERRAL_ATTEMPTS = 8

# The largest balance or movement accepted (well inside the database's 32-bit integers).
MAX_POINTS = 1_000_000_000

# The sign each kind's ``points`` (effect on available), ``pending_points`` and ``held_points`` must have:
# +1 positive, -1 negative, 0 zero, None either sign (not zero).
_SIGNS: dict[str, tuple[int | None, int, int]] = {
    PointsEntryKind.EARN_PENDING: (0, 1, 0),
    PointsEntryKind.CONFIRM: (1, -1, 0),
    PointsEntryKind.EARN: (1, 0, 0),
    PointsEntryKind.PENDING_REVERSAL: (0, -1, 0),
    PointsEntryKind.REVERSAL: (-1, 0, 0),
    PointsEntryKind.HOLD: (-1, 0, 1),
    PointsEntryKind.RELEASE: (1, 0, -1),
    PointsEntryKind.SPEND: (0, 0, -1),
    PointsEntryKind.RETURN: (1, 0, 0),
    PointsEntryKind.REDEEM: (-1, 0, 0),
    PointsEntryKind.EXPIRE: (-1, 0, 0),
    PointsEntryKind.ADJUSTMENT: (None, 0, 0),
}

# Kinds whose movements must cancel out between two balances (nothing made or lost on the way).
_PENDING_TRANSFERS = frozenset({PointsEntryKind.CONFIRM})
_HELD_TRANSFERS = frozenset({PointsEntryKind.HOLD, PointsEntryKind.RELEASE})

# Kinds that make points available for the first time (``lifetime`` grows) and that take earned points back.
_LIFETIME_UP = frozenset({PointsEntryKind.CONFIRM, PointsEntryKind.EARN, PointsEntryKind.ADJUSTMENT})
_LIFETIME_DOWN = frozenset({PointsEntryKind.REVERSAL})


def _sign_ok(value: int, sign: int | None) -> bool:
    if sign is None:
        return value != 0
    if sign == 0:
        return value == 0
    return value * sign > 0


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` plus ``months`` calendar months, the day clamped to the target month's last day (31 January
    plus one month is 28 or 29 February)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


# --- accounts -------------------------------------------------------------------------------------------------


def referral_code_new() -> str:
    """A fresh random referral code (not checked for uniqueness: the unique constraint is)."""
    return "".join(secrets.choice(REFERRAL_ALPHABET) for _ in range(REFERRAL_CODE_LENGTH))


def points_account_get_or_create(*, user_id: int) -> PointsAccount:
    """The user's points account, created empty with a fresh referral code the first time. A race to create joins
    the winner; a referral code that happens to be taken is drawn again."""
    account = PointsAccount.objects.filter(user_id=user_id).first()
    if account is not None:
        return account
    for _ in range(_REFERRAL_ATTEMPTS):
        try:
            with transaction.atomic():
                return PointsAccount.objects.create(user_id=user_id, referral_code=referral_code_new())
        except IntegrityError:
            account = PointsAccount.objects.filter(user_id=user_id).first()
            if account is not None:  # another transaction created it first
                return account
            # else the referral code was taken: draw another
    raise RuntimeError(f"Could not create a points account for user {user_id}: no free referral code drawn.")


def points_account_lock(*, user_id: int) -> PointsAccount:
    """The user's points account, locked (``SELECT ... FOR UPDATE``) until the caller's transaction ends; created
    first if missing. Call inside ``transaction.atomic``, after locking any cause row (order, reward, cart)."""
    _require_atomic()
    points_account_get_or_create(user_id=user_id)
    return PointsAccount.objects.select_for_update().get(user_id=user_id)


def _require_atomic() -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("Points movements must run inside the transaction that locked the account.")


# --- the one writer -------------------------------------------------------------------------------------------


def _check_movement(kind: str, points: int, pending_points: int, held_points: int) -> None:
    if kind not in _SIGNS:
        raise ValueError(f"Unknown points entry kind {kind!r}.")
    if not all(_is_int(value) for value in (points, pending_points, held_points)):
        raise ValueError("Points are whole numbers.")
    signs = _SIGNS[kind]
    values = (points, pending_points, held_points)
    if not all(_sign_ok(value, sign) for value, sign in zip(values, signs, strict=True)):
        raise ValueError(
            f"A {kind} entry cannot move available by {points}, pending by {pending_points} and held by {held_points}."
        )
    if kind in _PENDING_TRANSFERS and points != -pending_points:
        raise ValueError(f"A {kind} entry must move the same points from pending to available.")
    if kind in _HELD_TRANSFERS and points != -held_points:
        raise ValueError(f"A {kind} entry must move the same points between available and held.")


def _check_balances(account: PointsAccount, points: int, pending_points: int, held_points: int) -> None:
    """Refuse a movement that would leave a balance negative or out of range; run before the account object
    changes, so a caller that handles the error keeps true balances."""
    available, pending, held = account.available + points, account.pending + pending_points, account.held + held_points
    if available < 0:
        raise Conflict(f"Only {account.available} points are available.", code="insufficient_points")
    if pending < 0:
        raise Conflict(f"Only {account.pending} points are pending.", code="insufficient_points")
    if held < 0:
        raise Conflict(f"Only {account.held} points are held.", code="insufficient_points")
    if max(available + held, pending, account.lifetime + abs(points)) > MAX_POINTS:
        raise InvalidInput("The points balance would be out of range.", code="points_out_of_range")


def _lots_consume(account: PointsAccount, points: int, *, now: datetime, expired_first: bool) -> None:
    """Take ``points`` out of the account's lots, oldest first (``available_at``, then id). For an expiry,
    ``expired_first`` takes lots past their date before any other (they are the oldest unless the expiry period
    was shortened)."""
    lots = list(PointsLot.objects.filter(account=account, remaining__gt=0).order_by("available_at", "id"))
    if expired_first:
        lots.sort(key=lambda lot: lot.expires_at > now)  # stable: FIFO within each group
    left = points
    changed: list[PointsLot] = []
    for lot in lots:
        if left == 0:
            break
        taken = min(lot.remaining, left)
        lot.remaining -= taken
        left -= taken
        changed.append(lot)
    if left:
        # sum(remaining) == available + held is kept by this module; a shortfall means a row was edited by hand.
        raise RuntimeError(f"The lots of points account {account.pk} are {left} points short of its balances.")
    PointsLot.objects.bulk_update(changed, ["remaining"])


def points_post(
    *,
    account: PointsAccount,
    kind: str,
    points: int = 0,
    pending_points: int = 0,
    held_points: int = 0,
    key: str,
    qualifying: bool = False,
    order: Order | None = None,
    rule_code: str = "",
    reason: str = "",
    actor: User | None = None,
    now: datetime | None = None,
) -> PointsEntry:
    """Apply one movement to an account locked by the caller and append its ledger row.

    ``points``, ``pending_points`` and ``held_points`` are the signed changes of ``available``, ``pending`` and
    ``held`` (see :class:`~loyalty.models.PointsEntry` for the signs of each kind). Anything that would make a
    balance negative is refused with 409 ``insufficient_points``. ``now`` dates the entry and its lot (tests and
    the demo data; defaults to the current time). A duplicate ``key`` raises ``IntegrityError`` (the caller's
    re-check failed, or it relies on the key as its idempotency guard inside a savepoint).
    """
    _require_atomic()
    _check_movement(kind, points, pending_points, held_points)
    if not key or len(key) > 120:
        raise ValueError("A points entry needs a key (at most 120 characters) naming its cause.")
    _check_balances(account, points, pending_points, held_points)
    now = now or timezone.now()
    account.available += points
    account.pending += pending_points
    account.held += held_points
    if kind in _LIFETIME_UP and points > 0:
        account.lifetime += points
    elif kind in _LIFETIME_DOWN:
        account.lifetime = max(0, account.lifetime + points)  # points is negative
    account.save(update_fields=["available", "pending", "held", "lifetime", "updated_at"])
    entry = PointsEntry.objects.create(
        account=account,
        kind=kind,
        points=points,
        pending_points=pending_points,
        held_points=held_points,
        balance_after=account.available,
        pending_after=account.pending,
        held_after=account.held,
        qualifying=qualifying,
        key=key,
        order=order,
        rule_code=rule_code[:60],
        reason=reason[:300],
        actor=actor,
        created_at=now,
    )
    in_lots = points + held_points  # the change of available + held, which the lots carry
    if in_lots > 0:
        PointsLot.objects.create(
            account=account,
            entry=entry,
            points=in_lots,
            remaining=in_lots,
            available_at=now,
            expires_at=add_months(now, programme_get().expiry_months),
        )
    elif in_lots < 0:
        _lots_consume(account, -in_lots, now=now, expired_first=kind == PointsEntryKind.EXPIRE)
    if qualifying:
        hooks.points_earned_schedule(user_id=account.user_id, entry_id=entry.pk)
    return entry


# --- staff adjustments ----------------------------------------------------------------------------------------


def points_adjust(*, user_id: int, points: int, reason: str, actor: User, key: str) -> PointsEntry:
    """A staff adjustment of a member's available points (positive or negative), with a reason; audited as
    ``loyalty.points_adjusted``. Not qualifying: staff points never move tiers or leaderboards. ``key`` identifies
    the adjustment (the admin form sends a fresh one per form), so a double-submitted form adjusts once: the
    second answers 409 ``duplicate_adjustment``. Taking back more than is available answers 409
    ``insufficient_points``."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("A reason is required.", fields={"reason": ["A reason is required."]})
    if not _is_int(points) or points == 0 or abs(points) > MAX_POINTS:
        raise InvalidInput(
            "The points must be a non-zero whole number in range.", fields={"points": ["Not a valid number of points."]}
        )
    if not key or len(key) > 100:
        raise InvalidInput("A key of 1 to 100 characters is required.", fields={"key": ["Not a valid key."]})
    ledger_key = f"adjustment:{key}"
    try:
        with transaction.atomic():
            account = points_account_lock(user_id=user_id)
            before = {"available": account.available, "lifetime": account.lifetime}
            entry = points_post(
                account=account,
                kind=PointsEntryKind.ADJUSTMENT,
                points=points,
                key=ledger_key,
                actor=actor,
                reason=reason,
            )
            audit_record(
                action="loyalty.points_adjusted",
                target=account,
                actor=actor,
                before=before,
                after={
                    "available": account.available,
                    "lifetime": account.lifetime,
                    "points": points,
                    "reason": reason,
                },
            )
    except IntegrityError as exc:
        if PointsEntry.objects.filter(key=ledger_key).exists():
            raise Conflict("This adjustment was already made.", code="duplicate_adjustment") from exc
        raise
    return entry


# --- expiry ---------------------------------------------------------------------------------------------------


def _lock_skipping(account_id: int) -> PointsAccount | None:
    """The account locked, or None when another transaction holds it (``SKIP LOCKED`` on PostgreSQL; elsewhere
    a plain lock, which waits)."""
    skip_locked = connection.features.has_select_for_update_skip_locked
    return PointsAccount.objects.select_for_update(skip_locked=skip_locked).filter(pk=account_id).first()


def _account_ids_batches(lots: QuerySet[PointsLot], batch_size: int) -> Iterator[list[int]]:
    """The distinct accounts of ``lots``, ``batch_size`` ids at a time in id order (a keyset cursor, so work done
    meanwhile never makes a batch skip or repeat an account)."""
    after = 0
    while True:
        batch = list(
            lots.filter(account_id__gt=after)
            .order_by("account_id")
            .values_list("account_id", flat=True)
            .distinct()[:batch_size]
        )
        if batch:
            yield batch
        if len(batch) < batch_size:
            return
        after = batch[-1]


def _check_batch_size(batch_size: int) -> None:
    if not _is_int(batch_size) or batch_size < 1:
        raise ValueError("batch_size must be a positive whole number.")


def _expire_account(account_id: int, now: datetime) -> PointsEntry | None:
    key = f"expire:{account_id}:{timezone.localdate(now).isoformat()}"
    with transaction.atomic():
        account = _lock_skipping(account_id)
        if account is None:  # a checkout or another run holds it: the next run takes it
            return None
        if PointsEntry.objects.filter(key=key).exists():  # already expired today; later lots wait for tomorrow
            return None
        due = PointsLot.objects.filter(account=account, remaining__gt=0, expires_at__lte=now)
        total = due.aggregate(total=Sum("remaining"))["total"] or 0
        # Held points belong to a checkout: they are spent (oldest lots first) or released, and expire after.
        points = min(total, account.available)
        if points <= 0:
            return None
        return points_post(
            account=account,
            kind=PointsEntryKind.EXPIRE,
            points=-points,
            key=key,
            reason=f"{points} points reached their expiry date",
            now=now,
        )


def points_expire_due(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Expire the points of every lot whose ``expires_at`` has passed, one ``expire`` entry per account and day
    (key ``expire:<account>:<date>``), oldest lots first, never more than the account's ``available`` (points
    held by a checkout wait until they are spent or released). Each account in its own transaction; an account
    another transaction holds (``SKIP LOCKED`` on PostgreSQL) is left for the next run, and one that fails is
    logged and left too. Returns how many accounts lost points."""
    _check_batch_size(batch_size)
    now = now or timezone.now()
    expired = 0
    due = PointsLot.objects.filter(remaining__gt=0, expires_at__lte=now)
    for batch in _account_ids_batches(due, batch_size):
        for account_id in batch:
            try:
                expired += _expire_account(account_id, now) is not None
            except (DomainError, DatabaseError):
                logger.exception("points of account %s could not be expired; the next run tries again", account_id)
    if expired:
        logger.info("expired points of %s accounts", expired)
    return expired


def _expiring_by_date(lots: list[PointsLot], available: int) -> list[tuple[int, datetime]]:
    """``(points, expires_at)`` per expiry moment, soonest first, counting no more than ``available`` in all (as
    expiry does: held points are not expired)."""
    grouped: dict[datetime, int] = {}
    for lot in sorted(lots, key=lambda lot: (lot.expires_at, lot.available_at, lot.pk)):
        grouped[lot.expires_at] = grouped.get(lot.expires_at, 0) + lot.remaining
    result: list[tuple[int, datetime]] = []
    left = available
    for expires_at, points in grouped.items():
        counted = min(points, left)
        if counted <= 0:
            break
        result.append((counted, expires_at))
        left -= counted
    return result


def expiring_soon_days() -> int:
    """How far ahead ``GET loyalty`` lists expiring points: ``LOYALTY_EXPIRING_SOON_DAYS`` (default 30), and never
    less than the reminder period."""
    days = int(settings.LOYALTY_EXPIRING_SOON_DAYS)
    return max(days, programme_get().expiry_reminder_days)


def points_expiring_soon(*, account: PointsAccount, now: datetime | None = None) -> list[tuple[int, datetime]]:
    """The member's points that expire within :func:`expiring_soon_days`, as ``(points, expires_at)`` soonest
    first (lots past their date that the nightly run has not expired yet included), at most ``available`` in
    all. One query (plus the cached programme row)."""
    now = now or timezone.now()
    horizon = now + timedelta(days=expiring_soon_days())
    lots = list(
        PointsLot.objects.filter(account=account, remaining__gt=0, expires_at__lte=horizon).only(
            "pk", "remaining", "available_at", "expires_at"
        )
    )
    return _expiring_by_date(lots, account.available)


# --- expiry reminders -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpiryReminder:
    """What one reminder names: the points, and when the first of them expire (``lots``: each date's points)."""

    points: int
    expires_at: datetime
    lots: tuple[tuple[int, datetime], ...]


def _reminder_horizon(now: datetime, days: int) -> datetime:
    """The end of the local day ``days`` from today: a lot is mentioned on the morning ``days`` days before."""
    last_day = timezone.localdate(now) + timedelta(days=days + 1)
    return timezone.make_aware(datetime.combine(last_day, datetime.min.time()))


def _remind_account(account_id: int, now: datetime, horizon: datetime) -> ExpiryReminder | None:
    with transaction.atomic():
        account = _lock_skipping(account_id)
        if account is None:
            return None
        lots = list(
            PointsLot.objects.filter(
                account=account, remaining__gt=0, reminded_at__isnull=True, expires_at__gt=now, expires_at__lt=horizon
            )
        )
        if not lots:
            return None
        # Marked even when nothing is available (all held): each lot is mentioned once, as the issue asks.
        PointsLot.objects.filter(pk__in=[lot.pk for lot in lots]).update(reminded_at=now)
        expiring = _expiring_by_date(lots, account.available)
        if not expiring:
            return None
        reminder = ExpiryReminder(
            points=sum(points for points, _ in expiring), expires_at=expiring[0][1], lots=tuple(expiring)
        )
        points_expiring_notify(
            user_id=account.user_id, points=reminder.points, expires_at=reminder.expires_at, lots=reminder.lots
        )
        return reminder


def points_expiry_reminders_send(*, now: datetime | None = None) -> int:
    """Remind every member with points expiring within ``programme.expiry_reminder_days`` (up to the end of that
    day): one message per member and run (email, or SMS when there is only a phone) naming the points and the
    first date; each lot is marked ``reminded_at`` so it is mentioned once. Returns how many members were
    reminded."""
    now = now or timezone.now()
    horizon = _reminder_horizon(now, programme_get().expiry_reminder_days)
    lots = PointsLot.objects.filter(
        remaining__gt=0, reminded_at__isnull=True, expires_at__gt=now, expires_at__lt=horizon
    )
    reminded = 0
    for batch in _account_ids_batches(lots, 500):
        for account_id in batch:
            try:
                reminded += _remind_account(account_id, now, horizon) is not None
            except (DomainError, DatabaseError):
                logger.exception("expiry reminder of account %s failed; the next run tries again", account_id)
    if reminded:
        logger.info("reminded %s members of expiring points", reminded)
    return reminded
