"""Risk assessment of cashback: a 0-100 score from named, weighted rules, each kept with its reason.

:func:`risk_assess` gathers a few facts about the entry and its shopper, runs every rule, and writes a
:class:`~cashback.models.RiskAssessment`: ``score = min(100, sum of the weights of the rules that fired)``,
``rules = [{"code", "weight", "reason"}]`` in the order below, level ``high`` when the score is at least
``CASHBACK_RISK_REVIEW_THRESHOLD`` (50) and ``low`` below it. Moving the entry (credit it, or send it to the
review queue) is the caller's job (:func:`cashback.services.entries.cashback_assess`); this module only scores.

The rules (code, default weight, threshold setting with its default: what fires it):

* ``new_account`` (20; ``CASHBACK_RISK_NEW_ACCOUNT_DAYS``, 7): the account was younger than N days when the
  cashback was earned (the entry was created).
* ``velocity`` (25; ``CASHBACK_RISK_VELOCITY_24H``, 5): the shopper had more than N paid orders plus reported
  conversions in the 24 hours up to the cashback being earned (the entry's own order or conversion included).
* ``refund_ratio`` (30; ``CASHBACK_RISK_REFUND_RATIO``, 0.30, and ``CASHBACK_RISK_REFUND_MIN_ORDERS``, 3): the
  shopper has at least the minimum of paid orders, and the share of them with any refund is above the ratio.
* ``shared_phone`` (25): another account used one of this account's phones (its own phone, the phones on its
  orders): as its own phone, on one of its orders, or at sign-in (phone fingerprints).
* ``shared_device`` (30): another account signed in or up from one of this account's devices (``X-Device-Id``).
* ``shared_ip`` (15): another account signed in or up from one of this account's IP addresses.
* ``large_amount`` (20; ``CASHBACK_RISK_LARGE_AMOUNT``, 2000.00): the cashback, less any part already reversed, is
  above the amount (compared as a number in the entry's currency).
* ``risky_merchant`` (30): the merchant is flagged as risky in its cashback terms (``MerchantCashback.flagged_risky``).

Thresholds are strict where the words are: *younger than*, *more than*, *above* (an account exactly 7 days old,
exactly 5 orders, a ratio of exactly 0.30 or exactly 2000.00 do not fire).

Why "when the cashback was earned": an order's cashback is assessed after delivery and the return window (30 days),
so measured at assessment time the account would always be older than 7 days and the burst that earned it long
past. Refunds, sharing and the merchant's flag are read as they are at assessment time (refunds come later).

Weights: ``CASHBACK_RISK_WEIGHTS`` (``rule=weight`` pairs) overrides the defaults above; a weight of 0 turns a rule
off. Unknown rule names and weights outside 0-100 are *ignored with a warning* in the log (once per process and
value), so a typo in the environment cannot stop the workers crediting cashback; the default weight stays.

Cost: a fixed number of queries whatever the history (six, the insert included): the entry's shopper and merchant,
one aggregate over the shopper's orders, one count of conversions, the fingerprint sharing (one query), one count
of accounts sharing a phone, and the insert.
"""

import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from accounts.models import AccountFingerprint, FingerprintKind, User
from accounts.selectors import accounts_sharing_fingerprints
from accounts.services.fingerprints import fingerprint_hash
from cashback.models import CashbackEntry, Conversion, RiskAssessment, RiskLevel
from commerce.orders.models import Order

logger = logging.getLogger(__name__)

DEFAULT_WEIGHTS: dict[str, int] = {
    "new_account": 20,
    "velocity": 25,
    "refund_ratio": 30,
    "shared_phone": 25,
    "shared_device": 30,
    "shared_ip": 15,
    "large_amount": 20,
    "risky_merchant": 30,
}
MAX_SCORE = 100
VELOCITY_WINDOW = timedelta(hours=24)
_warned: set[str] = set()


@dataclass(frozen=True)
class RuleHit:
    """A rule that fired: its code, the weight it added and why, in words for staff."""

    code: str
    weight: int
    reason: str


@dataclass(frozen=True)
class RiskFacts:
    """What the rules look at, gathered in a fixed number of queries (:func:`risk_facts`)."""

    earned_at: datetime
    joined_at: datetime
    amount: Decimal
    currency: str
    merchant_name: str
    merchant_flagged: bool
    merchant_note: str
    orders_24h: int
    conversions_24h: int
    paid_orders: int
    refunded_orders: int
    shared_phone: int
    shared_device: int
    shared_ip: int


@dataclass(frozen=True)
class Thresholds:
    new_account_days: int
    velocity_24h: int
    refund_ratio: Decimal
    refund_min_orders: int
    large_amount: Decimal


# --- settings -----------------------------------------------------------------------------------------------------


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        logger.warning(message)


def risk_weights() -> dict[str, int]:
    """The weight of every rule: :data:`DEFAULT_WEIGHTS` with ``CASHBACK_RISK_WEIGHTS`` applied. Unknown names and
    weights that are not whole numbers from 0 to 100 are ignored with a warning."""
    weights = dict(DEFAULT_WEIGHTS)
    overrides: dict[str, Any] = dict(getattr(settings, "CASHBACK_RISK_WEIGHTS", {}) or {})
    for name, value in overrides.items():
        if name not in DEFAULT_WEIGHTS:
            _warn_once(
                f"CASHBACK_RISK_WEIGHTS names an unknown risk rule {name!r}; ignored "
                f"(rules: {', '.join(DEFAULT_WEIGHTS)})."
            )
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SCORE:
            _warn_once(
                f"CASHBACK_RISK_WEIGHTS gives {name!r} the weight {value!r}, not a whole number from 0 to "
                f"{MAX_SCORE}; the default {DEFAULT_WEIGHTS[name]} is used."
            )
            continue
        weights[name] = value
    return weights


def _decimal_setting(name: str, default: str) -> Decimal:
    raw = getattr(settings, name, default)
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise ImproperlyConfigured(f"{name} must be a decimal number, not {raw!r}.") from None
    if not value.is_finite() or value < 0:
        raise ImproperlyConfigured(f"{name} must be a decimal number of 0 or more, not {raw!r}.")
    return value


def risk_thresholds() -> Thresholds:
    """The rules' thresholds from the ``CASHBACK_RISK_*`` settings (read on every assessment)."""
    return Thresholds(
        new_account_days=int(getattr(settings, "CASHBACK_RISK_NEW_ACCOUNT_DAYS", 7)),
        velocity_24h=int(getattr(settings, "CASHBACK_RISK_VELOCITY_24H", 5)),
        refund_ratio=_decimal_setting("CASHBACK_RISK_REFUND_RATIO", "0.30"),
        refund_min_orders=settings.CASHBACK_RISK_REFUND_MIN_ORDERS,
        large_amount=_decimal_setting("CASHBACK_RISK_LARGE_AMOUNT", "2000.00"),
    )


# --- facts --------------------------------------------------------------------------------------------------------


def _accounts_sharing_a_phone(*, user_id: int, phone: str | None) -> int:
    """How many other accounts used one of this account's phones (its own, those on its orders): as their own
    phone, on one of their orders, or at sign-in (phone fingerprints). One query (a UNION of three lookups)."""
    mine = Order.objects.filter(user_id=user_id).exclude(phone="").values("phone")
    phones = Q(phone__in=mine) | Q(phone=phone) if phone else Q(phone__in=mine)
    own_hashes = AccountFingerprint.objects.filter(user_id=user_id, kind=FingerprintKind.PHONE).values("value_hash")
    hashes = Q(value_hash__in=own_hashes)
    if phone:
        with contextlib.suppress(ValueError):  # a phone stored before E.164 was enforced: no hash
            hashes |= Q(value_hash=fingerprint_hash(kind=FingerprintKind.PHONE, value=phone))
    as_own: QuerySet[Any] = User.objects.filter(phones).exclude(pk=user_id).values("pk").order_by()
    on_orders: QuerySet[Any] = Order.objects.filter(phones).exclude(user_id=user_id).values("user_id").order_by()
    at_sign_in: QuerySet[Any] = (
        AccountFingerprint.objects.filter(hashes, kind=FingerprintKind.PHONE)
        .exclude(user_id=user_id)
        .values("user_id")
        .order_by()
    )
    return as_own.union(on_orders, at_sign_in).count()


def risk_facts(*, entry: CashbackEntry) -> RiskFacts:
    """The facts the rules need about ``entry`` and its shopper (five queries, whatever the history)."""
    row = (
        CashbackEntry.objects.filter(pk=entry.pk)
        .values(
            "user__date_joined",
            "user__phone",
            "merchant__name",
            "merchant__cashback_terms__flagged_risky",
            "merchant__cashback_terms__risk_note",
        )
        .get()
    )
    earned_at = entry.created_at
    window = Q(paid_at__gt=earned_at - VELOCITY_WINDOW, paid_at__lte=earned_at)
    orders = Order.objects.filter(user_id=entry.user_id, paid_at__isnull=False).aggregate(
        paid=Count("pk"),
        refunded=Count("pk", filter=Q(refunded_amount__gt=0)),
        recent=Count("pk", filter=window),
    )
    conversions = Conversion.objects.filter(
        user_id=entry.user_id, reported_at__gt=earned_at - VELOCITY_WINDOW, reported_at__lte=earned_at
    ).count()
    shared = accounts_sharing_fingerprints(user_id=entry.user_id)
    return RiskFacts(
        earned_at=earned_at,
        joined_at=row["user__date_joined"],
        amount=entry.amount - entry.reversed_amount,
        currency=entry.currency,
        merchant_name=row["merchant__name"],
        merchant_flagged=bool(row["merchant__cashback_terms__flagged_risky"]),
        merchant_note=row["merchant__cashback_terms__risk_note"] or "",
        orders_24h=orders["recent"],
        conversions_24h=conversions,
        paid_orders=orders["paid"],
        refunded_orders=orders["refunded"],
        shared_phone=_accounts_sharing_a_phone(user_id=entry.user_id, phone=row["user__phone"]),
        shared_device=shared[FingerprintKind.DEVICE],
        shared_ip=shared[FingerprintKind.IP],
    )


# --- rules --------------------------------------------------------------------------------------------------------


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _new_account(facts: RiskFacts, limits: Thresholds) -> str | None:
    age = facts.earned_at - facts.joined_at
    if age >= timedelta(days=limits.new_account_days):
        return None
    when = "less than a day" if age.days < 1 else _plural(age.days, "day")
    return f"Account created {when} before this cashback was earned (under {limits.new_account_days})."


def _velocity(facts: RiskFacts, limits: Thresholds) -> str | None:
    total = facts.orders_24h + facts.conversions_24h
    if total <= limits.velocity_24h:
        return None
    return (
        f"{total} paid orders and conversions in the 24 hours up to this cashback "
        f"({_plural(facts.orders_24h, 'order')}, {_plural(facts.conversions_24h, 'conversion')}; "
        f"more than {limits.velocity_24h})."
    )


def _refund_ratio(facts: RiskFacts, limits: Thresholds) -> str | None:
    if facts.paid_orders < limits.refund_min_orders:
        return None
    ratio = Decimal(facts.refunded_orders) / Decimal(facts.paid_orders)
    if ratio <= limits.refund_ratio:
        return None
    return (
        f"{facts.refunded_orders} of {facts.paid_orders} paid orders refunded "
        f"({ratio * 100:.0f} %, over {limits.refund_ratio * 100:.0f} %)."
    )


def _shared(count: int, what: str) -> str | None:
    if count < 1:
        return None
    return f"{_plural(count, 'other account')} {'shares' if count == 1 else 'share'} {what}."


def _shared_phone(facts: RiskFacts, limits: Thresholds) -> str | None:
    return _shared(facts.shared_phone, "a phone number with this account (own phone, on an order or at sign-in)")


def _shared_device(facts: RiskFacts, limits: Thresholds) -> str | None:
    return _shared(facts.shared_device, "a device with this account (signed in or up from it)")


def _shared_ip(facts: RiskFacts, limits: Thresholds) -> str | None:
    return _shared(facts.shared_ip, "an IP address with this account (signed in or up from it)")


def _large_amount(facts: RiskFacts, limits: Thresholds) -> str | None:
    if facts.amount <= limits.large_amount:
        return None
    return f"Cashback of {facts.amount} {facts.currency} is over {limits.large_amount}."


def _risky_merchant(facts: RiskFacts, limits: Thresholds) -> str | None:
    if not facts.merchant_flagged:
        return None
    note = f": {facts.merchant_note.rstrip('.')}" if facts.merchant_note else ""
    return f"Merchant {facts.merchant_name} is flagged as risky{note}."


RULES = {
    "new_account": _new_account,
    "velocity": _velocity,
    "refund_ratio": _refund_ratio,
    "shared_phone": _shared_phone,
    "shared_device": _shared_device,
    "shared_ip": _shared_ip,
    "large_amount": _large_amount,
    "risky_merchant": _risky_merchant,
}


def risk_rules_evaluate(*, facts: RiskFacts, weights: dict[str, int], limits: Thresholds) -> list[RuleHit]:
    """The rules that fire on ``facts``, in the order of :data:`RULES`; rules weighted 0 are off."""
    hits = []
    for code, rule in RULES.items():
        weight = weights[code]
        if weight <= 0:
            continue
        reason = rule(facts, limits)
        if reason is not None:
            hits.append(RuleHit(code=code, weight=weight, reason=reason))
    return hits


def risk_level_for(*, score: int) -> str:
    """``high`` from ``CASHBACK_RISK_REVIEW_THRESHOLD`` (50) up, else ``low``."""
    threshold = int(getattr(settings, "CASHBACK_RISK_REVIEW_THRESHOLD", 50))
    return str(RiskLevel.HIGH) if score >= threshold else str(RiskLevel.LOW)


def risk_assess(*, entry: CashbackEntry, now: datetime | None = None) -> RiskAssessment:
    """Score ``entry`` and write its :class:`RiskAssessment` (kept for every assessment, never changed).

    Runs inside the caller's transaction (``cashback_assess`` holds the entry's lock) and moves nothing: the caller
    credits the entry or sends it to review from the returned ``level``, and copies ``score`` and ``level`` to the
    entry. A fixed number of queries whatever the shopper's history (see the module docstring).
    """
    hits = risk_rules_evaluate(facts=risk_facts(entry=entry), weights=risk_weights(), limits=risk_thresholds())
    score = min(MAX_SCORE, sum(hit.weight for hit in hits))
    return RiskAssessment.objects.create(
        entry=entry,
        score=score,
        level=risk_level_for(score=score),
        rules=[{"code": hit.code, "weight": hit.weight, "reason": hit.reason} for hit in hits],
        created_at=now or timezone.now(),
    )
