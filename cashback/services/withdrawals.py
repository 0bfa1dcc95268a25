"""Withdrawals: a shopper's wallet money paid out to a UPI address or a bank account.

The path of one withdrawal (statuses along :data:`~cashback.models.WITHDRAWAL_TRANSITIONS`):

1. :func:`withdrawal_request` (the shopper, ``POST wallet/withdrawals``): the request is validated, the wallet is
   locked and the amount **held at once** (a ``withdrawal_hold`` ledger row: available -x, held +x, key
   ``withdrawal-hold:<id>``). More than available (or anything while available is negative) is 409
   ``insufficient_balance``; the wallet service refuses it again under the same lock.
2. :func:`withdrawal_approve` or :func:`withdrawal_reject` (finance staff: ``cashback.review_withdrawal``).
   Approval records the payout provider of the moment (``Withdrawal.provider``); with an automatic provider
   (RazorpayX) the payout is sent on commit by the ``send_payout`` task. Rejection needs a reason and releases the
   hold (``withdrawal_release``: available +x, held -x, key ``withdrawal-release:<id>``).
3. :func:`withdrawal_payout_send` (automatic providers): the withdrawal is locked, checked and **claimed**
   (``approved -> processing``) in a first transaction; the provider is called with no lock held; then the row is
   locked again, re-checked and the answer recorded: the provider's reference while it is processing, or paid or
   failed. Claiming first means staff cannot reject a withdrawal whose money may be leaving at that moment
   (``processing`` may only become paid or failed). A timeout or 5xx leaves it ``processing`` without a reference;
   :func:`withdrawals_refresh_payouts` (periodic) sends it again after :data:`RESEND_AFTER` with the same
   idempotency key, and asks the provider about processing ones, so nothing is ever paid twice.
4. :func:`withdrawal_mark_paid` (staff recording the bank/UTR reference of a manual payout, or the provider's
   answer): the hold is consumed (``withdrawal_paid``: available 0, held -x, key ``withdrawal-paid:<id>``).
   :func:`withdrawal_mark_failed`: the hold is released as on rejection.

Every step but the request leaves an audit row (``withdrawal.approved``, ``.rejected``, ``.paid``, ``.failed``,
with the actor, or the provider's name when the provider decided) and every step sends the shopper a message on
commit (:mod:`.notify_withdrawals`). Lock order, as everywhere in the app: the withdrawal row, then the wallet.
A new withdrawal has no row to lock yet, so the request locks the wallet and then inserts it.

Decisions where the issue is silent:

* **Input** (the API's field names; all errors of one request are reported together in ``fields``): ``amount`` a
  string (``"250.00"``) or a JSON number with at most two decimal places, more than zero, at least
  ``WITHDRAWAL_MINIMUM`` and at most 9,999,999,999.99. ``method`` ``upi`` needs ``vpa``, matching
  :data:`VPA_PATTERN` (``name@handle``: 2 to 256 letters, digits, ``.``, ``-`` or ``_``, then a handle of a letter
  and 1 to 63 letters or digits), at most 100 characters in all. ``method`` ``bank`` needs ``account_number``
  (9 to 18 ASCII digits), ``ifsc`` (upper-cased first, then ``^[A-Z]{4}0[A-Z0-9]{6}$``) and ``name`` (the
  account holder: 1 to 120 printable characters, trimmed). The other method's fields are **refused** when given
  (400 on that field), so a client bug never sends money somewhere it did not mean.
* Withdrawals are in the wallet's currency; several may be open at once (each holds its own amount).
* The shopper's request is recorded by the withdrawal and its ledger row, not in the staff audit log.
* Replaying a provider's answer changes nothing: paid with the same reference, or failed, again is a no-op.
"""

import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.services.audit import audit_record
from commerce.core.errors import Conflict, InvalidInput, NotFoundError, PermissionDeniedError
from commerce.core.money import MAX_AMOUNT, MoneyError, quantize, to_decimal
from commerce.core.text import has_hidden_characters

from ..models import (
    WITHDRAWAL_TRANSITIONS,
    WalletEntryKind,
    Withdrawal,
    WithdrawalMethod,
    WithdrawalStatus,
)
from ..payouts.base import PayoutProvider, PayoutResult, PayoutStatus, PayoutUnavailable
from ..payouts.registry import MANUAL, payout_provider, payout_provider_named
from .notify_withdrawals import withdrawal_notify
from .wallet import wallet_currency, wallet_lock, wallet_post

logger = logging.getLogger(__name__)

REVIEW_PERMISSION = "cashback.review_withdrawal"
DEFAULT_MINIMUM = "100.00"
#: A claimed payout whose provider call never answered is sent again (same idempotency key) after this long.
RESEND_AFTER = timedelta(minutes=5)

AMOUNT_PATTERN = r"^[0-9]{1,10}(\.[0-9]{1,2})?$"
VPA_PATTERN = r"^[a-zA-Z0-9.\-_]{2,256}@[a-zA-Z][a-zA-Z0-9]{1,63}$"
VPA_MAX_LENGTH = 100  # Withdrawal.vpa
ACCOUNT_NUMBER_PATTERN = r"^[0-9]{9,18}$"
IFSC_PATTERN = r"^[A-Z]{4}0[A-Z0-9]{6}$"
IFSC_INPUT_PATTERN = r"^[A-Za-z]{4}0[A-Za-z0-9]{6}$"  # what the API accepts: upper-cased before the check
NAME_MAX_LENGTH = 120
REASON_MAX_LENGTH = 300
REFERENCE_MAX_LENGTH = 100

_AMOUNT = re.compile(r"[0-9]{1,10}(\.[0-9]{1,2})?")
_LOOSE_NUMBER = re.compile(r"-?[0-9]{1,30}(\.[0-9]{1,30})?")
_VPA = re.compile(VPA_PATTERN.strip("^$"))
_ACCOUNT_NUMBER = re.compile(ACCOUNT_NUMBER_PATTERN.strip("^$"))
_IFSC = re.compile(IFSC_PATTERN.strip("^$"))
UPI_FIELDS = ("vpa",)
BANK_FIELDS = ("account_number", "ifsc", "name")


# --- input --------------------------------------------------------------------------------------------------


def withdrawal_minimum() -> Decimal:
    """``WITHDRAWAL_MINIMUM`` in the wallet currency."""
    return quantize(str(getattr(settings, "WITHDRAWAL_MINIMUM", DEFAULT_MINIMUM) or DEFAULT_MINIMUM), wallet_currency())


def withdrawal_amount_parse(value: Any) -> Decimal:
    """An amount as sent: a string of ASCII digits with at most two decimal places, or a JSON number (an int, or
    a float whose shortest form has at most two places). 400 with ``fields.amount`` otherwise; the minimum is
    checked by :func:`withdrawal_request`."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise _amount_error('Enter the amount as a string such as "250.00" or a number.')
    text = repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, int) and len(text.lstrip("-")) > 13:
        raise _amount_error(f"At most {MAX_AMOUNT}.")
    if not _LOOSE_NUMBER.fullmatch(text):
        raise _amount_error("Enter an amount such as 250.00 (digits, at most two decimal places).")
    try:
        amount = to_decimal(text)
    except MoneyError:
        raise _amount_error("Enter an amount such as 250.00.") from None
    if amount <= 0:
        raise _amount_error("Must be more than zero.")
    if amount != amount.quantize(Decimal("0.01")):
        raise _amount_error("At most two decimal places.")
    if amount > MAX_AMOUNT or not _AMOUNT.fullmatch(f"{amount.quantize(Decimal('0.01')):f}"):
        raise _amount_error(f"At most {MAX_AMOUNT}.")
    return amount.quantize(Decimal("0.01"))


def _amount_error(message: str) -> InvalidInput:
    return InvalidInput(message, fields={"amount": [message]})


@dataclass(frozen=True)
class WithdrawalInput:
    amount: Decimal
    method: str
    vpa: str = ""
    account_number: str = ""
    ifsc: str = ""
    account_name: str = ""


def _text(value: Any) -> str:
    return unicodedata.normalize("NFC", value) if isinstance(value, str) else ""


def _destination_errors(
    *, method: str, vpa: str, account_number: str, ifsc: str, account_name: str
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """``(errors by field, cleaned values)`` of the destination fields for ``method``."""
    errors: dict[str, list[str]] = {}
    given = {"vpa": vpa, "account_number": account_number, "ifsc": ifsc, "name": account_name}
    other = BANK_FIELDS if method == WithdrawalMethod.UPI else UPI_FIELDS
    for field in other:
        if given[field]:
            errors[field] = [f"Not used for {method} withdrawals; leave it out."]
    clean: dict[str, str] = {}
    if method == WithdrawalMethod.UPI:
        if not vpa:
            errors["vpa"] = ["Required for UPI withdrawals, e.g. priya@okaxis."]
        elif len(vpa) > VPA_MAX_LENGTH or not _VPA.fullmatch(vpa):
            errors["vpa"] = ["Enter a UPI address such as priya@okaxis (at most 100 characters)."]
        clean["vpa"] = vpa
        return errors, clean
    if not _ACCOUNT_NUMBER.fullmatch(account_number):
        errors["account_number"] = ["Enter the account number: 9 to 18 digits."]
    ifsc_upper = ifsc.upper() if ifsc.isascii() else ifsc
    if not _IFSC.fullmatch(ifsc_upper):
        errors["ifsc"] = ["Enter the branch's IFSC: 4 letters, 0, then 6 letters or digits (e.g. HDFC0001234)."]
    name = account_name.strip()
    if not name or len(name) > NAME_MAX_LENGTH or not name.isprintable():
        errors["name"] = [f"Enter the account holder's name: 1 to {NAME_MAX_LENGTH} printable characters."]
    clean.update(account_number=account_number, ifsc=ifsc_upper, account_name=name)
    return errors, clean


def withdrawal_input_clean(
    *, amount: Any, method: Any, vpa: Any = "", account_number: Any = "", ifsc: Any = "", account_name: Any = ""
) -> WithdrawalInput:
    """Validate a withdrawal request; every problem at once in one 400 (field names as in the API)."""
    errors: dict[str, list[str]] = {}
    value: Decimal | None = None
    try:
        value = withdrawal_amount_parse(amount)
    except InvalidInput as exc:
        errors.update(exc.fields or {})
    if value is not None and value < withdrawal_minimum():
        errors["amount"] = [f"The smallest withdrawal is {withdrawal_minimum()} {wallet_currency()}."]
    if method not in WithdrawalMethod.values:
        errors["method"] = ["Choose upi or bank."]
        method = ""
    raw_fields = {"vpa": vpa, "account_number": account_number, "ifsc": ifsc, "name": account_name}
    for name, raw in raw_fields.items():
        if raw is not None and not isinstance(raw, str):
            errors[name] = ["Must be text."]
    destination: dict[str, str] = {}
    if method:
        found, destination = _destination_errors(
            method=method,
            vpa=_text(vpa),
            account_number=_text(account_number),
            ifsc=_text(ifsc),
            account_name=_text(account_name),
        )
        for name, messages in found.items():
            errors.setdefault(name, messages)
    if errors:
        raise InvalidInput("The withdrawal request is not valid.", fields=errors)
    assert value is not None
    return WithdrawalInput(amount=value, method=method, **destination)


def _clean_note(value: Any, *, field: str, max_length: int) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"The {field} must be text.", fields={field: ["Must be text."]})
    text = unicodedata.normalize("NFC", value).strip()
    if not text:
        raise InvalidInput(f"A {field} is required.", fields={field: ["This field is required."]})
    if len(text) > max_length:
        message = f"Ensure this field has no more than {max_length} characters."
        raise InvalidInput(f"The {field} is too long.", fields={field: [message]})
    if has_hidden_characters(text):
        raise InvalidInput(f"The {field} contains invalid characters.", fields={field: ["Remove control characters."]})
    return text


def _reviewer(actor: Any) -> User:
    """Finance staff (or admins): an active staff user with ``cashback.review_withdrawal``."""
    if not isinstance(actor, User) or actor.pk is None or not actor.is_active or not actor.is_staff:
        raise PermissionDeniedError("Only finance staff may act on withdrawals.")
    if not actor.has_perm(REVIEW_PERMISSION):
        raise PermissionDeniedError("Only finance staff may act on withdrawals.")
    return actor


# --- display ------------------------------------------------------------------------------------------------


def withdrawal_destination_masked(withdrawal: Withdrawal) -> str:
    """Where the money goes, as the API and the admin show it: ``pr***@okaxis`` for UPI, ``XXXXXX1234
    (HDFC0001234)`` for a bank account (never the whole account number)."""
    if withdrawal.method == WithdrawalMethod.UPI:
        local, _, handle = withdrawal.vpa.partition("@")
        return f"{local[:2]}***@{handle}"
    return f"XXXXXX{withdrawal.account_number[-4:]} ({withdrawal.ifsc})"


# --- request ------------------------------------------------------------------------------------------------


def _insufficient(available: Decimal, currency: str) -> Conflict:
    if available < 0:
        detail = f"Your wallet balance is negative ({available} {currency}); withdrawals wait until it is positive."
    else:
        detail = f"Only {available} {currency} is available to withdraw."
    return Conflict(
        detail,
        code="insufficient_balance",
        extra={"available": {"amount": f"{quantize(available, currency):f}", "currency": currency}},
    )


def withdrawal_request(
    *,
    user_id: int,
    amount: Decimal | str,
    method: str,
    vpa: str = "",
    account_number: str = "",
    ifsc: str = "",
    account_name: str = "",
) -> Withdrawal:
    """Ask for ``amount`` of the user's wallet to be paid out; the amount is held at once (see the module).

    400 (``fields``) for bad input, 409 ``insufficient_balance`` (``available`` in the body) when the wallet has
    less available than asked, or a negative balance."""
    clean = withdrawal_input_clean(
        amount=amount, method=method, vpa=vpa, account_number=account_number, ifsc=ifsc, account_name=account_name
    )
    with transaction.atomic():
        wallet = wallet_lock(user_id=user_id)
        if wallet.available < clean.amount:
            raise _insufficient(wallet.available, wallet.currency)
        withdrawal = Withdrawal.objects.create(
            user_id=user_id,
            wallet=wallet,
            amount=clean.amount,
            currency=wallet.currency,
            method=clean.method,
            vpa=clean.vpa,
            account_number=clean.account_number,
            ifsc=clean.ifsc,
            account_name=clean.account_name,
        )
        wallet_post(
            wallet=wallet,
            kind=WalletEntryKind.WITHDRAWAL_HOLD,
            amount=-clean.amount,
            held_amount=clean.amount,
            key=f"withdrawal-hold:{withdrawal.pk}",
            withdrawal=withdrawal,
        )
        withdrawal_notify(withdrawal_id=withdrawal.pk, kind="requested")
    return withdrawal


# --- staff steps ----------------------------------------------------------------------------------------------


def _lock(withdrawal_id: Any) -> Withdrawal:
    if isinstance(withdrawal_id, bool) or not isinstance(withdrawal_id, int):
        raise NotFoundError("No such withdrawal.")
    withdrawal = Withdrawal.objects.select_for_update().filter(pk=withdrawal_id).first()
    if withdrawal is None:
        raise NotFoundError("No such withdrawal.")
    return withdrawal


def _check_move(withdrawal: Withdrawal, to_status: str) -> None:
    if to_status not in WITHDRAWAL_TRANSITIONS[withdrawal.status]:
        raise Conflict(
            f"Withdrawal {withdrawal.pk} is {withdrawal.status}; it cannot become {to_status}.",
            code="invalid_transition",
        )


def _audit(action: str, withdrawal: Withdrawal, *, actor: User | None, before: str, **after: Any) -> None:
    audit_record(
        action=action,
        target=withdrawal,
        actor=actor,
        actor_label=None if actor is not None else f"payout provider {withdrawal.provider or MANUAL}",
        before={"status": before},
        after={"status": withdrawal.status, "amount": str(withdrawal.amount), **after},
    )


def withdrawal_approve(*, withdrawal_id: int, actor: User) -> Withdrawal:
    """Approve a requested withdrawal (finance staff). With an automatic payout provider the payout is sent by a
    task once this commits; with the manual provider staff pay it and record the reference. Audited
    ``withdrawal.approved``. 403 without ``cashback.review_withdrawal``, 404, 409 ``invalid_transition``."""
    reviewer = _reviewer(actor)
    provider = payout_provider()
    with transaction.atomic():
        withdrawal = _lock(withdrawal_id)
        _check_move(withdrawal, WithdrawalStatus.APPROVED)
        before = withdrawal.status
        withdrawal.status = WithdrawalStatus.APPROVED
        withdrawal.provider = provider.name
        withdrawal.reviewed_by = reviewer
        withdrawal.reviewed_at = timezone.now()
        withdrawal.save(update_fields=["status", "provider", "reviewed_by", "reviewed_at", "updated_at"])
        _audit("withdrawal.approved", withdrawal, actor=reviewer, before=before, provider=provider.name)
        withdrawal_notify(withdrawal_id=withdrawal.pk, kind="approved")
        if provider.automatic:
            transaction.on_commit(_enqueue_send(withdrawal.pk), robust=True)
    return withdrawal


def _enqueue_send(withdrawal_id: int) -> Callable[[], None]:
    def enqueue() -> None:
        from ..tasks.withdrawals import send_payout

        send_payout.delay(withdrawal_id)

    return enqueue


def _release_locked(withdrawal: Withdrawal, *, to_status: str, reason: str, actor: User | None) -> None:
    """Move a locked withdrawal to rejected or failed and give its held money back (wallet locked here)."""
    before = withdrawal.status
    wallet = wallet_lock(user_id=withdrawal.user_id)
    wallet_post(
        wallet=wallet,
        kind=WalletEntryKind.WITHDRAWAL_RELEASE,
        amount=withdrawal.amount,
        held_amount=-withdrawal.amount,
        key=f"withdrawal-release:{withdrawal.pk}",
        withdrawal=withdrawal,
        actor=actor,
        reason=reason,
    )
    withdrawal.status = to_status
    withdrawal.failure_reason = reason[:REASON_MAX_LENGTH]
    fields = ["status", "failure_reason", "provider_reference", "updated_at"]
    if to_status == WithdrawalStatus.REJECTED:
        withdrawal.reviewed_by = actor
        withdrawal.reviewed_at = timezone.now()
        fields += ["reviewed_by", "reviewed_at"]
    withdrawal.save(update_fields=fields)
    action = "withdrawal.rejected" if to_status == WithdrawalStatus.REJECTED else "withdrawal.failed"
    _audit(action, withdrawal, actor=actor, before=before, reason=withdrawal.failure_reason)
    withdrawal_notify(withdrawal_id=withdrawal.pk, kind=to_status)


def withdrawal_reject(*, withdrawal_id: int, actor: User, reason: str) -> Withdrawal:
    """Refuse a requested (or approved, not yet sent) withdrawal with a reason the shopper is shown; the hold is
    released. Audited ``withdrawal.rejected``. 400 without a reason, 403, 404, 409 ``invalid_transition``."""
    reviewer = _reviewer(actor)
    text = _clean_note(reason, field="reason", max_length=REASON_MAX_LENGTH)
    with transaction.atomic():
        withdrawal = _lock(withdrawal_id)
        _check_move(withdrawal, WithdrawalStatus.REJECTED)
        _release_locked(withdrawal, to_status=WithdrawalStatus.REJECTED, reason=text, actor=reviewer)
    return withdrawal


def _paid_locked(withdrawal: Withdrawal, *, reference: str, actor: User | None, utr: str = "") -> None:
    before = withdrawal.status
    wallet = wallet_lock(user_id=withdrawal.user_id)
    wallet_post(
        wallet=wallet,
        kind=WalletEntryKind.WITHDRAWAL_PAID,
        amount=Decimal("0.00"),
        held_amount=-withdrawal.amount,
        key=f"withdrawal-paid:{withdrawal.pk}",
        withdrawal=withdrawal,
        actor=actor,
        reason=f"Paid out: {utr or reference}",
    )
    withdrawal.status = WithdrawalStatus.PAID
    withdrawal.provider_reference = reference
    # A manual payout's reference is the bank's own (staff record the UTR); a provider's is its payout id.
    withdrawal.utr = (utr or (reference if actor is not None else ""))[:40]
    withdrawal.paid_at = timezone.now()
    withdrawal.provider = withdrawal.provider or MANUAL
    withdrawal.save(update_fields=["status", "provider_reference", "utr", "paid_at", "provider", "updated_at"])
    extra = {"reference": reference, **({"utr": utr} if utr else {})}
    _audit("withdrawal.paid", withdrawal, actor=actor, before=before, **extra)
    withdrawal_notify(withdrawal_id=withdrawal.pk, kind="paid")


def withdrawal_mark_paid(*, withdrawal_id: int, reference: str, actor: User | None = None) -> Withdrawal:
    """Record that an approved (or processing) withdrawal was paid, with the bank/UTR or provider reference; the
    hold is consumed. Staff need ``cashback.review_withdrawal``; ``actor=None`` is the payout provider's answer.
    The same reference again changes nothing. Audited ``withdrawal.paid``."""
    reviewer = _reviewer(actor) if actor is not None else None
    text = _clean_note(reference, field="reference", max_length=REFERENCE_MAX_LENGTH)
    with transaction.atomic():
        withdrawal = _lock(withdrawal_id)
        if withdrawal.status == WithdrawalStatus.PAID and withdrawal.provider_reference == text:
            return withdrawal
        _check_move(withdrawal, WithdrawalStatus.PAID)
        _paid_locked(withdrawal, reference=text, actor=reviewer)
    return withdrawal


def withdrawal_mark_failed(*, withdrawal_id: int, reason: str, actor: User | None = None) -> Withdrawal:
    """Record that the payout of an approved (or processing) withdrawal failed; the hold is released. Staff need
    ``cashback.review_withdrawal``; ``actor=None`` is the payout provider's answer. Failed again changes nothing.
    Audited ``withdrawal.failed``."""
    reviewer = _reviewer(actor) if actor is not None else None
    text = _clean_note(reason, field="reason", max_length=REASON_MAX_LENGTH)
    with transaction.atomic():
        withdrawal = _lock(withdrawal_id)
        if withdrawal.status == WithdrawalStatus.FAILED:
            return withdrawal
        _check_move(withdrawal, WithdrawalStatus.FAILED)
        _release_locked(withdrawal, to_status=WithdrawalStatus.FAILED, reason=text, actor=reviewer)
    return withdrawal


# --- payouts --------------------------------------------------------------------------------------------------


def _claim(withdrawal_id: int) -> tuple[Withdrawal, PayoutProvider | None]:
    """Lock, check and claim a withdrawal for sending: ``(withdrawal, provider)``, provider None when there is
    nothing to send (manual, already sent, no longer approved)."""
    with transaction.atomic():
        withdrawal = _lock(withdrawal_id)
        sendable = withdrawal.status == WithdrawalStatus.APPROVED or (
            withdrawal.status == WithdrawalStatus.PROCESSING and not withdrawal.provider_reference
        )
        if not sendable:
            return withdrawal, None
        try:
            provider = payout_provider_named(withdrawal.provider)
        except PayoutUnavailable as exc:
            logger.warning("withdrawal %s: payout not sent: %s", withdrawal.pk, exc.detail)
            return withdrawal, None
        if not provider.automatic:
            return withdrawal, None
        if withdrawal.status == WithdrawalStatus.APPROVED:
            withdrawal.status = WithdrawalStatus.PROCESSING
            withdrawal.save(update_fields=["status", "updated_at"])
        return withdrawal, provider


def _record(withdrawal_id: int, result: PayoutResult) -> Withdrawal:
    """Record a provider's answer on a processing withdrawal, locked again and re-checked."""
    with transaction.atomic():
        withdrawal = _lock(withdrawal_id)
        if withdrawal.status != WithdrawalStatus.PROCESSING:
            return withdrawal  # staff recorded it meanwhile: their record stands
        known = withdrawal.provider_reference
        if known and result.reference and result.reference != known:
            logger.error(
                "withdrawal %s: provider answered for payout %s, expected %s", withdrawal.pk, result.reference, known
            )
            return withdrawal
        if result.status == PayoutStatus.PROCESSING:
            if result.reference and not known:
                withdrawal.provider_reference = result.reference
                withdrawal.save(update_fields=["provider_reference", "updated_at"])
        elif result.status == PayoutStatus.PAID:
            _paid_locked(withdrawal, reference=result.reference or known, actor=None, utr=result.utr)
        elif result.status == PayoutStatus.FAILED:
            if result.reference and not known:
                withdrawal.provider_reference = result.reference
            reason = result.failure_reason or "The payout failed."
            _release_locked(withdrawal, to_status=WithdrawalStatus.FAILED, reason=reason, actor=None)
    return withdrawal


def withdrawal_payout_send(*, withdrawal_id: int) -> Withdrawal:
    """Send the payout of an approved withdrawal through its automatic provider (see the module for the steps).

    Returns the withdrawal as recorded: processing (with the provider's reference once it answered), paid or
    failed. Nothing to send (manual provider, already sent, rejected meanwhile) returns it unchanged; a provider
    that is down leaves it processing for :func:`withdrawals_refresh_payouts`."""
    withdrawal, provider = _claim(withdrawal_id)
    if provider is None:
        return withdrawal
    try:
        result = provider.send(withdrawal)
    except PayoutUnavailable as exc:
        logger.warning("withdrawal %s: payout not sent now: %s", withdrawal.pk, exc.detail)
        return withdrawal
    return _record(withdrawal.pk, result)


def _refresh_one(withdrawal: Withdrawal) -> Withdrawal:
    if not withdrawal.provider_reference:
        return withdrawal_payout_send(withdrawal_id=withdrawal.pk)
    try:
        result = payout_provider_named(withdrawal.provider).fetch(withdrawal.provider_reference)
    except PayoutUnavailable as exc:
        logger.warning("withdrawal %s: payout status not known now: %s", withdrawal.pk, exc.detail)
        return withdrawal
    return _record(withdrawal.pk, result)


def withdrawals_refresh_payouts(*, limit: int = 100, now: datetime | None = None) -> int:
    """Bring in-flight payouts of automatic providers up to date; returns how many became paid or failed.

    Processing ones with a provider reference are fetched; approved or processing ones without a reference that
    have not moved for :data:`RESEND_AFTER` (their send task was lost, or the provider did not answer) are sent
    again with the same idempotency key. One provider problem never stops the others."""
    limit = max(limit, 0)
    stale = (now or timezone.now()) - RESEND_AFTER
    automatic = Withdrawal.objects.exclude(provider__in=("", MANUAL)).order_by("updated_at", "pk")
    unsent = automatic.filter(
        status__in=(WithdrawalStatus.APPROVED, WithdrawalStatus.PROCESSING), provider_reference="", updated_at__lt=stale
    )
    in_flight = automatic.filter(status=WithdrawalStatus.PROCESSING).exclude(provider_reference="")
    due = [*unsent[:limit], *in_flight[:limit]][:limit]
    settled = 0
    for withdrawal in due:
        try:
            after = _refresh_one(withdrawal)
        except Exception:  # one bad row must not stop the sweep; it is logged with its id
            logger.exception("withdrawal %s: payout refresh failed", withdrawal.pk)
            continue
        if after.status in (WithdrawalStatus.PAID, WithdrawalStatus.FAILED):
            settled += 1
    return settled
