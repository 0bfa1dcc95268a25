"""Reads of the member's own loyalty (``GET loyalty``, ``GET loyalty/transactions``) and of the back office's
dashboard cards, each to a fixed query budget whatever the data.

The leaderboard's reads are in :mod:`loyalty.selectors`; the writes are all in :mod:`loyalty.services`.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User

from .models import (
    PointsAccount,
    PointsEntry,
    PointsEntryKind,
    RewardRedemption,
    Tier,
)

# --- the member's own loyalty ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberSummary:
    """What ``GET loyalty`` shows: balances, tier and progress, points expiring soon, the referral code, and the
    reward coupons bought with points."""

    account: PointsAccount
    tier: dict[str, Any]
    expiring_soon: list[tuple[int, datetime]]
    rewards: list[RewardRedemption]


def member_summary(*, user: User, now: datetime | None = None) -> MemberSummary:
    """The member's loyalty as of ``now``. A member who has no points account yet gets one (the referral code
    they share must exist from their first look), through the ledger's race-safe
    :func:`~loyalty.services.ledger.points_account_get_or_create`."""
    from .services.ledger import points_account_get_or_create, points_expiring_soon
    from .services.rewards import rewards_redeemed
    from .services.tiers import tier_progress

    now = now or timezone.now()
    account = points_account_get_or_create(user_id=user.pk)
    return MemberSummary(
        account=account,
        tier=tier_progress(account=account, now=now),
        expiring_soon=points_expiring_soon(account=account, now=now),
        rewards=rewards_redeemed(user_id=user.pk),
    )


def member_transactions(*, user: User) -> QuerySet[PointsEntry]:
    """``user``'s points ledger, newest first, with each row's order joined (for its number). Another member's
    rows are never in it: the filter is on the signed-in user, never on an id from the request."""
    return PointsEntry.objects.filter(account__user=user).select_related("order").order_by("-created_at", "-id")


def _order_suffix(entry: PointsEntry) -> str:
    return f" on order {entry.order.number}" if entry.order is not None else ""


# A sentence per kind; "{order}" is " on order ORD-..." or nothing.
_DESCRIPTIONS: dict[str, str] = {
    PointsEntryKind.EARN_PENDING: "Points earned{order}, pending until the return window ends",
    PointsEntryKind.CONFIRM: "Pending points{order} now available",
    PointsEntryKind.PENDING_REVERSAL: "Pending points{order} taken back (refund or cancellation)",
    PointsEntryKind.REVERSAL: "Points{order} taken back (refund)",
    PointsEntryKind.HOLD: "Points held for checkout{order}",
    PointsEntryKind.RELEASE: "Points held{order} released",
    PointsEntryKind.SPEND: "Points spent{order}",
    PointsEntryKind.RETURN: "Points spent{order} returned (refund)",
    PointsEntryKind.REDEEM: "Points spent on a reward",
    PointsEntryKind.EXPIRE: "Points expired",
}


def points_entry_description(entry: PointsEntry) -> str:
    """A sentence for the member ("Points earned on order ORD-7K3M9Q, pending until the return window ends").

    Reads only what :func:`member_transactions` joins. Earned points without an order (events, achievements,
    referrals) and staff adjustments show their reason (the admin's form says the member sees it)."""
    if entry.kind == PointsEntryKind.EARN:
        if entry.order is not None:
            return f"Points earned on order {entry.order.number}"
        return f"Points earned: {entry.reason}" if entry.reason else "Points earned"
    if entry.kind == PointsEntryKind.ADJUSTMENT:
        return f"Adjustment: {entry.reason}" if entry.reason else "Adjustment"
    template = _DESCRIPTIONS.get(entry.kind, entry.get_kind_display())
    return template.format(order=_order_suffix(entry))


# --- the back office's dashboard ------------------------------------------------------------------------------


def members_by_tier() -> list[tuple[str, int]]:
    """Every tier, lowest first, with how many members hold it, then ``("No tier yet", n)``: members whose first
    earning event has not been recomputed yet. One query (a grouped count per tier as a subquery of the tiers,
    and the count without a tier repeated on each row)."""
    per_tier = (
        PointsAccount.objects.filter(tier=OuterRef("pk"))
        .order_by()
        .values("tier")
        .annotate(members=Count("id"))
        .values("members")
    )
    untiered = (
        PointsAccount.objects.filter(tier__isnull=True)
        .order_by()
        .annotate(group=Value(1))
        .values("group")
        .annotate(members=Count("id"))
        .values("members")
    )
    zero = Value(0, output_field=IntegerField())
    rows = list(
        Tier.objects.order_by("rank")
        .annotate(
            members=Coalesce(Subquery(per_tier, output_field=IntegerField()), zero),
            untiered=Coalesce(Subquery(untiered, output_field=IntegerField()), zero),
        )
        .values_list("name", "members", "untiered")
    )
    untiered_count = rows[0][2] if rows else PointsAccount.objects.filter(tier__isnull=True).count()
    return [(name, members) for name, members, _ in rows] + [("No tier yet", untiered_count)]


# Kinds that put points in members' hands, and those that take them out by spending.
ISSUED_KINDS = (PointsEntryKind.CONFIRM, PointsEntryKind.EARN)
SPENT_KINDS = (PointsEntryKind.SPEND, PointsEntryKind.REDEEM)


@dataclass(frozen=True)
class PointsFlow:
    """Points made available (confirmed or earned) and points spent (at checkout or on rewards) since a time."""

    issued: int
    spent: int


def points_flow(*, since: datetime) -> PointsFlow:
    """One aggregate over the ledger since ``since`` (the ``created_at`` index). Spends are ``held_points`` of
    ``spend`` rows (the points left the hold) and ``points`` of ``redeem`` rows, both negative in the ledger."""
    zero = Value(0, output_field=IntegerField())
    totals = PointsEntry.objects.filter(created_at__gte=since).aggregate(
        issued=Coalesce(Sum("points", filter=Q(kind__in=ISSUED_KINDS)), zero),
        spent_checkout=Coalesce(Sum("held_points", filter=Q(kind=PointsEntryKind.SPEND)), zero),
        spent_rewards=Coalesce(Sum("points", filter=Q(kind=PointsEntryKind.REDEEM)), zero),
    )
    return PointsFlow(issued=totals["issued"], spent=-(totals["spent_checkout"] + totals["spent_rewards"]))


def rewards_redeemed_since(*, since: datetime) -> tuple[int, int]:
    """How many rewards were redeemed since ``since`` and for how many points. One query."""
    totals = RewardRedemption.objects.filter(created_at__gte=since).aggregate(
        count=Count("id"), points=Coalesce(Sum("points"), Value(0, output_field=IntegerField()))
    )
    return totals["count"], totals["points"]
