"""Reads of cashback and wallets, each to a fixed number of queries, for the shopper's API and the back office.

Shopper reads (another user's rows are never reachable: every query starts from the user):

* :func:`cashback_list`: the user's cashback entries, newest first, optionally of one status; one query per page
  (plus the paginator's count), merchant, order number and conversion reference joined.
* :func:`wallet_summary`: the balances of the user's wallet, one query; a user without a wallet gets zeros in
  ``DEFAULT_CURRENCY`` and no row is created (a GET writes nothing).
* :func:`wallet_transactions`: the user's ledger, newest first; one query per page (plus the count), the causes
  (cashback entry with its order/conversion, withdrawal) joined so :func:`wallet_entry_description` reads nothing.

Back office reads: :func:`review_queue` (confirmed high-risk entries, riskiest first), :func:`review_totals`,
:func:`withdrawals_awaiting_totals` and :func:`credited_totals` (the dashboard's figures, one aggregate query
each), and the masking of withdrawal destinations (:func:`mask_vpa`, :func:`mask_account_number`).
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, F, QuerySet, Sum

from accounts.models import User
from commerce.core.errors import InvalidInput
from commerce.core.money import default_currency, quantize

from .models import (
    ZERO,
    CashbackEntry,
    CashbackSource,
    CashbackStatus,
    RiskLevel,
    Wallet,
    WalletEntry,
    WalletEntryKind,
    Withdrawal,
    WithdrawalMethod,
    WithdrawalStatus,
)

# --- masking --------------------------------------------------------------------------------------------------


def mask_vpa(vpa: str) -> str:
    """``priya.sharma@okaxis`` -> ``pr***@okaxis``: the first two characters of the name and the handle (the
    shape ``cashback.services.withdrawals`` shows too)."""
    name, _, handle = (vpa or "").partition("@")
    return f"{name[:2]}***@{handle}"


def mask_account_number(number: str) -> str:
    """``123456789012`` -> ``XXXXXX9012``: only the last four digits."""
    return f"XXXXXX{(number or '')[-4:]}"


def withdrawal_destination_masked(withdrawal: Withdrawal) -> str:
    """``UPI pr***@okaxis`` or ``bank account XXXXXX9012 (HDFC0001234)``: enough for the shopper or support to
    recognise it, never enough to pay to it."""
    if withdrawal.method == WithdrawalMethod.UPI:
        return f"UPI {mask_vpa(withdrawal.vpa)}"
    return f"bank account {mask_account_number(withdrawal.account_number)} ({withdrawal.ifsc})"


# --- the shopper's cashback -----------------------------------------------------------------------------------


def _status_filter(status: str | None) -> str | None:
    if status in (None, ""):
        return None
    if status not in CashbackStatus.values:
        raise InvalidInput(
            f"Unknown status {str(status)[:40]!r}.",
            fields={"status": [f"Must be one of: {', '.join(CashbackStatus.values)}."]},
        )
    return status


def cashback_list(*, user: User, status: str | None = None) -> QuerySet[CashbackEntry]:
    """``user``'s cashback entries, newest first, with ``merchant``, ``order`` (number) and ``conversion``
    (reference) joined. ``status`` must be a :class:`~cashback.models.CashbackStatus` value (400
    ``fields.status`` otherwise); empty means every status."""
    entries = (
        CashbackEntry.objects.filter(user=user)
        .select_related("merchant", "order", "conversion")
        .only(
            "id",
            "user_id",
            "source",
            "currency",
            "amount",
            "reversed_amount",
            "status",
            "expected_on",
            "reason",
            "created_at",
            "credited_at",
            "merchant__id",
            "merchant__slug",
            "merchant__name",
            "order__id",
            "order__number",
            "conversion__id",
            "conversion__reference",
        )
    )
    wanted = _status_filter(status)
    if wanted is not None:
        entries = entries.filter(status=wanted)
    return entries.order_by("-created_at", "-id")


def cashback_source(entry: CashbackEntry) -> dict[str, str]:
    """``{"type": "order", "number"}`` or ``{"type": "conversion", "merchant", "reference"}`` (merchant slug)."""
    if entry.source == CashbackSource.ORDER and entry.order is not None:
        return {"type": CashbackSource.ORDER.value, "number": entry.order.number}
    reference = entry.conversion.reference if entry.conversion is not None else ""
    return {"type": CashbackSource.CONVERSION.value, "merchant": entry.merchant.slug, "reference": reference}


# --- the shopper's wallet -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WalletSummary:
    """A wallet's balances as the shopper sees them. ``withdrawable`` is ``available`` floored at zero (a negative
    balance, left by a reversal after a withdrawal, blocks withdrawals until it is positive again)."""

    currency: str
    available: Decimal
    pending: Decimal
    held: Decimal
    lifetime_earned: Decimal
    withdrawable: Decimal
    minimum_withdrawal: Decimal


def withdrawal_minimum(currency: str) -> Decimal:
    """``WITHDRAWAL_MINIMUM`` (in ``DEFAULT_CURRENCY``) at the currency's places."""
    return quantize(str(getattr(settings, "WITHDRAWAL_MINIMUM", "100.00") or "0"), currency)


def wallet_summary(*, user: User) -> WalletSummary:
    """The balances of ``user``'s wallet in one query; zeros in ``DEFAULT_CURRENCY`` when there is no wallet yet
    (nothing is created by a read)."""
    row = Wallet.objects.filter(user=user).values("currency", "available", "pending", "held", "lifetime_earned").first()
    if row is None:
        currency = default_currency()
        return WalletSummary(
            currency=currency,
            available=ZERO,
            pending=ZERO,
            held=ZERO,
            lifetime_earned=ZERO,
            withdrawable=ZERO,
            minimum_withdrawal=withdrawal_minimum(currency),
        )
    available: Decimal = row["available"]
    return WalletSummary(
        currency=row["currency"],
        available=available,
        pending=row["pending"],
        held=row["held"],
        lifetime_earned=row["lifetime_earned"],
        withdrawable=max(available, ZERO),
        minimum_withdrawal=withdrawal_minimum(row["currency"]),
    )


def wallet_transactions(*, user: User) -> QuerySet[WalletEntry]:
    """``user``'s ledger, newest first, with each row's cause joined (cashback entry with its merchant, order and
    conversion; withdrawal) and the wallet (for the currency)."""
    return (
        WalletEntry.objects.filter(wallet__user=user)
        .select_related(
            "wallet",
            "cashback_entry__merchant",
            "cashback_entry__order",
            "cashback_entry__conversion",
            "withdrawal",
        )
        .order_by("-created_at", "-id")
    )


def _cashback_label(entry: CashbackEntry | None) -> str:
    if entry is None:
        return "cashback"
    if entry.source == CashbackSource.ORDER and entry.order is not None:
        return f"order {entry.order.number}"
    reference = entry.conversion.reference if entry.conversion is not None else ""
    return f"your purchase at {entry.merchant.name} ({reference})"


def wallet_entry_description(row: WalletEntry) -> str:
    """A sentence for the shopper: "Cashback for order ORD-ABC123", "Withdrawal to UPI pr***@okaxis", ...

    Reads only what :func:`wallet_transactions` joins. A staff adjustment shows its reason (the admin's form
    says the shopper sees it)."""
    destination = withdrawal_destination_masked(row.withdrawal) if row.withdrawal is not None else "your account"
    kind = row.kind
    if kind == WalletEntryKind.CASHBACK_CREDIT:
        return f"Cashback for {_cashback_label(row.cashback_entry)}"
    if kind == WalletEntryKind.CASHBACK_REVERSAL:
        entry = row.cashback_entry
        why = " (refund)" if entry is not None and entry.source == CashbackSource.ORDER else ""
        return f"Cashback taken back for {_cashback_label(entry)}{why}"
    if kind == WalletEntryKind.WITHDRAWAL_HOLD:
        return f"Withdrawal to {destination}"
    if kind == WalletEntryKind.WITHDRAWAL_RELEASE:
        return f"Withdrawal to {destination} returned to your balance"
    if kind == WalletEntryKind.WITHDRAWAL_PAID:
        return f"Withdrawal to {destination} paid"
    return f"Adjustment: {row.reason}" if row.reason else "Adjustment"


# --- back office ----------------------------------------------------------------------------------------------


def review_queue() -> QuerySet[CashbackEntry]:
    """Confirmed entries whose risk assessment sent them to staff review, riskiest first, oldest first among
    equals (the partial index ``cashback_entry_review_idx`` covers it)."""
    return CashbackEntry.objects.filter(status=CashbackStatus.CONFIRMED, risk_level=RiskLevel.HIGH).order_by(
        "-risk_score", "created_at", "id"
    )


@dataclass(frozen=True)
class Totals:
    """How many rows, and their amounts per currency."""

    count: int
    amounts: dict[str, Decimal]


def _totals(queryset: QuerySet[Any], *, amount: Any = "amount", currency: str = "currency") -> Totals:
    rows = list(queryset.order_by().values(currency).annotate(n=Count("id"), total=Sum(amount)))
    return Totals(
        count=sum(row["n"] for row in rows),
        amounts={row[currency]: row["total"] or ZERO for row in sorted(rows, key=lambda r: r[currency])},
    )


def review_totals() -> Totals:
    """Cashback awaiting staff review: how many entries and how much (net of refunds), per currency."""
    return _totals(review_queue(), amount=F("amount") - F("reversed_amount"))


def withdrawals_awaiting_totals() -> Totals:
    """Withdrawals requested and not yet approved or rejected."""
    return _totals(Withdrawal.objects.filter(status=WithdrawalStatus.REQUESTED))


def credited_totals(*, since: datetime) -> Totals:
    """Cashback credited to wallets since ``since`` (the ledger's credits: what reached the wallets)."""
    credits = WalletEntry.objects.filter(kind=WalletEntryKind.CASHBACK_CREDIT, created_at__gte=since)
    return _totals(credits, currency="wallet__currency")
