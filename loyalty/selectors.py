"""Leaderboard reads from the database: the periods' bounds and the ranking computed from the ledger.

This is the reference ranking: the Redis boards (:mod:`loyalty.services.leaderboard`) must agree with it, and reads
fall back to it when Redis is not configured or unreachable. A member's score in a period is the sum of
``points + pending_points`` of their qualifying entries created in it (earned points less what refunds took back);
members rank by score (highest first), then by when they reached it (the time of their last qualifying entry in
the period, earliest first), then by user id. A member appears once they have a qualifying entry with a non-zero
effect in the period (a score can be zero or negative: points earned last week taken back this week).
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Case, F, Max, Q, Sum, Value, When
from django.db.models.expressions import Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from .models import PointsEntry

PERIODS = ("week", "month", "all")


@dataclass(frozen=True)
class Period:
    """One board: ``name`` (week, month, all), ``label`` (``2026-W49``, ``2026-12``, ``all``) naming its Redis key,
    and its bounds in the programme's time zone (``None`` for ``all``)."""

    name: str
    label: str
    starts_at: datetime | None
    ends_at: datetime | None


def period_of(*, period: str, at: datetime) -> Period:
    """The board of ``period`` containing the instant ``at``: the ISO week (Monday 00:00 local time), the calendar
    month, or all time."""
    # Zone-aware arithmetic (zoneinfo) keeps wall-clock midnight across a DST change.
    local = timezone.localtime(at)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "week":
        starts = midnight - timedelta(days=local.weekday())
        year, week, _ = local.isocalendar()
        return Period("week", f"{year}-W{week:02d}", starts, starts + timedelta(days=7))
    if period == "month":
        starts = midnight.replace(day=1)
        following = (starts.replace(day=28) + timedelta(days=4)).replace(day=1)
        return Period("month", f"{local.year}-{local.month:02d}", starts, following)
    if period == "all":
        return Period("all", "all", None, None)
    raise ValueError(f"Unknown leaderboard period {period!r}")


def qualifying_entries(*, period: Period) -> Any:
    """Qualifying entries with a non-zero effect created in ``period``, annotated with ``qpoints``."""
    entries = (
        PointsEntry.objects.filter(qualifying=True)
        .annotate(qpoints=F("points") + F("pending_points"))
        .exclude(qpoints=0)
    )
    if period.starts_at is not None:
        entries = entries.filter(created_at__gte=period.starts_at, created_at__lt=period.ends_at)
    return entries


def leaderboard_ranking(*, period: Period, size: int | None, user_id: int | None) -> list[dict[str, Any]]:
    """The ranking of ``period`` from the ledger, one query: the top ``size`` members (all when ``None``) and
    ``user_id``'s row wherever it ranks. Rows: ``user_id``, ``account_id``, ``full_name``, ``score``, ``reached``,
    ``rank`` (1-based), best first."""
    ranked = (
        qualifying_entries(period=period)
        .order_by()
        .values("account_id", user_id=F("account__user_id"), full_name=F("account__user__full_name"))
        .annotate(score=Sum("qpoints"), reached=Max("created_at"))
        .annotate(
            rank=Window(
                RowNumber(),
                order_by=[F("score").desc(), F("reached").asc(), F("account__user_id").asc()],
            )
        )
    )
    if size is not None:
        wanted = Q(rank__lte=size)
        if user_id is not None:
            # A window expression too, so the filter stays one QUALIFY-like predicate (Django cannot mix a window
            # filter with a plain one in an OR over a grouped query).
            mine = Case(When(account__user_id=user_id, then=Value(1)), default=Value(0))
            ranked = ranked.annotate(mine=Window(Max(mine), partition_by=[F("account_id")]))
            wanted |= Q(mine=1)
        ranked = ranked.filter(wanted)
    rows = sorted(ranked, key=lambda row: row["rank"])
    for row in rows:
        row["reached"] = _aware(row["reached"])
    return rows


def _aware(value: Any) -> datetime:
    # SQLite's MAX() over a datetime column comes back as a string on some versions.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    return value  # type: ignore[no-any-return]
