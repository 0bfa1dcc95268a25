"""Cashback data: entries with their history and risk assessments, merchants' cashback terms and conversion
secrets, affiliate conversions with their raw reports, wallets with their append-only ledger, and withdrawals.

Rules the models carry (the services in ``services/`` do every write):

* A :class:`CashbackEntry` comes from exactly one source: a paid order on the platform, or an affiliate
  conversion reported by a merchant. Its status moves along :data:`CASHBACK_TRANSITIONS` only in
  ``services/entries.py``; every move writes a :class:`CashbackEntryEvent`. Amounts are never edited: a refund
  adds to ``reversed_amount`` (the part taken back), so what the shopper gets is ``amount - reversed_amount``.
* A :class:`Wallet` holds three balances that change only in ``services/wallet.py`` under the wallet's row lock:
  ``available`` (the sum of its ledger's ``amount``), ``held`` (the sum of its ledger's ``held_amount``: money
  set aside for withdrawals) and ``pending`` (cashback not yet credited: pending and confirmed entries).
* :class:`WalletEntry` rows are append-only, in code (save, delete, queryset update/delete refuse) and in the
  database (triggers, migration 0002). A mistake is corrected with a new row, never by editing one. Each row has a
  unique ``key`` naming its cause (``cashback-credit:<entry id>``, ``withdrawal-hold:<id>``, ...), the last guard
  against posting the same movement twice.
* A :class:`Withdrawal` moves along :data:`WITHDRAWAL_TRANSITIONS` only in ``services/withdrawals.py``.
"""

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from commerce.catalog.models import Merchant
from commerce.core.models import AppendOnlyModel
from commerce.core.money import CURRENCY_CHOICES, validate_currency
from commerce.offers.models import Offer, OfferClick
from commerce.orders.models import Order

ZERO = Decimal("0.00")


def _money(**kwargs: Any) -> models.DecimalField:
    return models.DecimalField(max_digits=12, decimal_places=2, **kwargs)


# --- merchants' cashback terms ----------------------------------------------------------------------------


class MerchantCashback(models.Model):
    """A merchant's cashback terms and the secret its conversion reports are signed with.

    ``conversion_secret`` is needed in clear to check HMAC signatures, so it is stored as given; the admin never
    shows it again after a rotation. After a rotation the previous secret stays valid until
    ``previous_secret_expires_at`` (``CASHBACK_SECRET_GRACE_HOURS``) so a network can switch without losing reports.
    """

    merchant = models.OneToOneField(Merchant, on_delete=models.CASCADE, related_name="cashback_terms")
    conversion_secret = models.CharField(max_length=128, blank=True, editable=False)
    previous_secret = models.CharField(max_length=128, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    secret_rotated_at = models.DateTimeField(null=True, blank=True, editable=False)
    max_cashback_per_order = _money(
        null=True, blank=True, help_text="The most cashback one order or conversion earns; empty: no merchant cap."
    )
    flagged_risky = models.BooleanField(
        default=False, help_text="Risk assessment adds the 'risky merchant' weight to this merchant's cashback."
    )
    risk_note = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "merchant cashback terms"
        verbose_name_plural = "merchant cashback terms"
        constraints = [
            models.CheckConstraint(
                condition=Q(max_cashback_per_order__isnull=True) | Q(max_cashback_per_order__gte=0),
                name="cashback_terms_cap_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"Cashback terms of {self.merchant_id}"


# --- affiliate conversions ------------------------------------------------------------------------------------


class ConversionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    CANCELLED = "cancelled", "Cancelled"


class Conversion(models.Model):
    """A sale a merchant (or its affiliate network) reported for one of our clicks. ``reference`` is the
    merchant's own id for the sale, unique per merchant; a report sent again updates nothing."""

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="conversions")
    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="conversions")
    click = models.ForeignKey(OfferClick, on_delete=models.PROTECT, related_name="conversions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="conversions")
    reference = models.CharField(max_length=100)
    sale_amount = _money()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, validators=[validate_currency])
    status = models.CharField(max_length=12, choices=ConversionStatus.choices, default=ConversionStatus.PENDING)
    reported_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-reported_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "reference"], name="cashback_conversion_unique_reference"),
            models.CheckConstraint(condition=Q(sale_amount__gte=0), name="cashback_conversion_amount_non_negative"),
        ]
        indexes = [models.Index(fields=["user", "-reported_at"], name="cashback_conversion_user_idx")]

    def __str__(self) -> str:
        return f"{self.merchant_id}:{self.reference}"


class ReportOutcome(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    UNCHANGED = "unchanged", "Unchanged (sent again)"
    REFUSED = "refused", "Refused"


class ConversionReport(AppendOnlyModel):
    """Every conversion report received, stored raw as it came (body and signature headers) with what we did
    with it; refused ones too, with the error code, so a merchant's integration problems can be traced."""

    merchant = models.ForeignKey(Merchant, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    conversion = models.ForeignKey(Conversion, null=True, blank=True, on_delete=models.PROTECT, related_name="reports")
    body = models.TextField()
    signature = models.CharField(max_length=200, blank=True)
    timestamp = models.CharField(max_length=40, blank=True)
    outcome = models.CharField(max_length=12, choices=ReportOutcome.choices)
    error_code = models.CharField(max_length=60, blank=True)
    ip_hash = models.CharField(max_length=64, blank=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"{self.received_at:%Y-%m-%d %H:%M:%S} {self.outcome}"


# --- cashback entries -------------------------------------------------------------------------------------------


class CashbackSource(models.TextChoices):
    ORDER = "order", "Order"
    CONVERSION = "conversion", "Conversion"


class CashbackStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    CONFIRMED = "confirmed", "Confirmed"
    CREDITED = "credited", "Credited"
    REJECTED = "rejected", "Rejected"
    REVERSED = "reversed", "Reversed"


# The only status moves (services/entries.py). A partial refund of a credited entry keeps it ``credited`` and adds
# to ``reversed_amount``; the refund that takes the rest back makes it ``reversed``.
CASHBACK_TRANSITIONS: dict[str, frozenset[str]] = {
    CashbackStatus.PENDING: frozenset({CashbackStatus.CONFIRMED, CashbackStatus.REJECTED}),
    CashbackStatus.CONFIRMED: frozenset({CashbackStatus.CREDITED, CashbackStatus.REJECTED}),
    CashbackStatus.CREDITED: frozenset({CashbackStatus.REVERSED}),
    CashbackStatus.REJECTED: frozenset(),
    CashbackStatus.REVERSED: frozenset(),
}
# Entries whose money is still on its way: it counts in the wallet's ``pending`` balance.
UNCREDITED_STATUSES = (CashbackStatus.PENDING, CashbackStatus.CONFIRMED)


class RiskLevel(models.TextChoices):
    NOT_ASSESSED = "", "Not assessed"
    LOW = "low", "Low: credited at once"
    HIGH = "high", "High: staff review"


class CashbackEntry(models.Model):
    """Cashback a shopper earns on one order or one conversion.

    ``base_amount`` is what the rate applies to (the order lines' net amount after discounts, without shipping; a
    conversion's sale amount); ``amount`` is the cashback worked out once at creation (``rate`` per cent of the
    base, ROUND_HALF_UP to the currency's places, applied once to the total, then capped). ``reversed_amount`` is
    the part taken back by refunds since. ``expected_on`` is the day it is expected to be confirmed (delivery plus
    the return window); empty until the order is delivered.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="cashback_entries")
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="cashback_entries")
    source = models.CharField(max_length=12, choices=CashbackSource.choices, editable=False)
    order = models.OneToOneField(
        Order, null=True, blank=True, on_delete=models.PROTECT, related_name="cashback", editable=False
    )
    conversion = models.OneToOneField(
        Conversion, null=True, blank=True, on_delete=models.PROTECT, related_name="cashback", editable=False
    )
    offer = models.ForeignKey(Offer, null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, validators=[validate_currency], editable=False)
    base_amount = _money(editable=False)
    rate = models.DecimalField(max_digits=5, decimal_places=2, editable=False, help_text="Per cent.")
    amount = _money(editable=False)
    reversed_amount = _money(default=ZERO, editable=False)
    status = models.CharField(
        max_length=12, choices=CashbackStatus.choices, default=CashbackStatus.PENDING, editable=False
    )
    expected_on = models.DateField(null=True, blank=True, editable=False)
    risk_level = models.CharField(max_length=8, choices=RiskLevel.choices, blank=True, default="", editable=False)
    risk_score = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    reason = models.CharField(
        max_length=300, blank=True, editable=False, help_text="Why it was rejected or reversed, for the shopper."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    confirmed_at = models.DateTimeField(null=True, blank=True, editable=False)
    credited_at = models.DateTimeField(null=True, blank=True, editable=False)
    closed_at = models.DateTimeField(null=True, blank=True, editable=False, help_text="Rejected or fully reversed.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "cashback entries"
        indexes = [
            models.Index(fields=["user", "-created_at"], name="cashback_entry_user_idx"),
            models.Index(fields=["status", "expected_on"], name="cashback_entry_due_idx"),
            models.Index(
                fields=["-risk_score"],
                condition=Q(status="confirmed", risk_level="high"),
                name="cashback_entry_review_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(source="order") & Q(order__isnull=False) & Q(conversion__isnull=True))
                | (Q(source="conversion") & Q(conversion__isnull=False) & Q(order__isnull=True)),
                name="cashback_entry_one_source",
            ),
            models.CheckConstraint(
                condition=Q(base_amount__gte=0)
                & Q(amount__gte=0)
                & Q(amount__lte=F("base_amount"))
                & Q(reversed_amount__gte=0)
                & Q(reversed_amount__lte=F("amount")),
                name="cashback_entry_amounts_valid",
            ),
            models.CheckConstraint(condition=Q(rate__gte=0, rate__lte=100), name="cashback_entry_rate_percent"),
        ]
        permissions = [("review_cashbackentry", "Can approve or reject cashback in the review queue")]

    def __str__(self) -> str:
        return f"Cashback {self.pk} ({self.status})"

    @property
    def net_amount(self) -> Decimal:
        """What the shopper gets (or got): the amount less what refunds took back."""
        return self.amount - self.reversed_amount


class CashbackEntryEvent(AppendOnlyModel):
    """One change of a cashback entry: a status move, a refund's reversal, a review decision. The history shown
    beside the entry in the back office; never changed or deleted."""

    entry = models.ForeignKey(CashbackEntry, on_delete=models.PROTECT, related_name="events")
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12, blank=True)
    amount = _money(default=ZERO, help_text="Money this event moved (a reversal's part), if any.")
    note = models.CharField(max_length=300, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"{self.entry_id}: {self.from_status or '-'} -> {self.to_status or '-'}"


class RiskAssessment(AppendOnlyModel):
    """A risk score of one entry: 0-100, the sum of the weights of the rules that fired (capped at 100), and each
    fired rule with its reason: ``rules = [{"code", "weight", "reason"}, ...]``. Kept for every assessment."""

    entry = models.ForeignKey(CashbackEntry, on_delete=models.PROTECT, related_name="risk_assessments")
    score = models.PositiveSmallIntegerField()
    level = models.CharField(max_length=8, choices=RiskLevel.choices)
    rules = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        default_permissions = ("view",)
        constraints = [models.CheckConstraint(condition=Q(score__lte=100), name="cashback_risk_score_range")]

    def __str__(self) -> str:
        return f"Risk {self.score} for {self.entry_id}"


# --- wallet ---------------------------------------------------------------------------------------------------


class Wallet(models.Model):
    """A shopper's cashback wallet, in ``DEFAULT_CURRENCY``. Balances change only in ``services/wallet.py``.

    ``available`` may go below zero when cashback already withdrawn is reversed; withdrawals are then refused until
    it is positive again. ``lifetime_earned`` is the cashback credited less what was reversed since.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="wallet")
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, validators=[validate_currency], editable=False)
    available = _money(default=ZERO, editable=False)
    pending = _money(default=ZERO, editable=False)
    held = _money(default=ZERO, editable=False)
    lifetime_earned = _money(default=ZERO, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(pending__gte=0) & Q(held__gte=0), name="cashback_wallet_non_negative"),
        ]

    def __str__(self) -> str:
        return f"Wallet of {self.user_id}"


class WalletEntryKind(models.TextChoices):
    CASHBACK_CREDIT = "cashback_credit", "Cashback credit"
    CASHBACK_REVERSAL = "cashback_reversal", "Cashback reversal"
    WITHDRAWAL_HOLD = "withdrawal_hold", "Withdrawal hold"
    WITHDRAWAL_RELEASE = "withdrawal_release", "Withdrawal release"
    WITHDRAWAL_PAID = "withdrawal_paid", "Withdrawal paid"
    ADJUSTMENT = "adjustment", "Staff adjustment"


class WalletEntry(AppendOnlyModel):
    """One movement of a wallet. ``amount`` is its signed effect on ``available``, ``held_amount`` on ``held``:

    ==================  ========  ===========
    kind                amount    held_amount
    ==================  ========  ===========
    cashback_credit     +x        0
    cashback_reversal   -x        0
    withdrawal_hold     -x        +x
    withdrawal_release  +x        -x
    withdrawal_paid     0         -x
    adjustment          +/-x      0
    ==================  ========  ===========

    ``balance_after`` and ``held_after`` are the wallet's balances right after it, so
    ``wallet.available == sum(amount)`` and each row can be checked against the one before it.
    """

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=20, choices=WalletEntryKind.choices)
    amount = _money()
    held_amount = _money(default=ZERO)
    balance_after = _money()
    held_after = _money(default=ZERO)
    key = models.CharField(max_length=120, unique=True, help_text="Names the cause; one row per cause.")
    cashback_entry = models.ForeignKey(
        CashbackEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="wallet_entries"
    )
    withdrawal = models.ForeignKey(
        "Withdrawal", null=True, blank=True, on_delete=models.PROTECT, related_name="wallet_entries"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        default_permissions = ("view",)
        verbose_name_plural = "wallet entries"
        indexes = [models.Index(fields=["wallet", "-created_at", "-id"], name="cashback_ledger_wallet_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"


# --- withdrawals ---------------------------------------------------------------------------------------------


class WithdrawalMethod(models.TextChoices):
    UPI = "upi", "UPI"
    BANK = "bank", "Bank transfer"


class WithdrawalStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved"
    PROCESSING = "processing", "Processing"
    PAID = "paid", "Paid"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Failed"


WITHDRAWAL_TRANSITIONS: dict[str, frozenset[str]] = {
    WithdrawalStatus.REQUESTED: frozenset({WithdrawalStatus.APPROVED, WithdrawalStatus.REJECTED}),
    WithdrawalStatus.APPROVED: frozenset(
        {WithdrawalStatus.PROCESSING, WithdrawalStatus.PAID, WithdrawalStatus.FAILED, WithdrawalStatus.REJECTED}
    ),
    WithdrawalStatus.PROCESSING: frozenset({WithdrawalStatus.PAID, WithdrawalStatus.FAILED}),
    WithdrawalStatus.PAID: frozenset(),
    WithdrawalStatus.REJECTED: frozenset(),
    WithdrawalStatus.FAILED: frozenset(),
}
# Statuses whose money is still held in the wallet.
OPEN_WITHDRAWAL_STATUSES = (WithdrawalStatus.REQUESTED, WithdrawalStatus.APPROVED, WithdrawalStatus.PROCESSING)


class Withdrawal(models.Model):
    """A shopper's request to pay wallet money out to a UPI address or a bank account. The amount is held in the
    wallet from the request; paid consumes the hold, rejected or failed releases it.

    The destination is kept as given (the payout needs it); the API and admin show it masked.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="withdrawals")
    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="withdrawals")
    amount = _money(editable=False)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, validators=[validate_currency], editable=False)
    method = models.CharField(max_length=8, choices=WithdrawalMethod.choices, editable=False)
    vpa = models.CharField(max_length=100, blank=True, editable=False)
    account_number = models.CharField(max_length=20, blank=True, editable=False)
    ifsc = models.CharField(max_length=11, blank=True, editable=False)
    account_name = models.CharField(max_length=120, blank=True, editable=False)
    status = models.CharField(
        max_length=12, choices=WithdrawalStatus.choices, default=WithdrawalStatus.REQUESTED, editable=False
    )
    provider = models.CharField(max_length=20, blank=True, editable=False, help_text="Payout provider: manual, ...")
    provider_reference = models.CharField(
        max_length=100, blank=True, editable=False, help_text="The payout's id, or the bank reference recorded."
    )
    utr = models.CharField(
        max_length=40,
        blank=True,
        editable=False,
        help_text="The bank's transfer reference (UTR) once paid: from the payout provider, or as staff recorded it.",
    )
    failure_reason = models.CharField(max_length=300, blank=True, editable=False)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    reviewed_at = models.DateTimeField(null=True, blank=True, editable=False)
    paid_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="cashback_withdrawal_user_idx"),
            models.Index(fields=["status", "created_at"], name="cashback_withdrawal_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="cashback_withdrawal_amount_positive"),
            models.CheckConstraint(
                condition=(Q(method="upi") & ~Q(vpa=""))
                | (Q(method="bank") & ~Q(account_number="") & ~Q(ifsc="") & ~Q(account_name="")),
                name="cashback_withdrawal_destination",
            ),
        ]
        permissions = [("review_withdrawal", "Can approve, reject and record payouts of withdrawals")]

    def __str__(self) -> str:
        return f"Withdrawal {self.pk} ({self.status})"
