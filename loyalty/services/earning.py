"""Earning points: the rules that price an order in points, order points pending then confirmed, what refunds take
back, and one-off event points. Every balance change goes through :mod:`loyalty.services.ledger`.

Lifecycle of an order's points::

    order paid  --> earn_pending (+pending, key "order-earn:<order>")
                      |-- refund / cancellation --> pending_reversal (-pending)
    delivered + CASHBACK_RETURN_WINDOW_DAYS --> confirm (pending -> available, key "order-confirm:<order>")
                      |-- refund afterwards --> reversal (-available, never below zero)

Lock order: the order row (the cause) first, then the points account (:func:`points_account_lock`). Each service
re-checks on the locked rows, so a task delivered twice, late, or racing the periodic sweep changes nothing the first
run did not.
"""

import logging
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from commerce.catalog.models import Category
from commerce.core.errors import DomainError, InvalidInput
from commerce.orders.models import Order, OrderLine, OrderStatus, PaymentStatus

from ..models import (
    Campaign,
    EarningEvent,
    EarningRule,
    EarningRuleKind,
    PointsAccount,
    PointsEntry,
    PointsEntryKind,
    Tier,
)
from .ledger import points_account_lock, points_post

logger = logging.getLogger(__name__)

ONE = Decimal("1")
# An order earns while paid (or partly refunded: then created already reduced) and not cancelled.
EARNING_PAYMENT_STATUSES = (PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED)
EARNING_ORDER_STATUSES = (OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.DELIVERED)
# Orders paid this recently whose earning task was lost get their pending entry from the periodic sweep.
BACKFILL_DAYS = 3
MAX_REASON = 300
MAX_RULE_CODE = 60


@dataclass(frozen=True)
class EarnQuote:
    """What an order earns: ``points`` in all, the spend rules that fired, and why (one clause per rule group)."""

    points: int
    rule_codes: tuple[str, ...]
    reason: str


# --- quoting ---------------------------------------------------------------------------------------------------


def _fmt(value: Decimal) -> str:
    """``Decimal("2.00")`` -> ``"2"``, ``Decimal("1.25")`` -> ``"1.25"`` (for reasons)."""
    return format(value.normalize(), "f")


def _specificity(rule: EarningRule, line_category: int, parent: int | None, merchant_id: int) -> tuple[int, int] | None:
    """How well ``rule`` fits a line (lower is better), or None when it does not match: merchant and category,
    then category, then merchant, then the general rule; a rule on the line's own category beats one on its parent.
    """
    if rule.merchant_id is not None and rule.merchant_id != merchant_id:
        return None
    if rule.category_id is not None:
        if rule.category_id == line_category:
            own = 0
        elif parent is not None and rule.category_id == parent:
            own = 1
        else:
            return None
        return (0 if rule.merchant_id is not None else 1, own)
    return (2 if rule.merchant_id is not None else 3, 0)


def _rule_for(rules: list[EarningRule], category_id: int, parent: int | None, merchant_id: int) -> EarningRule | None:
    best: tuple[tuple[int, int, int], EarningRule] | None = None
    for rule in rules:
        fit = _specificity(rule, category_id, parent, merchant_id)
        if fit is None:
            continue
        key = (*fit, rule.pk)
        if best is None or key < best[0]:
            best = (key, rule)
    return best[1] if best else None


def _campaign_for(campaigns: list[Campaign], category_id: int, parent: int | None, merchant_id: int) -> Campaign | None:
    """The live campaign with the largest multiplier matching a line (merchant, category or parent, or global);
    ties go to the earlier-created campaign."""
    best: Campaign | None = None
    for campaign in campaigns:
        if campaign.merchant_id is not None and campaign.merchant_id != merchant_id:
            continue
        if campaign.category_id is not None and campaign.category_id not in (category_id, parent):
            continue
        if best is None or campaign.multiplier > best.multiplier:
            best = campaign
    return best


def _where(rule: EarningRule, names: dict[str, str]) -> str:
    parts = []
    if rule.merchant_id is not None:
        parts.append(f" at {names.get(f'm{rule.merchant_id}', '')}")
    if rule.category_id is not None:
        parts.append(f" in {names.get(f'c{rule.category_id}', '')}")
    return "".join(parts)


def _clause(
    *,
    rule: EarningRule,
    base: Decimal,
    tier: Tier | None,
    tier_multiplier: Decimal,
    campaign: Campaign | None,
    points: int,
    names: dict[str, str],
) -> str:
    unit = "pt" if rule.points_per_unit == ONE else "pts"
    text = f"{_fmt(rule.points_per_unit)} {unit} per {rule.unit_amount}{_where(rule, names)}: {_fmt(base)} pts"
    multiplied = False
    if tier is not None and tier_multiplier != ONE:
        text += f" x{_fmt(tier_multiplier)} {tier.name}"
        multiplied = True
    if campaign is not None and campaign.multiplier != ONE:
        text += f" x{_fmt(campaign.multiplier)} {campaign.name}"
        multiplied = True
    if multiplied or Decimal(points) != base:
        text += f" = {points}"
    return text


def _live_campaigns(now: datetime) -> list[Campaign]:
    return list(
        Campaign.objects.filter(is_active=True, starts_at__lte=now, ends_at__gt=now).order_by("created_at", "id")
    )


def _names(order: Order, rules: list[EarningRule]) -> dict[str, str]:
    """Display names of the merchants and categories the rules name (one query each, only when needed)."""
    from commerce.catalog.models import Merchant

    names: dict[str, str] = {}
    merchant_ids = {r.merchant_id for r in rules if r.merchant_id is not None}
    category_ids = {r.category_id for r in rules if r.category_id is not None}
    if merchant_ids:
        names.update(
            {f"m{pk}": name for pk, name in Merchant.objects.filter(pk__in=merchant_ids).values_list("pk", "name")}
        )
    if category_ids:
        names.update(
            {f"c{pk}": name for pk, name in Category.objects.filter(pk__in=category_ids).values_list("pk", "name")}
        )
    return names


def points_quote_order(*, order: Order, tier: Tier | None, now: datetime) -> EarnQuote:
    """The points ``order`` earns for a member of ``tier`` at ``now`` (a pure read).

    The rule, exactly:

    1. Only an order in ``DEFAULT_CURRENCY`` earns (anything else: 0 points, no rule).
    2. Each line goes to the most specific active ``spend`` rule that matches it: merchant and category, else
       category, else merchant, else the general rule. A category rule matches the line's category or its parent
       (the line's own category wins over the parent; then the older rule).
    3. Each line takes the largest multiplier among the live campaigns that match it (``is_active``,
       ``starts_at <= now < ends_at``; the order's merchant, the line's category or parent, or everything); none: x1.
    4. Lines that share a rule and a campaign form a group. A group earns
       ``floor(net / unit_amount * points_per_unit * tier multiplier * campaign multiplier)``, where ``net`` is
       the sum of its lines' ``line_total - discount`` (no shipping). All multiplication is exact (Decimal); the
       floor is taken once per group, never per line. The order earns the sum of its groups.

    ``reason`` holds one clause per group, e.g. ``"1 pt per 10.00 at Threads: 99.8 pts x1.25 Silver x2 Weekend
    double = 249"`` (joined by ``"; "``, cut at 300 characters).
    """
    currency = str(settings.DEFAULT_CURRENCY)
    if order.currency != currency:
        return EarnQuote(points=0, rule_codes=(), reason=f"Only orders in {currency} earn points")
    rules = list(EarningRule.objects.filter(kind=EarningRuleKind.SPEND, is_active=True).order_by("id"))
    if not rules:
        return EarnQuote(points=0, rule_codes=(), reason="No earning rule is active")
    campaigns = _live_campaigns(now)
    tier_multiplier = tier.earn_multiplier if tier is not None else ONE
    lines: QuerySet[OrderLine] = order.lines.select_related("category")
    groups: dict[tuple[int, int | None], Decimal] = defaultdict(Decimal)
    by_id: dict[int, EarningRule] = {r.pk: r for r in rules}
    campaign_by_id: dict[int, Campaign] = {c.pk: c for c in campaigns}
    for line in lines:
        parent = line.category.parent_id
        rule = _rule_for(rules, line.category_id, parent, order.merchant_id)
        if rule is None:
            continue
        campaign = _campaign_for(campaigns, line.category_id, parent, order.merchant_id)
        groups[(rule.pk, campaign.pk if campaign else None)] += line.line_total - line.discount
    if not groups:
        return EarnQuote(points=0, rule_codes=(), reason="No earning rule matches the order's lines")
    names = _names(order, [by_id[rule_id] for rule_id, _ in groups])
    total = 0
    clauses: list[str] = []
    codes: list[str] = []
    for (rule_id, campaign_id), net in sorted(groups.items(), key=lambda item: (item[0][0], item[0][1] or 0)):
        rule = by_id[rule_id]
        campaign = campaign_by_id[campaign_id] if campaign_id is not None else None
        base = max(net, Decimal(0)) / rule.unit_amount * rule.points_per_unit
        points = math.floor(base * tier_multiplier * (campaign.multiplier if campaign else ONE))
        total += points
        if rule.code not in codes:
            codes.append(rule.code)
        clauses.append(
            _clause(
                rule=rule,
                base=base.quantize(Decimal("0.01")) if base != base.to_integral_value() else base.to_integral_value(),
                tier=tier,
                tier_multiplier=tier_multiplier,
                campaign=campaign,
                points=points,
                names=names,
            )
        )
    return EarnQuote(points=total, rule_codes=tuple(codes), reason=_cut("; ".join(clauses)))


def _cut(text: str, limit: int = MAX_REASON) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- order points ----------------------------------------------------------------------------------------------


def _entry(key: str) -> PointsEntry | None:
    entry: PointsEntry | None = PointsEntry.objects.filter(key=key).first()
    return entry


def _earn_key(order_id: int) -> str:
    return f"order-earn:{order_id}"


def _lock_order(order_id: int) -> Order | None:
    return Order.objects.select_for_update().filter(pk=order_id).first()


def _is_first_paid_order(order: Order) -> bool:
    earlier = Order.objects.filter(user_id=order.user_id, paid_at__isnull=False).exclude(pk=order.pk)
    if order.paid_at is not None:
        earlier = earlier.filter(Q(paid_at__lt=order.paid_at) | Q(paid_at=order.paid_at, pk__lt=order.pk))
    return not earlier.exists()


def points_earn_for_order(*, order_id: int) -> PointsEntry | None:
    """The paid order's ``earn_pending`` entry (pending points = :func:`points_quote_order` at the time it was
    paid, qualifying), created the first time; idempotent (the existing entry afterwards, key
    ``order-earn:<id>``). The member's first paid order also earns the ``first_order`` event points. A partly
    refunded order is created already reduced. None when the order earns nothing (unpaid, cancelled, another
    currency, no rule)."""
    existing = _entry(_earn_key(order_id))
    if existing is not None:
        return existing
    with transaction.atomic():
        order = _lock_order(order_id)
        if order is None or order.payment_status not in EARNING_PAYMENT_STATUSES:
            return None
        if order.status not in EARNING_ORDER_STATUSES:
            return None
        account = points_account_lock(user_id=order.user_id)
        existing = _entry(_earn_key(order_id))
        if existing is not None:
            return existing
        if order.currency == str(settings.DEFAULT_CURRENCY) and _is_first_paid_order(order):
            _award_event_locked(account, event=EarningEvent.FIRST_ORDER, order=order)
        quote = points_quote_order(order=order, tier=account.tier, now=order.paid_at or timezone.now())
        if quote.points <= 0:
            return None
        entry = points_post(
            account=account,
            kind=PointsEntryKind.EARN_PENDING,
            pending_points=quote.points,
            key=_earn_key(order.pk),
            qualifying=True,
            order=order,
            rule_code=",".join(quote.rule_codes)[:MAX_RULE_CODE],
            reason=_cut(f"Order {order.number}: {quote.reason}"),
        )
        if order.refunded_amount > 0:
            _refund_locked(order, account)
        return entry


def _return_window() -> timedelta:
    return timedelta(days=int(settings.CASHBACK_RETURN_WINDOW_DAYS))


def _pending_left(order_id: int) -> int:
    left = PointsEntry.objects.filter(order_id=order_id).aggregate(total=Sum("pending_points"))["total"]
    return int(left or 0)


def _confirm_one(order_id: int, cutoff: datetime, now: datetime) -> bool:
    skip_locked = connection.features.has_select_for_update_skip_locked
    with transaction.atomic():
        order = (
            Order.objects.select_for_update(skip_locked=skip_locked)
            .filter(pk=order_id, status=OrderStatus.DELIVERED, delivered_at__lte=cutoff)
            .first()
        )
        if order is None:  # a refund holds it, another run took it, or it is no longer due
            return False
        account = points_account_lock(user_id=order.user_id)
        left = _pending_left(order.pk)
        if left <= 0:
            return False
        points_post(
            account=account,
            kind=PointsEntryKind.CONFIRM,
            points=left,
            pending_points=-left,
            key=f"order-confirm:{order.pk}",
            order=order,
            reason=f"Order {order.number}: return window passed",
            now=now,
        )
        return True


def points_confirm_due(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Make available the pending points of every order delivered at least ``CASHBACK_RETURN_WINDOW_DAYS`` ago
    (``delivered_at + window <= now``) that still has pending points: one ``confirm`` entry per order (key
    ``order-confirm:<id>``, so at most once), ``batch_size`` orders at a time, each in its own transaction; an
    order another transaction holds (``SKIP LOCKED`` on PostgreSQL) waits for the next run. Returns how many
    orders were confirmed."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError("batch_size must be a positive whole number.")
    now = now or timezone.now()
    cutoff = now - _return_window()
    confirmed = 0
    after = 0
    while True:
        batch = list(
            PointsEntry.objects.filter(
                order__status=OrderStatus.DELIVERED, order__delivered_at__lte=cutoff, order_id__gt=after
            )
            .values("order_id")
            .annotate(left=Sum("pending_points"))
            .filter(left__gt=0)
            .order_by("order_id")
            .values_list("order_id", flat=True)[:batch_size]
        )
        for order_id in batch:
            try:
                confirmed += _confirm_one(order_id, cutoff, now)
            except (DomainError, DatabaseError):
                logger.exception("points of order %s could not be confirmed; the next run tries again", order_id)
        if len(batch) < batch_size:
            break
        after = batch[-1]
    if confirmed:
        logger.info("confirmed the pending points of %s orders", confirmed)
    return confirmed


def points_backfill(*, now: datetime | None = None, days: int = BACKFILL_DAYS) -> int:
    """Create the missing ``earn_pending`` entries of orders paid in the last ``days`` days whose earning task
    was lost (each through :func:`points_earn_for_order`, so idempotent). Returns how many were created."""
    now = now or timezone.now()
    earned = PointsEntry.objects.filter(kind=PointsEntryKind.EARN_PENDING, order__isnull=False).values("order_id")
    ids = list(
        Order.objects.filter(
            paid_at__gte=now - timedelta(days=days),
            payment_status__in=EARNING_PAYMENT_STATUSES,
            status__in=EARNING_ORDER_STATUSES,
            currency=str(settings.DEFAULT_CURRENCY),
        )
        .exclude(pk__in=earned)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    created = 0
    for order_id in ids:
        try:
            created += points_earn_for_order(order_id=order_id) is not None
        except (DomainError, DatabaseError):
            logger.exception("points of order %s could not be created; the next run tries again", order_id)
    return created


# --- refunds ---------------------------------------------------------------------------------------------------


def _refund_target(*, earned: int, order: Order) -> int:
    """What refunds take back of ``earned`` in all: ``floor(earned * min(refunded, total) / total)``; all of it
    when the order is fully refunded or was cancelled after payment."""
    if order.status == OrderStatus.CANCELLED or order.payment_status == PaymentStatus.REFUNDED:
        return earned
    refunded = order.refunded_amount
    if refunded <= 0:
        return 0
    if order.total <= 0 or refunded >= order.total:
        return earned
    return min(earned, int(Decimal(earned) * refunded // order.total))  # positive: // is floor


def _taken_so_far(order_id: int) -> int:
    sums = PointsEntry.objects.filter(
        order_id=order_id, kind__in=(PointsEntryKind.PENDING_REVERSAL, PointsEntryKind.REVERSAL)
    ).aggregate(pending=Sum("pending_points"), available=Sum("points"))
    return -int(sums["pending"] or 0) - int(sums["available"] or 0)


def _refund_locked(order: Order, account: PointsAccount) -> PointsEntry | None:
    """Take back, from a locked order and account, what refunds so far owe and has not been taken yet: from
    pending while the points are pending (``pending_reversal``), else from available (``reversal``), never below
    zero. Points the member already spent are not taken (the reason says how many), and stay owed: a later refund
    event of the same order tries again."""
    earn = PointsEntry.objects.filter(key=_earn_key(order.pk)).only("pending_points").first()
    if earn is None:
        return None
    taken = _taken_so_far(order.pk)
    part = _refund_target(earned=earn.pending_points, order=order) - taken
    if part <= 0:
        return None
    entry: PointsEntry | None = None
    from_pending = min(part, _pending_left(order.pk))
    if from_pending > 0:
        taken += from_pending
        entry = points_post(
            account=account,
            kind=PointsEntryKind.PENDING_REVERSAL,
            pending_points=-from_pending,
            key=f"order-pending-reversal:{order.pk}:{taken}",
            qualifying=True,
            order=order,
            reason=f"Order {order.number} refunded: {from_pending} pending points taken back",
        )
    rest = part - from_pending
    if rest > 0:
        can = min(rest, account.available)
        if can > 0:
            taken += can
            short = rest - can
            note = f"; {short} already spent, not taken" if short else ""
            entry = points_post(
                account=account,
                kind=PointsEntryKind.REVERSAL,
                points=-can,
                key=f"order-reversal:{order.pk}:{taken}",
                qualifying=True,
                order=order,
                reason=f"Order {order.number} refunded: {can} points taken back{note}",
            )
        else:
            logger.info("order %s refunded: %s points owed but the member has none available", order.pk, rest)
    return entry


def points_order_refunded(*, order_id: int) -> PointsEntry | None:
    """Take back exactly what the refunded part of the order earned (see :func:`_refund_target`), less what was
    taken already: so a refund event delivered twice, or late, changes nothing the second time. Also right for a
    paid order cancelled (everything). Returns the last entry written, None when nothing was taken."""
    if not PointsEntry.objects.filter(key=_earn_key(order_id)).exists():
        return None
    with transaction.atomic():
        order = _lock_order(order_id)
        if order is None:
            return None
        account = points_account_lock(user_id=order.user_id)
        return _refund_locked(order, account)


# --- event points ----------------------------------------------------------------------------------------------


def _event_key(event: str, user_id: int) -> str:
    return f"event:{event}:{user_id}"


def _award_event_locked(account: PointsAccount, *, event: str, order: Order | None = None) -> PointsEntry | None:
    key = _event_key(event, account.user_id)
    existing = _entry(key)
    if existing is not None:
        return existing
    rule = EarningRule.objects.filter(kind=EarningRuleKind.EVENT, event=event, is_active=True).first()
    if rule is None or rule.fixed_points <= 0:
        return None
    return points_post(
        account=account,
        kind=PointsEntryKind.EARN,
        points=rule.fixed_points,
        key=key,
        qualifying=True,
        order=order,
        rule_code=rule.code[:MAX_RULE_CODE],
        reason=_cut(f"{rule.name}: {rule.fixed_points} pts"),
    )


def points_award_event(*, user_id: int, event: str) -> PointsEntry | None:
    """Award the active ``event`` rule's fixed points (an ``earn`` entry: available at once, qualifying) once per
    member (key ``event:<event>:<user id>``; the existing entry afterwards). None when no rule for the event is
    active. An unknown event is a 400."""
    if event not in EarningEvent.values:
        raise InvalidInput(f"Unknown earning event {event!r}.", fields={"event": ["Not an earning event."]})
    existing = _entry(_event_key(event, user_id))
    if existing is not None:
        return existing
    with transaction.atomic():
        account = points_account_lock(user_id=user_id)
        return _award_event_locked(account, event=event)
