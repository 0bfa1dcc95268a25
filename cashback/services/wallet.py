"""The wallet ledger: the only code that changes a wallet's balances or writes a :class:`WalletEntry`.

Every movement goes through :func:`wallet_post`, called inside the caller's transaction with the wallet row
already locked (:func:`wallet_lock`); it checks the movement's signs for its kind, refuses a withdrawal hold
larger than what is available, updates the balances and appends the ledger row with the balances after it. The
row's unique ``key`` names its cause, so a movement posted twice fails at the database even if a caller's own
re-check were wrong.

The ``pending`` balance (cashback on its way) is not a ledger movement: :func:`wallet_pending_change` moves it,
under the same lock, when an entry is created, reduced by a refund, credited or rejected.

Staff adjustments (:func:`wallet_adjust`) need a reason and leave an audit row (``wallet.adjusted``).
"""

from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction

from accounts.models import User
from accounts.services.audit import audit_record
from commerce.core.errors import Conflict, InvalidInput
from commerce.core.money import MAX_AMOUNT, MoneyError, quantize

from ..models import ZERO, CashbackEntry, Wallet, WalletEntry, WalletEntryKind, Withdrawal

# The sign each kind's ``amount`` (effect on available) and ``held_amount`` (effect on held) must have:
# +1 positive, -1 negative, 0 zero, None either sign (not zero).
_SIGNS: dict[str, tuple[int | None, int]] = {
    WalletEntryKind.CASHBACK_CREDIT: (1, 0),
    WalletEntryKind.CASHBACK_REVERSAL: (-1, 0),
    WalletEntryKind.WITHDRAWAL_HOLD: (-1, 1),
    WalletEntryKind.WITHDRAWAL_RELEASE: (1, -1),
    WalletEntryKind.WITHDRAWAL_PAID: (0, -1),
    WalletEntryKind.ADJUSTMENT: (None, 0),
}

# Kinds that move money between available and held: the two changes must cancel out (nothing made or lost).
_TRANSFERS = frozenset({WalletEntryKind.WITHDRAWAL_HOLD, WalletEntryKind.WITHDRAWAL_RELEASE})


def _sign_ok(value: Decimal, sign: int | None) -> bool:
    if sign is None:
        return value != 0
    if sign == 0:
        return value == 0
    return value * sign > 0


def wallet_currency() -> str:
    return str(settings.DEFAULT_CURRENCY)


def wallet_get_or_create(*, user_id: int) -> Wallet:
    """The user's wallet, created empty in ``DEFAULT_CURRENCY`` the first time (a race to create joins the
    winner)."""
    wallet = Wallet.objects.filter(user_id=user_id).first()
    if wallet is not None:
        return wallet
    try:
        with transaction.atomic():
            return Wallet.objects.create(user_id=user_id, currency=wallet_currency())
    except IntegrityError:
        return Wallet.objects.get(user_id=user_id)


def wallet_lock(*, user_id: int) -> Wallet:
    """The user's wallet, locked (``SELECT ... FOR UPDATE``) until the caller's transaction ends; created first if
    missing. Call inside ``transaction.atomic``."""
    wallet_get_or_create(user_id=user_id)
    return Wallet.objects.select_for_update().get(user_id=user_id)


def wallets_lock(*, user_ids: list[int]) -> dict[int, Wallet]:
    """Several users' wallets, locked in one query in primary-key order (so two writers never deadlock), keyed
    by user id; missing wallets are created first."""
    for user_id in sorted(set(user_ids)):
        wallet_get_or_create(user_id=user_id)
    locked = Wallet.objects.select_for_update().filter(user_id__in=set(user_ids)).order_by("pk")
    return {wallet.user_id: wallet for wallet in locked}


def _require_atomic() -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("Wallet movements must run inside the transaction that locked the wallet.")


def wallet_post(
    *,
    wallet: Wallet,
    kind: str,
    amount: Decimal,
    key: str,
    held_amount: Decimal = ZERO,
    cashback_entry: CashbackEntry | None = None,
    withdrawal: Withdrawal | None = None,
    actor: User | None = None,
    reason: str = "",
) -> WalletEntry:
    """Apply one movement to a wallet locked by the caller and append its ledger row.

    ``amount`` is the signed change of ``available``, ``held_amount`` of ``held`` (see :class:`WalletEntry` for
    the signs of each kind). A ``withdrawal_hold`` larger than ``available`` is refused with 409
    ``insufficient_balance``. Credits and reversals move ``lifetime_earned`` too.
    """
    _require_atomic()
    if kind not in _SIGNS:
        raise ValueError(f"Unknown wallet entry kind {kind!r}.")
    amount = quantize(amount, wallet.currency)
    held_amount = quantize(held_amount, wallet.currency)
    amount_sign, held_sign = _SIGNS[kind]
    if not _sign_ok(amount, amount_sign) or not _sign_ok(held_amount, held_sign):
        raise ValueError(f"A {kind} movement cannot change available by {amount} and held by {held_amount}.")
    if kind in _TRANSFERS and amount != -held_amount:
        raise ValueError(f"A {kind} movement must move the same amount between available and held.")
    if kind == WalletEntryKind.WITHDRAWAL_HOLD and wallet.available < held_amount:
        raise Conflict(
            f"Only {wallet.available} {wallet.currency} is available to withdraw.", code="insufficient_balance"
        )
    if wallet.held + held_amount < 0:
        raise Conflict("The wallet does not hold that much for withdrawals.", code="insufficient_held")
    if abs(wallet.available + amount) > MAX_AMOUNT or wallet.held + held_amount > MAX_AMOUNT:
        # Checked before the wallet object changes, so a caller that handles the error keeps true balances.
        raise InvalidInput("The wallet balance would be out of range.", code="amount_out_of_range")
    wallet.available += amount
    wallet.held += held_amount
    if kind == WalletEntryKind.CASHBACK_CREDIT:
        wallet.lifetime_earned += amount
    elif kind == WalletEntryKind.CASHBACK_REVERSAL:
        wallet.lifetime_earned += amount  # amount is negative
    wallet.save(update_fields=["available", "held", "lifetime_earned", "updated_at"])
    return WalletEntry.objects.create(
        wallet=wallet,
        kind=kind,
        amount=amount,
        held_amount=held_amount,
        balance_after=wallet.available,
        held_after=wallet.held,
        key=key,
        cashback_entry=cashback_entry,
        withdrawal=withdrawal,
        actor=actor,
        reason=reason[:300],
    )


def wallet_pending_change(*, wallet: Wallet, delta: Decimal) -> None:
    """Move the ``pending`` balance of a wallet locked by the caller by ``delta`` (never below zero)."""
    _require_atomic()
    delta = quantize(delta, wallet.currency)
    if wallet.pending + delta < 0:
        raise ValueError(f"Pending cashback of wallet {wallet.pk} would go below zero ({wallet.pending} {delta:+}).")
    wallet.pending += delta
    wallet.save(update_fields=["pending", "updated_at"])


def wallet_adjust(*, user_id: int, amount: Decimal | str, reason: str, actor: User, key: str) -> WalletEntry:
    """A staff adjustment of a shopper's available balance (positive or negative), with a reason; audited as
    ``wallet.adjusted``. ``key`` identifies the adjustment (the admin form sends a fresh one per form), so a
    double-submitted form adjusts once: the second answers 409 ``duplicate_adjustment``."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("A reason is required.", fields={"reason": ["A reason is required."]})
    try:
        value = quantize(amount, wallet_currency())
    except MoneyError as exc:
        raise InvalidInput(str(exc), fields={"amount": [str(exc)]}) from exc
    if value == 0 or abs(value) > MAX_AMOUNT:
        raise InvalidInput("The amount must be non-zero and in range.", fields={"amount": ["Not a valid amount."]})
    ledger_key = f"adjustment:{key}"
    try:
        with transaction.atomic():
            wallet = wallet_lock(user_id=user_id)
            before = {"available": str(wallet.available)}
            entry = wallet_post(
                wallet=wallet,
                kind=WalletEntryKind.ADJUSTMENT,
                amount=value,
                key=ledger_key,
                actor=actor,
                reason=reason,
            )
            audit_record(
                action="wallet.adjusted",
                target=wallet,
                actor=actor,
                before=before,
                after={"available": str(wallet.available), "amount": str(value), "reason": reason},
            )
    except IntegrityError as exc:
        if WalletEntry.objects.filter(key=ledger_key).exists():
            raise Conflict("This adjustment was already made.", code="duplicate_adjustment") from exc
        raise
    return entry
