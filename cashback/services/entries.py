"""The lifecycle of cashback entries: the only code that creates an entry or changes its status or amounts.

::

    pending --> confirmed --> credited --> reversed
       \\            \\
        +-------------+--> rejected

* **Created** ``pending`` when an order is paid (:func:`cashback_create_for_order`) or a merchant reports a
  conversion (:func:`cashback_sync_conversion`); the amount (see :mod:`.calculation`) joins the wallet's
  ``pending`` balance. Nothing earned (rate zero, another currency): no entry.
* **Confirmed** when the return window has passed: an order's entry once ``expected_on`` (delivery day plus
  ``CASHBACK_RETURN_WINDOW_DAYS``) is today or earlier (:func:`cashbacks_confirm_due`); a conversion's when the
  merchant approves it.
* **Assessed** (:func:`cashback_assess`): the risk area scores the confirmed entry. Low risk: **credited** at once
  (``pending`` down, a ``cashback_credit`` ledger row up). High risk: stays ``confirmed`` with
  ``risk_level="high"``, which is the staff review queue; staff approve (:func:`cashback_approve`, credited) or
  reject (:func:`cashback_reject`).
* **Refunds** (:func:`cashback_order_refunded`) take back in proportion to what was refunded: from ``pending``
  before the credit (everything taken back: ``rejected``, "Order refunded"), with a ``cashback_reversal`` ledger
  row after it (everything taken back: ``reversed``). ``amount`` is never edited; ``reversed_amount`` grows.

Every change locks the entry first (``SELECT ... FOR UPDATE``), then the wallet (:func:`wallet_lock`), re-checks
on the locked rows, checks :data:`CASHBACK_TRANSITIONS`, writes a :class:`CashbackEntryEvent`, and schedules the
shopper's message after commit. Creating an order's entry locks the order row first (the cause), so it is
serialised with the order's refunds. Every function is idempotent: called again with nothing new it changes
nothing, so tasks may run twice.
"""

import logging
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User
from accounts.services.audit import audit_record
from commerce.core.errors import Conflict, DomainError, InvalidInput, NotFoundError
from commerce.core.money import quantize
from commerce.orders.models import Order, OrderStatus, PaymentStatus

from ..models import (
    CASHBACK_TRANSITIONS,
    UNCREDITED_STATUSES,
    ZERO,
    CashbackEntry,
    CashbackEntryEvent,
    CashbackSource,
    CashbackStatus,
    Conversion,
    ConversionStatus,
    MerchantCashback,
    RiskLevel,
    WalletEntryKind,
)
from .calculation import CashbackQuote, cashback_quote_order, cashback_quote_sale, cashback_rate_for
from .notify_cashback import cashback_notify
from .risk import risk_assess
from .wallet import wallet_lock, wallet_pending_change, wallet_post

logger = logging.getLogger(__name__)

# Payment statuses of an order that earns cashback. A partly refunded order still does (in proportion): its
# entry may be created late, by the sweep, after a refund.
EARNING_PAYMENT_STATUSES = (PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED)
EARNING_ORDER_STATUSES = (OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.DELIVERED)
REFUND_REASON = "Order refunded"
CONVERSION_CANCELLED_REASON = "The merchant cancelled the sale"
MAX_NOTE = 300
# The time field each status move stamps.
_STAMPS: dict[str, str] = {
    CashbackStatus.CONFIRMED: "confirmed_at",
    CashbackStatus.CREDITED: "credited_at",
    CashbackStatus.REJECTED: "closed_at",
    CashbackStatus.REVERSED: "closed_at",
}


# --- small helpers -------------------------------------------------------------------------------------------


def _event(
    entry: CashbackEntry,
    *,
    from_status: str = "",
    to_status: str = "",
    amount: Decimal = ZERO,
    note: str = "",
    actor: User | None = None,
) -> CashbackEntryEvent:
    return CashbackEntryEvent.objects.create(
        entry=entry, from_status=from_status, to_status=to_status, amount=amount, note=note[:MAX_NOTE], actor=actor
    )


def _move(
    entry: CashbackEntry, to_status: str, *, note: str = "", actor: User | None = None, amount: Decimal = ZERO
) -> None:
    """Move a locked entry to ``to_status`` (allowed by :data:`CASHBACK_TRANSITIONS`), stamp the time, save and
    write the event. Balances are the caller's business."""
    from_status = entry.status
    if to_status not in CASHBACK_TRANSITIONS[from_status]:
        raise Conflict(f"Cashback that is {from_status} cannot become {to_status}.", code="invalid_transition")
    now = timezone.now()
    entry.status = to_status
    fields = ["status", "updated_at"]
    stamp = _STAMPS[to_status]
    setattr(entry, stamp, now)
    fields.append(stamp)
    if to_status in (CashbackStatus.REJECTED, CashbackStatus.REVERSED) and note:
        entry.reason = note[:MAX_NOTE]
        fields.append("reason")
    entry.save(update_fields=fields)
    _event(entry, from_status=from_status, to_status=to_status, note=note, actor=actor, amount=amount)


def _lock(entry_id: int) -> CashbackEntry:
    entry = CashbackEntry.objects.select_for_update().filter(pk=entry_id).first()
    if entry is None:
        raise NotFoundError("No such cashback entry.", code="cashback_not_found")
    return entry


def _terms(merchant_id: int) -> MerchantCashback | None:
    return MerchantCashback.objects.filter(merchant_id=merchant_id).first()


def _credit_locked(entry: CashbackEntry, *, note: str, actor: User | None = None) -> None:
    """Credit a locked confirmed entry: its net leaves ``pending`` and enters ``available`` as one
    ``cashback_credit`` ledger row (key ``cashback-credit:<entry id>``)."""
    net = entry.net_amount
    _move(entry, CashbackStatus.CREDITED, note=note, actor=actor, amount=net)
    wallet = wallet_lock(user_id=entry.user_id)
    wallet_pending_change(wallet=wallet, delta=-net)
    wallet_post(
        wallet=wallet,
        kind=WalletEntryKind.CASHBACK_CREDIT,
        amount=net,
        key=f"cashback-credit:{entry.pk}",
        cashback_entry=entry,
        actor=actor,
        reason=note,
    )
    cashback_notify(entry_id=entry.pk, kind=CashbackStatus.CREDITED, amount=net)


def _reject_locked(entry: CashbackEntry, *, reason: str, actor: User | None = None) -> None:
    """Reject a locked pending or confirmed entry: what was still pending leaves the wallet's ``pending``."""
    net = entry.net_amount
    _move(entry, CashbackStatus.REJECTED, note=reason, actor=actor, amount=net)
    if net > 0:
        wallet = wallet_lock(user_id=entry.user_id)
        wallet_pending_change(wallet=wallet, delta=-net)
    cashback_notify(entry_id=entry.pk, kind=CashbackStatus.REJECTED, amount=entry.amount)


def _take_back_locked(entry: CashbackEntry, *, part: Decimal, reason: str, actor: User | None = None) -> None:
    """Take ``part`` (0 < part <= net) back from a locked entry.

    Not yet credited: the part leaves ``pending``; when nothing is left the entry is rejected. Credited: a
    ``cashback_reversal`` ledger row of ``-part`` (key ``cashback-reversal:<entry id>:<reversed_amount after>``,
    unique per step) lowers ``available`` (possibly below zero) and ``lifetime_earned``; when nothing is left the
    entry is reversed.
    """
    if part <= 0 or part > entry.net_amount:
        raise ValueError(f"Cannot take back {part} of cashback entry {entry.pk} (net {entry.net_amount}).")
    if entry.status not in (*UNCREDITED_STATUSES, CashbackStatus.CREDITED):
        raise Conflict(f"Cashback that is {entry.status} has nothing to take back.", code="invalid_transition")
    credited = entry.status == CashbackStatus.CREDITED
    entry.reversed_amount += part
    entry.save(update_fields=["reversed_amount", "updated_at"])
    _event(entry, amount=part, note=f"{reason}: {part} {entry.currency} taken back", actor=actor)
    wallet = wallet_lock(user_id=entry.user_id)
    if not credited:
        wallet_pending_change(wallet=wallet, delta=-part)
        if entry.net_amount == 0:
            _move(entry, CashbackStatus.REJECTED, note=reason, actor=actor)
            cashback_notify(entry_id=entry.pk, kind=CashbackStatus.REJECTED, amount=entry.amount)
        return
    wallet_post(
        wallet=wallet,
        kind=WalletEntryKind.CASHBACK_REVERSAL,
        amount=-part,
        key=f"cashback-reversal:{entry.pk}:{entry.reversed_amount}",
        cashback_entry=entry,
        actor=actor,
        reason=reason,
    )
    if entry.net_amount == 0:
        _move(entry, CashbackStatus.REVERSED, note=reason, actor=actor)
    else:
        # A partial reversal keeps the entry credited; the reason tells the shopper why it shrank.
        entry.reason = reason[:MAX_NOTE]
        entry.save(update_fields=["reason", "updated_at"])
    cashback_notify(entry_id=entry.pk, kind=CashbackStatus.REVERSED, amount=part)


def _create(*, quote: CashbackQuote, note: str, **source: Any) -> CashbackEntry:
    """Insert a pending entry for ``quote`` and add it to the wallet's ``pending`` (inside the caller's
    transaction; the one-to-one on the order or conversion refuses a second entry)."""
    entry = CashbackEntry.objects.create(
        currency=quote.currency,
        base_amount=quote.base_amount,
        rate=quote.rate,
        amount=quote.amount,
        offer_id=quote.offer_id,
        status=CashbackStatus.PENDING,
        **source,
    )
    capped = f"; capped by the {quote.capped_by} maximum" if quote.capped_by else ""
    _event(entry, to_status=CashbackStatus.PENDING, amount=entry.amount, note=f"{note}{capped}")
    wallet = wallet_lock(user_id=entry.user_id)
    wallet_pending_change(wallet=wallet, delta=entry.amount)
    return entry


# --- orders ------------------------------------------------------------------------------------------------


def _refund_target(*, amount: Decimal, refunded: Decimal, total: Decimal, currency: str) -> Decimal:
    """What refunds take back of ``amount`` in all: ``amount * refunded / total`` (rounded once), all of it when
    the order is fully refunded."""
    if refunded <= 0:
        return ZERO
    if total <= 0 or refunded >= total:
        return amount
    return min(amount, quantize(amount * refunded / total, currency))


def _apply_order_refund_locked(entry: CashbackEntry, order: Order) -> bool:
    target = _refund_target(
        amount=entry.amount, refunded=order.refunded_amount, total=order.total, currency=entry.currency
    )
    part = target - entry.reversed_amount
    if part <= 0 or entry.status not in (*UNCREDITED_STATUSES, CashbackStatus.CREDITED):
        return False
    _take_back_locked(entry, part=part, reason=REFUND_REASON)
    return True


def cashback_create_for_order(*, order_id: int) -> CashbackEntry | None:
    """The order's pending cashback entry, created the first time (idempotent: the existing one afterwards).

    Acts only on an order that is paid (or partly refunded, then created already reduced in proportion) and
    not cancelled. None when the order earns nothing (no such order, unpaid, rate zero, another currency).
    """
    existing = CashbackEntry.objects.filter(order_id=order_id).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            # The order first (the cause; its refunds lock it too), so a refund is either seen here or applied
            # to the entry by its own event afterwards.
            order = Order.objects.select_for_update().filter(pk=order_id).first()
            if order is None or order.payment_status not in EARNING_PAYMENT_STATUSES:
                return None
            if order.status not in EARNING_ORDER_STATUSES:
                return None
            existing = CashbackEntry.objects.filter(order_id=order_id).first()
            if existing is not None:
                return existing
            quote = cashback_quote_order(order=order, terms=_terms(order.merchant_id))
            if quote.amount <= 0:
                return None
            entry = _create(
                quote=quote,
                note=f"Order {order.number} paid: {quote.rate} % of {quote.base_amount}",
                user_id=order.user_id,
                merchant_id=order.merchant_id,
                source=CashbackSource.ORDER,
                order=order,
            )
            if order.delivered_at is not None:
                _set_expected_locked(entry, order)
            if order.refunded_amount > 0:
                _apply_order_refund_locked(entry, order)
            return entry
    except IntegrityError:
        # Another worker created it between our check and insert: the one-to-one refused ours.
        existing = CashbackEntry.objects.filter(order_id=order_id).first()
        if existing is None:
            raise
        return existing


def expected_on_for(*, delivered_at: datetime) -> date:
    """The day an order's cashback is due: the local delivery day plus ``CASHBACK_RETURN_WINDOW_DAYS``."""
    days = int(settings.CASHBACK_RETURN_WINDOW_DAYS)
    return timezone.localdate(delivered_at) + timedelta(days=days)


def _set_expected_locked(entry: CashbackEntry, order: Order) -> None:
    assert order.delivered_at is not None
    entry.expected_on = expected_on_for(delivered_at=order.delivered_at)
    entry.save(update_fields=["expected_on", "updated_at"])
    _event(entry, note=f"Order {order.number} delivered; expected on {entry.expected_on.isoformat()}")


def cashback_order_delivered(*, order_id: int) -> CashbackEntry | None:
    """Set ``expected_on`` of a delivered order's pending entry (creating the entry first if its task was
    lost). Idempotent: an entry that already has ``expected_on`` is returned unchanged."""
    if cashback_create_for_order(order_id=order_id) is None:
        return None
    with transaction.atomic():
        entry = CashbackEntry.objects.select_for_update().filter(order_id=order_id).first()
        if entry is None:
            return None
        if entry.expected_on is not None or entry.status != CashbackStatus.PENDING:
            return entry
        order = Order.objects.only("number", "status", "delivered_at").get(pk=order_id)
        if order.status != OrderStatus.DELIVERED or order.delivered_at is None:
            return entry
        _set_expected_locked(entry, order)
        return entry


def cashback_order_refunded(*, order_id: int) -> CashbackEntry | None:
    """Take back the order's cashback in proportion to what has been refunded so far.

    The target is ``quantize(amount * min(refunded, total) / total)`` (all of it when fully refunded); what is
    taken now is the target less ``reversed_amount``, when positive. So a refund event delivered twice, or
    late, changes nothing the second time. None when the order has no entry.
    """
    with transaction.atomic():
        entry = CashbackEntry.objects.select_for_update().filter(order_id=order_id).first()
        if entry is None:
            return None
        # Not locked: ``refunded_amount`` only grows, and each refund sends its own event after its commit, so
        # the last event applies the final amount.
        order = Order.objects.only("total", "refunded_amount").get(pk=order_id)
        _apply_order_refund_locked(entry, order)
        return entry


# --- conversions -------------------------------------------------------------------------------------------


def _create_for_conversion(conversion: Conversion) -> CashbackEntry | None:
    rate = cashback_rate_for(merchant=conversion.merchant, offer=conversion.offer)
    quote = cashback_quote_sale(
        sale_amount=conversion.sale_amount,
        currency=conversion.currency,
        rate=rate,
        offer_id=conversion.offer_id,
        terms=_terms(conversion.merchant_id),
    )
    if quote.amount <= 0:
        return None
    return _create(
        quote=quote,
        note=f"Sale {conversion.reference} reported: {quote.rate} % of {quote.base_amount}",
        user_id=conversion.user_id,
        merchant_id=conversion.merchant_id,
        source=CashbackSource.CONVERSION,
        conversion=conversion,
    )


def _sync_conversion_locked(conversion: Conversion) -> CashbackEntry | None:
    entry = CashbackEntry.objects.select_for_update().filter(conversion_id=conversion.pk).first()
    if entry is None:
        if conversion.status == ConversionStatus.CANCELLED:
            return None
        entry = _create_for_conversion(conversion)
        if entry is None:
            return None
    if conversion.status == ConversionStatus.APPROVED and entry.status == CashbackStatus.PENDING:
        if entry.expected_on is None:
            entry.expected_on = timezone.localdate()
            entry.save(update_fields=["expected_on", "updated_at"])
        _move(entry, CashbackStatus.CONFIRMED, note=f"Sale {conversion.reference} approved by the merchant")
    elif conversion.status == ConversionStatus.CANCELLED:
        if entry.status in UNCREDITED_STATUSES:
            _reject_locked(entry, reason=CONVERSION_CANCELLED_REASON)
        elif entry.status == CashbackStatus.CREDITED:
            _take_back_locked(entry, part=entry.net_amount, reason=CONVERSION_CANCELLED_REASON)
    return entry


def cashback_sync_conversion(*, conversion_id: int) -> CashbackEntry | None:
    """Bring the conversion's entry in line with the conversion's status.

    ``pending``: a pending entry is created (base: the sale amount; rate: the offer's, else the merchant's);
    ``approved``: created if missing, then confirmed (``expected_on`` today; the next risk run credits it);
    ``cancelled``: a pending or confirmed entry is rejected, a credited one fully reversed. Idempotent. None when
    the conversion earns nothing (or was cancelled before it had an entry).
    """
    try:
        with transaction.atomic():
            # The conversion first (the cause), then the entry, then the wallet.
            conversion = (
                Conversion.objects.select_for_update(of=("self",))
                .select_related("merchant", "offer")
                .filter(pk=conversion_id)
                .first()
            )
            if conversion is None:
                return None
            return _sync_conversion_locked(conversion)
    except IntegrityError:
        if not CashbackEntry.objects.filter(conversion_id=conversion_id).exists():
            raise
        return cashback_sync_conversion(conversion_id=conversion_id)


# --- confirmation, risk and review ---------------------------------------------------------------------------


def cashback_confirm(*, entry_id: int, actor: User | None = None, note: str = "") -> CashbackEntry:
    """Confirm a pending entry (its return window passed, or staff decided so). An entry already confirmed is
    returned unchanged; any other status is a 409 ``invalid_transition``, as is one with nothing left."""
    with transaction.atomic():
        entry = _lock(entry_id)
        if entry.status == CashbackStatus.CONFIRMED:
            return entry
        if entry.status == CashbackStatus.PENDING and entry.net_amount <= 0:
            raise Conflict("Nothing is left of this cashback to confirm.", code="invalid_transition")
        _move(entry, CashbackStatus.CONFIRMED, note=note or "Return window passed", actor=actor)
        return entry


def _due(today: date) -> Q:
    return Q(
        status=CashbackStatus.PENDING,
        source=CashbackSource.ORDER,
        expected_on__isnull=False,
        expected_on__lte=today,
        amount__gt=F("reversed_amount"),
    )


def _confirm_skipping_locked(entry_id: int, today: date) -> bool:
    skip_locked = connection.features.has_select_for_update_skip_locked
    with transaction.atomic():
        entry = (
            CashbackEntry.objects.select_for_update(skip_locked=skip_locked).filter(_due(today), pk=entry_id).first()
        )
        if entry is None:  # a refund holds it, another run took it, or it is no longer due
            return False
        _move(entry, CashbackStatus.CONFIRMED, note="Return window passed")
        return True


def cashbacks_confirm_due(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Confirm every pending order entry whose ``expected_on`` is today or earlier and that has something left,
    ``batch_size`` ids at a time (through the ``(status, expected_on)`` index), each in its own transaction; an
    entry another transaction holds (``SKIP LOCKED`` on PostgreSQL) is left for the next run. Returns how many
    were confirmed."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError("batch_size must be a positive whole number.")
    today = timezone.localdate(now or timezone.now())
    confirmed = 0
    after: tuple[date | None, int] | None = None
    while True:
        candidates = CashbackEntry.objects.filter(_due(today))
        if after is not None:
            candidates = candidates.filter(Q(expected_on__gt=after[0]) | Q(expected_on=after[0], pk__gt=after[1]))
        batch = list(candidates.order_by("expected_on", "pk").values_list("expected_on", "pk")[:batch_size])
        for _, entry_id in batch:
            try:
                confirmed += _confirm_skipping_locked(entry_id, today)
            except (DomainError, DatabaseError):
                logger.exception("cashback entry %s could not be confirmed; the next run tries again", entry_id)
        if len(batch) < batch_size:
            break
        after = batch[-1]
    if confirmed:
        logger.info("confirmed %s cashback entries", confirmed)
    return confirmed


def cashback_assess(*, entry_id: int) -> CashbackEntry:
    """Risk-score a confirmed entry (:func:`cashback.services.risk.risk_assess` writes the assessment) and keep
    the score and level on it. Low: credited at once. High: stays confirmed, in the staff review queue. An entry
    already assessed, or no longer confirmed, is returned unchanged."""
    with transaction.atomic():
        entry = _lock(entry_id)
        if entry.status != CashbackStatus.CONFIRMED or entry.risk_level:
            return entry
        assessment = risk_assess(entry=entry)
        entry.risk_score = assessment.score
        entry.risk_level = assessment.level
        entry.save(update_fields=["risk_score", "risk_level", "updated_at"])
        _event(entry, note=f"Risk assessed: {assessment.score}/100 ({assessment.level})")
        if assessment.level == RiskLevel.LOW:
            _credit_locked(entry, note="Low risk: credited")
        return entry


def cashbacks_process_confirmed(*, batch_size: int = 200) -> int:
    """Assess confirmed entries not yet scored, oldest first, at most ``batch_size`` per run, each in its own
    transaction (one failing is logged and left for the next run). Returns how many were assessed."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError("batch_size must be a positive whole number.")
    ids = list(
        CashbackEntry.objects.filter(status=CashbackStatus.CONFIRMED, risk_level=RiskLevel.NOT_ASSESSED)
        .order_by("confirmed_at", "pk")
        .values_list("pk", flat=True)[:batch_size]
    )
    assessed = 0
    for entry_id in ids:
        try:
            cashback_assess(entry_id=entry_id)
            assessed += 1
        except (DomainError, DatabaseError):
            logger.exception("cashback entry %s could not be assessed; the next run tries again", entry_id)
    return assessed


def cashback_approve(*, entry_id: int, actor: User, note: str = "") -> CashbackEntry:
    """Staff approve a confirmed entry from the review queue: it is credited. Audited ``cashback.approved``.
    409 ``invalid_transition`` unless the entry is confirmed."""
    note = (note or "").strip()
    with transaction.atomic():
        entry = _lock(entry_id)
        if entry.status != CashbackStatus.CONFIRMED:
            raise Conflict(
                f"Only confirmed cashback can be approved; this is {entry.status}.", code="invalid_transition"
            )
        before = {"status": entry.status, "risk_score": entry.risk_score, "risk_level": entry.risk_level}
        _credit_locked(entry, note=note or "Approved by staff", actor=actor)
        audit_record(
            action="cashback.approved",
            target=entry,
            actor=actor,
            before=before,
            after={"status": entry.status, "amount": str(entry.net_amount), "note": note},
        )
        return entry


def cashback_reject(*, entry_id: int, actor: User | None, reason: str) -> CashbackEntry:
    """Reject a pending or confirmed entry with a reason (shown to the shopper); its pending money leaves the
    wallet's ``pending``. Audited ``cashback.rejected`` when staff did it. 400 without a reason, 409
    ``invalid_transition`` for an entry already credited or closed."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("A reason is required.", fields={"reason": ["A reason is required."]})
    with transaction.atomic():
        entry = _lock(entry_id)
        if entry.status not in UNCREDITED_STATUSES:
            raise Conflict(f"Cashback that is {entry.status} cannot be rejected.", code="invalid_transition")
        before = {"status": entry.status, "risk_score": entry.risk_score, "risk_level": entry.risk_level}
        _reject_locked(entry, reason=reason, actor=actor)
        if actor is not None:
            audit_record(
                action="cashback.rejected",
                target=entry,
                actor=actor,
                before=before,
                after={"status": entry.status, "amount": str(entry.amount), "reason": reason[:MAX_NOTE]},
            )
        return entry


# --- the safety net for lost tasks -----------------------------------------------------------------------------


def cashbacks_backfill(*, now: datetime | None = None, days: int | None = None, limit: int = 500) -> int:
    """Repair what lost tasks missed; returns how many entries were created or given ``expected_on``.

    1. Orders placed in the last ``days`` (``CASHBACK_BACKFILL_DAYS``, 3) that are paid, fulfilled or delivered
       and have no entry get one. The query walks ``orders_order_status_idx`` (status, placed_at) and checks the
       entry through its unique ``order_id`` index (an anti-join), so it stays cheap however many orders exist.
       Orders that earn nothing come back each run until they leave the window; ``limit`` bounds the work.
    2. Pending order entries without ``expected_on`` whose order is delivered get it: the
       ``(status, expected_on)`` index finds the pending entries not yet due, joined to their order by key.
    """
    now = now or timezone.now()
    days = days if days is not None else settings.CASHBACK_BACKFILL_DAYS
    repaired = 0
    missing = list(
        Order.objects.filter(
            status__in=EARNING_ORDER_STATUSES,
            placed_at__gte=now - timedelta(days=days),
            payment_status__in=EARNING_PAYMENT_STATUSES,
            cashback__isnull=True,
        )
        .order_by("placed_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    for order_id in missing:
        try:
            repaired += cashback_create_for_order(order_id=order_id) is not None
        except (DomainError, DatabaseError):
            logger.exception("cashback of order %s could not be created; the next run tries again", order_id)
    undated = list(
        CashbackEntry.objects.filter(
            status=CashbackStatus.PENDING,
            expected_on__isnull=True,
            source=CashbackSource.ORDER,
            order__status=OrderStatus.DELIVERED,
        )
        .order_by("pk")
        .values_list("order_id", flat=True)[:limit]
    )
    for order_id in undated:
        assert order_id is not None
        try:
            entry = cashback_order_delivered(order_id=order_id)
            repaired += entry is not None and entry.expected_on is not None
        except (DomainError, DatabaseError):
            logger.exception("cashback of order %s could not be dated; the next run tries again", order_id)
    if repaired:
        logger.warning("cashback backfill repaired %s entries whose task was lost", repaired)
    return repaired
