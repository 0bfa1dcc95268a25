"""Tiers on a rolling window of qualifying points: upgrades at once, downgrades only at the nightly review after
a grace period.

* **Qualifying points** (:func:`qualifying_points`) are ``points + pending_points`` of the account's entries with
  ``qualifying=True`` created in the last ``programme.tier_window_months`` calendar months: points earned on orders
  (pending ones count as soon as they are earned) and events, less what refunds took back. Staff adjustments,
  spending and expiry do not count. One aggregate query.
* The tier points reach is the highest-ranked :class:`~loyalty.models.Tier` whose ``threshold`` they meet.
* :func:`tier_recompute` (after every qualifying entry, from :mod:`loyalty.services.hooks`) locks the account and
  **upgrades at once**. Below the current tier it only notes when the member fell below (``below_tier_since``) and
  keeps the tier; back above, the note is cleared. An account without a tier starts at the tier its points reach
  (the entry tier, rank 0, for a new member).
* :func:`tiers_review` (nightly task ``loyalty.tasks.tiers.review_tiers``) goes through **every account** in
  primary-key batches (one query for the batch, one aggregate for its points) and locks only those whose tier
  state must change: a member below their tier since more than ``programme.tier_downgrade_grace_days`` days is
  downgraded to the tier their points now reach. Every account, rather than only those with new entries, because
  points leave the window with no new entry at all: that is exactly what starts a grace period.
* Every change writes an append-only :class:`~loyalty.models.TierChange` (qualifying points and a reason) and
  notifies the member after commit (``tier_changed``), except the silent placement of a new member at the entry
  tier.

:func:`tier_benefits` is what other apps read (the earning multiplier, a free-shipping threshold, early access to
offers): offers can filter on ``early_access`` through it; nothing below loyalty imports it.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from ..models import PointsAccount, PointsEntry, Tier, TierChange
from .ledger import add_months, points_account_lock
from .notify_members import member_notify
from .programme import programme_get

REASON_JOINED = "Joined"


def window_start(*, now: datetime, months: int) -> datetime:
    """The start of the rolling window ending at ``now`` (calendar months, the day clamped)."""
    return add_months(now, -months)


def qualifying_points(*, account: PointsAccount, now: datetime) -> int:
    """Qualifying points of ``account`` earned in the rolling window ending at ``now`` (one query)."""
    since = window_start(now=now, months=programme_get().tier_window_months)
    total = (
        PointsEntry.objects.filter(account=account, qualifying=True, created_at__gt=since, created_at__lte=now)
        .order_by()
        .aggregate(total=Sum(F("points") + F("pending_points")))["total"]
    )
    return int(total or 0)


def _qualifying_points_many(*, account_ids: list[int], now: datetime, months: int) -> dict[int, int]:
    """Qualifying points of several accounts at once (one grouped query); missing accounts have none."""
    since = window_start(now=now, months=months)
    rows = (
        PointsEntry.objects.filter(
            account_id__in=account_ids, qualifying=True, created_at__gt=since, created_at__lte=now
        )
        .order_by()
        .values("account_id")
        .annotate(total=Sum(F("points") + F("pending_points")))
        .values_list("account_id", "total")
    )
    return {account_id: int(total or 0) for account_id, total in rows}


def tiers_ordered() -> list[Tier]:
    """Every tier, lowest rank first (one query)."""
    return list(Tier.objects.order_by("rank"))


def tier_for_points(*, tiers: list[Tier], points: int) -> Tier | None:
    """The highest-ranked tier whose threshold ``points`` meet (``tiers`` ordered by rank); None without tiers
    (or when even the lowest has a threshold above ``points``: then the lowest is the floor, see the callers)."""
    reached: Tier | None = None
    for tier in tiers:
        if tier.threshold <= points:
            reached = tier
    return reached


def _floor(tiers: list[Tier], points: int) -> Tier | None:
    """The tier ``points`` reach, at least the entry tier (a member is always in some tier when there are any)."""
    return tier_for_points(tiers=tiers, points=points) or (tiers[0] if tiers else None)


@dataclass(frozen=True)
class _Plan:
    """What the account's tier state should become: ``to`` the tier (None: unchanged), ``below_since`` the new
    value of ``below_tier_since``."""

    to: Tier | None
    below_since: datetime | None
    reason: str


def _plan(
    *, account: PointsAccount, tiers: list[Tier], points: int, now: datetime, grace_days: int | None
) -> _Plan | None:
    """What to change on ``account`` (None: nothing). ``grace_days`` None: never downgrade (the recompute after an
    earning event); else downgrade when below since more than that many days (the nightly review)."""
    reached = _floor(tiers, points)
    if reached is None:
        return None
    current = next((tier for tier in tiers if tier.pk == account.tier_id), None)
    if current is None:
        return _Plan(to=reached, below_since=None, reason=REASON_JOINED if reached.rank == tiers[0].rank else "")
    if reached.rank > current.rank:
        return _Plan(to=reached, below_since=None, reason="")
    if reached.rank == current.rank:
        return _Plan(to=None, below_since=None, reason="") if account.below_tier_since is not None else None
    below_since = account.below_tier_since or now
    if grace_days is not None and below_since <= now - timedelta(days=grace_days):
        reason = f"Below {current.name}'s {current.threshold:,} points for more than {grace_days} days"
        return _Plan(to=reached, below_since=None, reason=reason)
    return None if account.below_tier_since is not None else _Plan(to=None, below_since=now, reason="")


def _apply(
    *, account: PointsAccount, plan: _Plan, tiers: list[Tier], points: int, now: datetime, window_months: int
) -> TierChange | None:
    """Write ``plan`` on the locked ``account``: the account's fields, and for a tier move a TierChange and the
    member's message after commit."""
    account.below_tier_since = plan.below_since
    if plan.to is None:
        account.save(update_fields=["below_tier_since", "updated_at"])
        return None
    previous = next((tier for tier in tiers if tier.pk == account.tier_id), None)
    upgrade = previous is None or plan.to.rank > previous.rank
    reason = plan.reason or (
        f"{points:,} qualifying points in {window_months} months reach {plan.to.name} ({plan.to.threshold:,})"
    )
    account.tier = plan.to
    account.tier_since = now
    account.save(update_fields=["tier", "tier_since", "below_tier_since", "updated_at"])
    change = TierChange.objects.create(
        account=account, from_tier=previous, to_tier=plan.to, qualifying_points=points, reason=reason, created_at=now
    )
    if previous is not None or plan.to.rank > tiers[0].rank:
        member_notify(
            user_id=account.user_id,
            kind="tier_changed",
            context={
                "tier": plan.to.name,
                "previous": previous.name if previous else "",
                "upgrade": upgrade,
                "points": points,
                "window_months": window_months,
            },
        )
    return change


def tier_recompute(*, user_id: int, now: datetime | None = None) -> TierChange | None:
    """Recompute the member's tier after an earning event: upgrade at once, start (or clear) the grace period when
    below the current tier, never downgrade. Returns the TierChange written, if any. Idempotent."""
    now = now or timezone.now()
    programme = programme_get()
    tiers = tiers_ordered()
    if not tiers:
        return None
    with transaction.atomic():
        account = points_account_lock(user_id=user_id)
        points = qualifying_points(account=account, now=now)
        plan = _plan(account=account, tiers=tiers, points=points, now=now, grace_days=None)
        if plan is None:
            return None
        return _apply(
            account=account, plan=plan, tiers=tiers, points=points, now=now, window_months=programme.tier_window_months
        )


def _review_one(*, user_id: int, tiers: list[Tier], now: datetime, months: int, grace_days: int) -> TierChange | None:
    with transaction.atomic():
        account = points_account_lock(user_id=user_id)
        points = qualifying_points(account=account, now=now)  # re-checked under the lock
        plan = _plan(account=account, tiers=tiers, points=points, now=now, grace_days=grace_days)
        if plan is None:
            return None
        return _apply(account=account, plan=plan, tiers=tiers, points=points, now=now, window_months=months)


def tiers_review(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """The nightly review: every account in primary-key batches; downgrades members below their tier for longer
    than the grace period, starts or clears grace periods, places accounts without a tier, and makes good any
    upgrade a lost follow-up missed. Returns the number of tier changes. Safe to run twice."""
    now = now or timezone.now()
    programme = programme_get()
    months, grace_days = programme.tier_window_months, programme.tier_downgrade_grace_days
    tiers = tiers_ordered()
    if not tiers:
        return 0
    changes, last_pk = 0, 0
    while True:
        batch = list(
            PointsAccount.objects.filter(pk__gt=last_pk)
            .order_by("pk")
            .only("pk", "user_id", "tier_id", "below_tier_since")[:batch_size]
        )
        if not batch:
            return changes
        last_pk = batch[-1].pk
        points_of = _qualifying_points_many(account_ids=[account.pk for account in batch], now=now, months=months)
        for account in batch:
            points = points_of.get(account.pk, 0)
            if _plan(account=account, tiers=tiers, points=points, now=now, grace_days=grace_days) is None:
                continue
            if _review_one(user_id=account.user_id, tiers=tiers, now=now, months=months, grace_days=grace_days):
                changes += 1


def tier_progress(*, account: PointsAccount, now: datetime) -> dict[str, Any]:
    """The member's tier for ``GET loyalty``: ``{"code", "name", "progress": {"points", "next_threshold",
    "percent"}, "next": {"code", "name", "points_needed"} | None}``. ``percent`` is ``points / next_threshold``
    in whole per cent (100 at the top tier, where ``next_threshold`` and ``next`` are null). An account never
    recomputed shows the tier its points reach (a read writes nothing). Two queries; ``code`` and ``name`` are
    null only when no tier exists at all."""
    tiers = tiers_ordered()
    points = qualifying_points(account=account, now=now)
    current = next((tier for tier in tiers if tier.pk == account.tier_id), None) or _floor(tiers, points)
    following = next((tier for tier in tiers if current is not None and tier.rank > current.rank), None)
    if following is None:
        progress = {"points": points, "next_threshold": None, "percent": 100}
        upcoming = None
    else:
        threshold = following.threshold
        percent = 100 if threshold <= 0 else min(100, points * 100 // threshold)
        progress = {"points": points, "next_threshold": threshold, "percent": percent}
        upcoming = {"code": following.code, "name": following.name, "points_needed": max(0, threshold - points)}
    return {
        "code": current.code if current else None,
        "name": current.name if current else None,
        "progress": progress,
        "next": upcoming,
    }


def tier_benefits(*, user_id: int) -> dict[str, Any]:
    """The member's tier benefits, for other features to honour: ``{"tier": code | None, "earn_multiplier":
    Decimal, "free_shipping_threshold": Decimal | None, "early_access": bool}``. A member without an account or a
    tier has the entry tier's. One or two queries; writes nothing."""
    account = PointsAccount.objects.select_related("tier").filter(user_id=user_id).only("tier").first()
    tier = account.tier if account is not None and account.tier is not None else Tier.objects.order_by("rank").first()
    if tier is None:
        return {
            "tier": None,
            "earn_multiplier": Decimal("1.00"),
            "free_shipping_threshold": None,
            "early_access": False,
        }
    return {
        "tier": tier.code,
        "earn_multiplier": tier.earn_multiplier,
        "free_shipping_threshold": tier.free_shipping_threshold,
        "early_access": tier.early_access,
    }
