"""Achievements: data (:class:`~loyalty.models.Achievement`) awarded once per member when a criterion reaches its
target, possibly with points.

Progress is always computed from the database, never counted up by events, so it cannot drift and any event may
re-evaluate (the follow-ups of every qualifying entry call :func:`achievements_evaluate`; so can anything else):

* ``orders``: the member's paid orders (status paid, fulfilled or delivered);
* ``spend``: the same orders' totals less what was refunded of them, in ``DEFAULT_CURRENCY``;
* ``weekly_streak``: the longest run of consecutive ISO weeks (Monday to Sunday, in the site's time zone) with a
  paid order, up to now; runs cross year boundaries (week 52 of one year then week 1 of the next is a run of two);
* ``categories``: distinct categories of those orders' lines;
* ``referrals``: referrals the member made that were rewarded.

One query per criterion in use, plus one for the achievements and awards: a fixed number whatever the history.

Awarding (:func:`achievements_evaluate`) locks the member's points account (serialising two evaluations of one
member), re-checks, then inserts the :class:`~loyalty.models.AchievementAward` in a savepoint (its unique
constraint is the last guard: a duplicate means already awarded), posts an ``earn`` entry (qualifying, key
``achievement:<code>:<user id>``) when it grants points, and notifies the member after commit. An award is kept
even if progress later falls back (a refund): achievements are never taken away.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, DecimalField, Exists, F, OuterRef, Sum, Value
from django.db.models.functions import Coalesce, TruncWeek
from django.utils import timezone

from commerce.core.money import quantize
from commerce.orders.models import Order, OrderLine, OrderStatus
from commerce.orders.services.notify import format_money

from ..models import (
    Achievement,
    AchievementAward,
    AchievementCriterion,
    PointsEntryKind,
    Referral,
    ReferralStatus,
)
from .ledger import points_account_lock, points_post
from .notify_members import member_notify

PAID_STATUSES = (OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.DELIVERED)
UNITS: dict[str, tuple[str, str]] = {
    AchievementCriterion.ORDERS: ("order", "orders"),
    AchievementCriterion.WEEKLY_STREAK: ("week in a row", "weeks in a row"),
    AchievementCriterion.CATEGORIES: ("category", "categories"),
    AchievementCriterion.REFERRALS: ("friend referred", "friends referred"),
}


def longest_weekly_streak(weeks: list[date]) -> int:
    """The longest run of consecutive weeks among ``weeks`` (each the Monday starting a week, any order)."""
    best = run = 0
    previous: date | None = None
    for week in sorted(set(weeks)):
        run = run + 1 if previous is not None and week - previous == timedelta(days=7) else 1
        best, previous = max(best, run), week
    return best


def _paid_orders(user_id: int, now: datetime) -> Any:
    return Order.objects.filter(user_id=user_id, status__in=PAID_STATUSES, paid_at__lte=now).order_by()


def achievement_progress_values(*, user_id: int, criteria: set[str], now: datetime) -> dict[str, Decimal]:
    """The member's current value of each criterion in ``criteria`` (one query each; orders and spend share
    one)."""
    values: dict[str, Decimal] = {}
    if criteria & {AchievementCriterion.ORDERS, AchievementCriterion.SPEND}:
        zero = Value(Decimal("0.00"), output_field=DecimalField(max_digits=14, decimal_places=2))
        totals = _paid_orders(user_id, now).aggregate(
            orders=Count("pk"), spend=Coalesce(Sum(F("total") - F("refunded_amount")), zero)
        )
        values[AchievementCriterion.ORDERS] = Decimal(totals["orders"])
        values[AchievementCriterion.SPEND] = max(Decimal("0.00"), Decimal(totals["spend"]))
    if AchievementCriterion.WEEKLY_STREAK in criteria:
        weeks = _paid_orders(user_id, now).annotate(week=TruncWeek("paid_at")).values_list("week", flat=True)
        mondays = [week.date() if isinstance(week, datetime) else week for week in weeks.distinct()]
        values[AchievementCriterion.WEEKLY_STREAK] = Decimal(longest_weekly_streak(mondays))
    if AchievementCriterion.CATEGORIES in criteria:
        categories = (
            OrderLine.objects.filter(order__user_id=user_id, order__status__in=PAID_STATUSES, order__paid_at__lte=now)
            .order_by()
            .aggregate(n=Count("category_id", distinct=True))["n"]
        )
        values[AchievementCriterion.CATEGORIES] = Decimal(categories)
    if AchievementCriterion.REFERRALS in criteria:
        referrals = Referral.objects.filter(referrer_id=user_id, status=ReferralStatus.REWARDED).count()
        values[AchievementCriterion.REFERRALS] = Decimal(referrals)
    return values


def progress_label(*, criterion: str, current: Decimal, target: Decimal) -> str:
    """``3 / 5 orders``, ``1 / 1 order``, ``₹2,500.00 / ₹10,000.00 spent``, ``2 / 4 weeks in a row``."""
    if criterion == AchievementCriterion.SPEND:
        currency = settings.DEFAULT_CURRENCY
        return f"{format_money(current, currency)} / {format_money(target, currency)} spent"
    singular, plural = UNITS.get(criterion, ("", ""))
    unit = singular if target == 1 else plural
    return f"{int(current)} / {int(target)} {unit}".rstrip()


def _number(value: Decimal, criterion: str) -> str:
    """A progress figure as JSON carries it: a decimal string, two places for spend, whole for counts."""
    if criterion == AchievementCriterion.SPEND:
        return str(quantize(value, settings.DEFAULT_CURRENCY))
    return str(int(value))


def _award(*, user_id: int, achievement: Achievement, now: datetime) -> AchievementAward | None:
    """Award ``achievement`` to the member unless already awarded (re-checked under the account's lock; the unique
    constraint is the last guard). Points and the message follow in the same transaction / after commit."""
    with transaction.atomic():
        account = points_account_lock(user_id=user_id)
        if AchievementAward.objects.filter(user_id=user_id, achievement=achievement).exists():
            return None
        try:
            with transaction.atomic():
                award = AchievementAward.objects.create(user_id=user_id, achievement=achievement, awarded_at=now)
        except IntegrityError:
            return None  # awarded by a concurrent evaluation
        if achievement.points > 0:
            award.entry = points_post(
                account=account,
                kind=PointsEntryKind.EARN,
                points=achievement.points,
                key=f"achievement:{achievement.code}:{user_id}",
                qualifying=True,
                rule_code=f"achievement:{achievement.code}"[:60],
                reason=f"Achievement unlocked: {achievement.name}",
                now=now,
            )
            award.save(update_fields=["entry"])
        member_notify(
            user_id=user_id,
            kind="achievement_unlocked",
            context={
                "achievement": achievement.name,
                "description": achievement.description,
                "points": achievement.points,
            },
        )
        return award


def achievements_evaluate(*, user_id: int, now: datetime | None = None) -> list[AchievementAward]:
    """Award every active achievement the member has completed and not yet earned; returns the new awards.
    Idempotent; two evaluations at once award each achievement once."""
    now = now or timezone.now()
    awarded = AchievementAward.objects.filter(user_id=user_id, achievement=OuterRef("pk"))
    open_ = list(Achievement.objects.filter(is_active=True).exclude(Exists(awarded)).order_by("pk"))
    if not open_:
        return []
    values = achievement_progress_values(
        user_id=user_id, criteria={achievement.criterion for achievement in open_}, now=now
    )
    awards: list[AchievementAward] = []
    for achievement in open_:
        if values.get(achievement.criterion, Decimal(0)) >= achievement.target:
            award = _award(user_id=user_id, achievement=achievement, now=now)
            if award is not None:
                awards.append(award)
    return awards


def achievements_progress(*, user_id: int, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every active achievement with the member's progress, earned first (newest award first), then the rest in
    catalogue order: ``{"code", "name", "description", "badge" (the image's URL or None), "earned", "earned_at",
    "progress": {"current", "target", "label"}, "points"}``. ``current`` is capped at ``target`` (an earned
    achievement shows full progress even after a refund). Fixed queries: achievements with the member's awards
    (two) plus one per criterion in use."""
    now = now or timezone.now()
    achievements = list(Achievement.objects.filter(is_active=True).order_by("criterion", "target", "pk"))
    if not achievements:
        return []
    earned_at = dict(
        AchievementAward.objects.filter(user_id=user_id, achievement__in=[a.pk for a in achievements])
        .order_by()
        .values_list("achievement_id", "awarded_at")
    )
    values = achievement_progress_values(user_id=user_id, criteria={a.criterion for a in achievements}, now=now)
    rows: list[dict[str, Any]] = []
    for achievement in achievements:
        earned = achievement.pk in earned_at
        actual, target = values.get(achievement.criterion, Decimal(0)), achievement.target
        current = target if earned else min(actual, target)
        rows.append(
            {
                "code": achievement.code,
                "name": achievement.name,
                "description": achievement.description,
                "badge": achievement.badge.url if achievement.badge else None,
                "earned": earned,
                "earned_at": earned_at.get(achievement.pk),
                "progress": {
                    "current": _number(current, achievement.criterion),
                    "target": _number(achievement.target, achievement.criterion),
                    "label": progress_label(
                        criterion=achievement.criterion, current=current, target=achievement.target
                    ),
                },
                "points": achievement.points,
            }
        )
    earned_rows = sorted((r for r in rows if r["earned"]), key=lambda r: r["earned_at"], reverse=True)
    return earned_rows + [r for r in rows if not r["earned"]]
