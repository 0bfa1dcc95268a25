"""The wallet audit: every wallet's balances checked against its append-only ledger.

For each wallet it checks, in this order:

==========================  ===============================================================================
field                       recorded (on the wallet or a row) must equal expected
==========================  ===============================================================================
``available``               ``sum(amount)`` of its ledger
``held``                    ``sum(held_amount)`` of its ledger
``lifetime_earned``         ``sum(amount)`` of its ``cashback_credit`` and ``cashback_reversal`` rows
``pending``                 ``sum(amount - reversed_amount)`` of the user's ``pending`` and ``confirmed`` cashback
``last_balance_after``      the newest row's ``balance_after`` equals ``available``
``last_held_after``         the newest row's ``held_after`` equals ``held``
``chain_balance_after``     each row's ``balance_after`` equals the previous row's plus its ``amount``
``chain_held_after``        each row's ``held_after`` equals the previous row's plus its ``held_amount``
==========================  ===============================================================================

"Newest" and "previous" follow the primary key: rows are inserted under the wallet's row lock, so their ids
are in posting order (``created_at`` may repeat within a tick).

Cost: wallets are read in batches of ``BATCH_SIZE`` by primary key, four queries per batch whatever the number of
ledger rows: the wallets with their newest row (a correlated subquery), the ledger sums (one ``GROUP BY``), the
pending cashback sums (one ``GROUP BY``), and the broken links of the chain. The chain check is a window function
(``LAG`` over each wallet's rows by id, on PostgreSQL and SQLite alike) filtered in the database, so only broken
rows come back, never the ledger itself. Differences under half a paisa are ignored there because SQLite keeps
decimals as floating point (PostgreSQL's ``numeric`` is exact, so nothing real is hidden).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import DecimalField, F, OuterRef, Q, QuerySet, Subquery, Sum, Value, Window
from django.db.models.functions import Abs, Coalesce, Lag

from commerce.core.money import quantize

from ..models import UNCREDITED_STATUSES, ZERO, CashbackEntry, Wallet, WalletEntry, WalletEntryKind

BATCH_SIZE = 500
# Under half a paisa: float noise on SQLite, never a real difference (amounts have two places).
TOLERANCE = Decimal("0.005")
EARNING_KINDS = (WalletEntryKind.CASHBACK_CREDIT, WalletEntryKind.CASHBACK_REVERSAL)


@dataclass(frozen=True)
class WalletMismatch:
    """One check a wallet failed: ``field`` (see the module docstring), the value ``recorded`` on the wallet (or
    on the ledger row ``entry_id``) and the value the ledger says it should be."""

    wallet_id: int
    user_id: int
    field: str
    recorded: Decimal
    expected: Decimal
    entry_id: int | None = None

    def describe(self) -> str:
        where = f" (ledger row {self.entry_id})" if self.entry_id is not None else ""
        return (
            f"wallet {self.wallet_id} (user {self.user_id}): {self.field}{where} is {self.recorded}, "
            f"expected {self.expected}"
        )


@dataclass(frozen=True)
class WalletAuditResult:
    """How many wallets were checked and what failed."""

    checked: int
    mismatches: list[WalletMismatch]


def wallets_audit(*, wallet_ids: list[int] | None = None) -> list[WalletMismatch]:
    """Check every wallet (or only ``wallet_ids``) against its ledger; the mismatches found, empty when all add
    up. Reads only: safe to run at any time (a wallet posted to mid-audit may be read between two of its
    queries; run again before acting on a mismatch of a busy wallet)."""
    return wallets_audit_run(wallet_ids=wallet_ids).mismatches


def wallets_audit_run(*, wallet_ids: list[int] | None = None, batch_size: int = BATCH_SIZE) -> WalletAuditResult:
    """:func:`wallets_audit` with the number of wallets checked (for the command's summary and the metrics)."""
    checked = 0
    mismatches: list[WalletMismatch] = []
    for batch in _batches(wallet_ids=wallet_ids, batch_size=batch_size):
        checked += len(batch)
        mismatches.extend(_audit_batch(batch))
    return WalletAuditResult(checked=checked, mismatches=mismatches)


def _money_field() -> "DecimalField[Any, Decimal]":
    return DecimalField(max_digits=14, decimal_places=2)


def _wallets() -> QuerySet[Wallet]:
    newest = WalletEntry.objects.filter(wallet=OuterRef("pk")).order_by("-pk")
    return Wallet.objects.annotate(
        last_entry_id=Subquery(newest.values("pk")[:1]),
        last_balance_after=Subquery(newest.values("balance_after")[:1]),
        last_held_after=Subquery(newest.values("held_after")[:1]),
    ).order_by("pk")


def _batches(*, wallet_ids: list[int] | None, batch_size: int) -> Iterator[list[Wallet]]:
    """Wallets in primary-key order, ``batch_size`` at a time (keyset pagination: no OFFSET)."""
    wallets = _wallets()
    if wallet_ids is not None:
        wallets = wallets.filter(pk__in=wallet_ids)
    after = 0
    while True:
        batch = list(wallets.filter(pk__gt=after)[:batch_size])
        if not batch:
            return
        yield batch
        if len(batch) < batch_size:
            return
        after = batch[-1].pk


def _sums(
    values: QuerySet[WalletEntry] | QuerySet[CashbackEntry], group: str, **sums: Sum
) -> dict[int, dict[str, Any]]:
    rows = values.order_by().values(group).annotate(**sums)
    return {row[group]: row for row in rows}


def _audit_batch(batch: list[Wallet]) -> list[WalletMismatch]:
    ids = [wallet.pk for wallet in batch]
    ledger = _sums(
        WalletEntry.objects.filter(wallet_id__in=ids),
        "wallet_id",
        available=Sum("amount"),
        held=Sum("held_amount"),
        earned=Sum("amount", filter=Q(kind__in=EARNING_KINDS)),
    )
    pending = _sums(
        CashbackEntry.objects.filter(user_id__in=[wallet.user_id for wallet in batch], status__in=UNCREDITED_STATUSES),
        "user_id",
        pending=Sum(F("amount") - F("reversed_amount"), output_field=_money_field()),
    )
    mismatches: list[WalletMismatch] = []
    for wallet in batch:
        sums = ledger.get(wallet.pk, {})
        expected = {
            "available": sums.get("available"),
            "held": sums.get("held"),
            "lifetime_earned": sums.get("earned"),
            "pending": pending.get(wallet.user_id, {}).get("pending"),
        }
        for field, value in expected.items():
            mismatches.extend(_compare(wallet, field, getattr(wallet, field), value))
        if wallet.last_entry_id is not None:  # type: ignore[attr-defined]
            for field, balance in (("last_balance_after", "available"), ("last_held_after", "held")):
                mismatches.extend(
                    _compare(
                        wallet,
                        field,
                        getattr(wallet, field),
                        getattr(wallet, balance),
                        entry_id=wallet.last_entry_id,  # type: ignore[attr-defined]
                    )
                )
    mismatches.extend(_broken_links(batch))
    return mismatches


def _compare(
    wallet: Wallet, field: str, recorded: Decimal | None, expected: Decimal | None, *, entry_id: int | None = None
) -> list[WalletMismatch]:
    recorded_value = quantize(recorded if recorded is not None else ZERO, wallet.currency)
    expected_value = quantize(expected if expected is not None else ZERO, wallet.currency)
    if recorded_value == expected_value:
        return []
    return [
        WalletMismatch(
            wallet_id=wallet.pk,
            user_id=wallet.user_id,
            field=field,
            recorded=recorded_value,
            expected=expected_value,
            entry_id=entry_id,
        )
    ]


def _broken_links(batch: list[Wallet]) -> list[WalletMismatch]:
    """Ledger rows whose ``balance_after``/``held_after`` is not the previous row's plus the row's own movement
    (the first row's previous balances are zero): one query, only the broken rows come back."""
    zero = Value(ZERO, output_field=_money_field())

    def previous(column: str) -> Coalesce:
        lag = Window(Lag(column), partition_by=[F("wallet_id")], order_by=F("pk").asc())
        return Coalesce(lag, zero, output_field=_money_field())

    rows = (
        WalletEntry.objects.filter(wallet_id__in=[wallet.pk for wallet in batch])
        .annotate(previous_balance=previous("balance_after"), previous_held=previous("held_after"))
        .annotate(
            balance_gap=Abs(F("balance_after") - F("previous_balance") - F("amount")),
            held_gap=Abs(F("held_after") - F("previous_held") - F("held_amount")),
        )
        .filter(Q(balance_gap__gte=TOLERANCE) | Q(held_gap__gte=TOLERANCE))
        .order_by("wallet_id", "pk")
        .values_list(
            "pk",
            "wallet_id",
            "balance_after",
            "held_after",
            "amount",
            "held_amount",
            "previous_balance",
            "previous_held",
        )
    )
    wallets = {wallet.pk: wallet for wallet in batch}
    mismatches: list[WalletMismatch] = []
    for pk, wallet_id, balance_after, held_after, amount, held_amount, previous_balance, previous_held in rows:
        wallet = wallets[wallet_id]
        mismatches.extend(
            _compare(wallet, "chain_balance_after", balance_after, previous_balance + amount, entry_id=pk)
        )
        mismatches.extend(_compare(wallet, "chain_held_after", held_after, previous_held + held_amount, entry_id=pk))
    return mismatches
