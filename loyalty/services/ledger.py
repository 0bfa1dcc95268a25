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
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from commerce.core.errors import Conflict, InvalidInput
from commerce.orders.models import Order

from ..models import PointsAccount, PointsEntry, PointsEntryKind, PointsLot
from . import hooks
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
