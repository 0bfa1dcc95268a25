"""Loyalty data: the programme's settings, points accounts with their append-only ledger and FIFO lots, earning
rules and campaigns, tiers, the reward catalogue, achievements, referrals, and points held by checkouts.

Rules the models carry (the services in ``services/`` do every write):

* Points are integers. A :class:`PointsAccount` has three balances that change only in ``services/ledger.py``
  under the account's row lock: ``available`` (the sum of its ledger's ``points``), ``pending`` (the sum of
  ``pending_points``: earned on orders still inside their return window) and ``held`` (the sum of ``held_points``:
  set aside by checkouts not yet paid). ``lifetime`` is every point ever made available, less what refunds took
  back. None of the balances may go below zero (CHECK constraints).
* :class:`PointsEntry` rows are append-only, in code (``commerce.core.models.AppendOnlyModel``) and in the database
  (triggers, migration 0002). Each has a unique ``key`` naming its cause, the last guard against posting twice.
* Points that become available form a :class:`PointsLot` with an expiry date; spending, expiring and taking back
  consume lots oldest first (FIFO). ``remaining`` is the one mutable figure of a lot, changed by the ledger service
  in the same transaction as the entry that consumed it; ``sum(remaining) == available + held`` for every
  account (a hold sets points aside without consuming lots; the spend that follows consumes them).
"""

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from commerce.catalog.models import Category, Merchant
from commerce.core.models import AppendOnlyModel, TimeStampedModel
from commerce.offers.models import Offer
from commerce.orders.models import Order


def _money(**kwargs: Any) -> models.DecimalField:
    return models.DecimalField(max_digits=12, decimal_places=2, **kwargs)


# --- the programme ----------------------------------------------------------------------------------------------


class Programme(models.Model):
    """The programme's settings: one row (``pk=1``), created with the defaults from settings on first use and
    edited in the admin. Read through :func:`loyalty.services.programme.programme_get` (one query)."""

    point_value = models.DecimalField(
        max_digits=8,
        decimal_places=4,
        validators=[MinValueValidator(Decimal("0.0001"))],
        help_text="What one point is worth at checkout, in DEFAULT_CURRENCY (e.g. 0.25).",
    )
    max_redeem_percent = models.DecimalField(
        max_digits=5, decimal_places=2, help_text="At most this share (per cent) of an order may be paid in points."
    )
    min_redeem_points = models.PositiveIntegerField(default=0, help_text="The fewest points a checkout may spend.")
    expiry_months = models.PositiveSmallIntegerField(
        help_text="Points expire this many months after they become available."
    )
    expiry_reminder_days = models.PositiveSmallIntegerField(default=7)
    referral_referrer_points = models.PositiveIntegerField(help_text="Points for the member who referred.")
    referral_referee_points = models.PositiveIntegerField(help_text="Points for the new member referred.")
    tier_window_months = models.PositiveSmallIntegerField(
        default=12, help_text="Tiers count qualifying points of this many months."
    )
    tier_downgrade_grace_days = models.PositiveSmallIntegerField(
        default=30,
        help_text="A member below their tier's threshold keeps it this long before the nightly review downgrades them.",
    )
    leaderboard_size = models.PositiveSmallIntegerField(default=10)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "programme settings"
        verbose_name_plural = "programme settings"
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="loyalty_programme_single_row"),
            models.CheckConstraint(
                condition=Q(max_redeem_percent__gte=0, max_redeem_percent__lte=100),
                name="loyalty_programme_redeem_percent",
            ),
        ]

    def __str__(self) -> str:
        return "Loyalty programme"


# --- tiers ---------------------------------------------------------------------------------------------------


class Tier(models.Model):
    """A tier: reached with ``threshold`` qualifying points earned in the rolling window. Benefits: an earning
    multiplier, a free-shipping threshold, and early access to offers (a flag offers can filter on)."""

    code = models.SlugField(max_length=30, unique=True)
    name = models.CharField(max_length=60)
    rank = models.PositiveSmallIntegerField(unique=True, help_text="0 for the entry tier, higher is better.")
    threshold = models.PositiveIntegerField(help_text="Qualifying points in the window needed to reach it.")
    earn_multiplier = models.DecimalField(max_digits=4, decimal_places=2, default=Decimal("1.00"))
    free_shipping_threshold = _money(
        null=True,
        blank=True,
        help_text="Orders from this amount ship free for members of this tier; empty: the shop's rule.",
    )
    early_access = models.BooleanField(default=False, help_text="Sees offers marked for early access before they open.")

    class Meta:
        ordering = ["rank"]
        constraints = [
            models.CheckConstraint(condition=Q(earn_multiplier__gte=0), name="loyalty_tier_multiplier_non_negative"),
        ]

    def __str__(self) -> str:
        return self.name


# --- accounts and the ledger -----------------------------------------------------------------------------------


class PointsAccount(models.Model):
    """A member's points and tier. Balances change only in ``services/ledger.py`` under this row's lock."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="points_account")
    available = models.IntegerField(default=0, editable=False)
    pending = models.IntegerField(default=0, editable=False)
    held = models.IntegerField(default=0, editable=False)
    lifetime = models.IntegerField(default=0, editable=False)
    tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False)
    tier_since = models.DateTimeField(null=True, blank=True, editable=False)
    below_tier_since = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When qualifying points fell below the tier's threshold."
    )
    referral_code = models.CharField(max_length=12, unique=True, editable=False)
    referred_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(available__gte=0) & Q(pending__gte=0) & Q(held__gte=0) & Q(lifetime__gte=0),
                name="loyalty_account_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"Points of {self.user_id}"


class PointsEntryKind(models.TextChoices):
    EARN_PENDING = "earn_pending", "Earned (pending)"
    CONFIRM = "confirm", "Pending points available"
    EARN = "earn", "Earned"
    PENDING_REVERSAL = "pending_reversal", "Pending points taken back"
    REVERSAL = "reversal", "Taken back (refund)"
    HOLD = "hold", "Held for checkout"
    RELEASE = "release", "Hold released"
    SPEND = "spend", "Spent at checkout"
    RETURN = "return", "Spent points returned (refund)"
    REDEEM = "redeem", "Spent on a reward"
    EXPIRE = "expire", "Expired"
    ADJUSTMENT = "adjustment", "Staff adjustment"


class PointsEntry(AppendOnlyModel):
    """One movement of a points account; ``points`` is its signed effect on ``available``, ``pending_points`` on
    ``pending`` and ``held_points`` on ``held``:

    ================  ======  ==============  ===========
    kind              points  pending_points  held_points
    ================  ======  ==============  ===========
    earn_pending      0       +x              0
    confirm           +x      -x              0
    earn              +x      0               0
    pending_reversal  0       -x              0
    reversal          -x      0               0
    hold              -x      0               +x
    release           +x      0               -x
    spend             0       0               -x
    return            +x      0               0
    redeem            -x      0               0
    expire            -x      0               0
    adjustment        +/-x    0               0
    ================  ======  ==============  ===========

    ``qualifying`` is true for points that count towards tiers and leaderboards (earned by spending or events,
    not staff adjustments). ``reason`` says why a rule fired ("2 points per 100 INR at Threads x1.5 Gold").
    """

    account = models.ForeignKey(PointsAccount, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=20, choices=PointsEntryKind.choices)
    points = models.IntegerField(default=0)
    pending_points = models.IntegerField(default=0)
    held_points = models.IntegerField(default=0)
    balance_after = models.IntegerField()
    pending_after = models.IntegerField()
    held_after = models.IntegerField()
    qualifying = models.BooleanField(default=False)
    key = models.CharField(max_length=120, unique=True, help_text="Names the cause; one row per cause.")
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    rule_code = models.CharField(max_length=60, blank=True, help_text="The earning rule or event that fired.")
    reason = models.CharField(max_length=300, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        default_permissions = ("view",)
        verbose_name_plural = "points entries"
        indexes = [
            models.Index(fields=["account", "-created_at", "-id"], name="loyalty_entry_account_idx"),
            models.Index(fields=["order"], condition=Q(order__isnull=False), name="loyalty_entry_order_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.points:+d}"


class PointsLot(models.Model):
    """Points that became available together (one ``confirm``, ``earn`` or positive ``adjustment`` entry), with
    when they expire. ``remaining`` falls as spending, expiry and refunds consume lots oldest first."""

    account = models.ForeignKey(PointsAccount, on_delete=models.PROTECT, related_name="lots")
    entry = models.OneToOneField(PointsEntry, on_delete=models.PROTECT, related_name="lot")
    points = models.PositiveIntegerField()
    remaining = models.PositiveIntegerField(editable=False)
    available_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    reminded_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["available_at", "id"]
        indexes = [
            models.Index(fields=["account", "available_at", "id"], name="loyalty_lot_fifo_idx"),
            models.Index(fields=["expires_at"], condition=Q(remaining__gt=0), name="loyalty_lot_expiry_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(remaining__lte=models.F("points")), name="loyalty_lot_remaining_range"),
        ]

    def __str__(self) -> str:
        return f"{self.remaining}/{self.points} until {self.expires_at:%Y-%m-%d}"


class TierChange(AppendOnlyModel):
    """A member's tier moved (up on an earning event, down at the nightly review after the grace period)."""

    account = models.ForeignKey(PointsAccount, on_delete=models.PROTECT, related_name="tier_changes")
    from_tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    qualifying_points = models.IntegerField()
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"{self.account_id}: {self.from_tier_id} -> {self.to_tier_id}"


# --- earning rules and campaigns ------------------------------------------------------------------------------


class EarningEvent(models.TextChoices):
    FIRST_ORDER = "first_order", "First order"
    PROFILE_COMPLETED = "profile_completed", "Profile completed"
    PHONE_VERIFIED = "phone_verified", "Phone verified"


class EarningRuleKind(models.TextChoices):
    SPEND = "spend", "Points per currency unit spent"
    EVENT = "event", "Fixed points for an event"


class EarningRule(TimeStampedModel):
    """How points are earned. ``spend``: ``points_per_unit`` points per ``unit_amount`` spent (the lines' net
    amount), optionally only at one merchant or in one category (the most specific matching rule applies to each
    line); multiplied by the member's tier multiplier and any live campaign. ``event``: ``fixed_points`` once per
    member when ``event`` happens."""

    name = models.CharField(max_length=120)
    code = models.SlugField(max_length=60, unique=True)
    kind = models.CharField(max_length=8, choices=EarningRuleKind.choices)
    points_per_unit = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("0.00"))
    unit_amount = _money(
        default=Decimal("100.00"), help_text="Spend per 'points_per_unit' points, in DEFAULT_CURRENCY."
    )
    merchant = models.ForeignKey(Merchant, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=24, choices=EarningEvent.choices, blank=True)
    fixed_points = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["kind", "name"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="spend") & Q(points_per_unit__gt=0) & Q(unit_amount__gt=0) & Q(event=""))
                | (
                    Q(kind="event")
                    & ~Q(event="")
                    & Q(fixed_points__gt=0)
                    & Q(merchant__isnull=True)
                    & Q(category__isnull=True)
                ),
                name="loyalty_rule_kind_fields",
            ),
            models.UniqueConstraint(
                fields=["event"], condition=Q(kind="event", is_active=True), name="loyalty_rule_one_active_per_event"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Campaign(TimeStampedModel):
    """A time-boxed multiplier ("double points on Electronics this weekend"), for a category, a merchant or
    everything, between ``starts_at`` and ``ends_at``. Overlapping campaigns: the largest multiplier applies."""

    name = models.CharField(max_length=120)
    multiplier = models.DecimalField(max_digits=4, decimal_places=2, validators=[MinValueValidator(Decimal("1.00"))])
    merchant = models.ForeignKey(Merchant, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        indexes = [models.Index(fields=["starts_at", "ends_at"], name="loyalty_campaign_window_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="loyalty_campaign_window"),
        ]

    def __str__(self) -> str:
        return self.name


# --- points on orders (checkout redemption) ------------------------------------------------------------------


class CartPoints(models.Model):
    """Points a shopper asked to spend on their open cart (``POST cart/points``); quoted by the adjustment
    provider on every cart read, held at checkout."""

    cart = models.OneToOneField("orders.Cart", on_delete=models.CASCADE, related_name="loyalty_points")
    points = models.PositiveIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "cart points"

    def __str__(self) -> str:
        return f"{self.points} points on cart {self.cart_id}"


class HoldStatus(models.TextChoices):
    HELD = "held", "Held"
    SPENT = "spent", "Spent"
    RELEASED = "released", "Released"


class PointsHold(models.Model):
    """Points held by one order at checkout: spent when it is paid, released when it expires or is cancelled
    unpaid. A refund of a paid order gives back the spent points in proportion (``returned``)."""

    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="points_hold")
    account = models.ForeignKey(PointsAccount, on_delete=models.PROTECT, related_name="holds")
    points = models.PositiveIntegerField()
    amount = _money(help_text="What the points took off the order.")
    currency = models.CharField(max_length=3)
    returned = models.PositiveIntegerField(default=0, editable=False)
    status = models.CharField(max_length=10, choices=HoldStatus.choices, default=HoldStatus.HELD, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(points__gt=0) & Q(returned__lte=models.F("points")), name="loyalty_hold_points"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.points} points for {self.order_id} ({self.status})"


# --- rewards ----------------------------------------------------------------------------------------------------


class RewardKind(models.TextChoices):
    DISCOUNT_COUPON = "discount_coupon", "Fixed discount coupon"
    FREE_SHIPPING = "free_shipping", "Free shipping coupon"
    CASHBACK_BOOSTER = "cashback_booster", "Cashback booster"


class Reward(TimeStampedModel):
    """Something a member buys with points. Redeeming issues a single-use coupon through the offers app's
    services: a fixed discount at ``merchant``, free shipping, or a cashback booster (an offer with an extra
    cashback rate)."""

    name = models.CharField(max_length=120)
    description = models.CharField(max_length=300, blank=True)
    kind = models.CharField(max_length=20, choices=RewardKind.choices)
    points_cost = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    discount_value = _money(null=True, blank=True, help_text="The coupon's fixed discount (discount coupons).")
    min_order_amount = _money(default=Decimal("0.00"))
    cashback_rate = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True, help_text="Per cent (cashback boosters)."
    )
    valid_days = models.PositiveSmallIntegerField(default=30, help_text="The issued coupon is valid this many days.")
    stock = models.PositiveIntegerField(null=True, blank=True, help_text="How many may be redeemed; empty: no limit.")
    redeemed_count = models.PositiveIntegerField(default=0, editable=False)
    min_tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["points_cost", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="discount_coupon") | Q(discount_value__isnull=False, discount_value__gt=0),
                name="loyalty_reward_discount_value",
            ),
            models.CheckConstraint(
                condition=~Q(kind="cashback_booster")
                | Q(cashback_rate__isnull=False, cashback_rate__gt=0, cashback_rate__lte=100),
                name="loyalty_reward_booster_rate",
            ),
            models.CheckConstraint(
                condition=Q(stock__isnull=True) | Q(redeemed_count__lte=models.F("stock")), name="loyalty_reward_stock"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RewardRedemption(models.Model):
    """A reward bought with points: the ``redeem`` ledger entry and the single-use coupon issued for it."""

    reward = models.ForeignKey(Reward, on_delete=models.PROTECT, related_name="redemptions")
    account = models.ForeignKey(PointsAccount, on_delete=models.PROTECT, related_name="redemptions")
    points = models.PositiveIntegerField()
    coupon = models.OneToOneField(Offer, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    entry = models.OneToOneField(PointsEntry, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.reward_id} for {self.account_id}"


# --- achievements and referrals -------------------------------------------------------------------------------


class AchievementCriterion(models.TextChoices):
    ORDERS = "orders", "Orders paid"
    SPEND = "spend", "Amount spent"
    WEEKLY_STREAK = "weekly_streak", "Weeks in a row with an order"
    CATEGORIES = "categories", "Categories explored"
    REFERRALS = "referrals", "Friends referred"


class Achievement(models.Model):
    """An achievement as data: awarded once per member when ``criterion`` reaches ``target``; may grant points."""

    code = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    description = models.CharField(max_length=300, blank=True)
    badge = models.ImageField(upload_to="loyalty/badges/", blank=True)
    criterion = models.CharField(max_length=16, choices=AchievementCriterion.choices)
    target = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("1"))])
    points = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["criterion", "target", "id"]

    def __str__(self) -> str:
        return self.name


class AchievementAward(models.Model):
    """An achievement a member earned; unique per member and achievement (awarded once, idempotently)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="achievements")
    achievement = models.ForeignKey(Achievement, on_delete=models.PROTECT, related_name="awards")
    entry = models.OneToOneField(PointsEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    awarded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-awarded_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "achievement"], name="loyalty_award_once_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.achievement_id} for {self.user_id}"


class ReferralStatus(models.TextChoices):
    PENDING = "pending", "Pending: waiting for the first order"
    REWARDED = "rewarded", "Rewarded"
    REFUSED = "refused", "Refused"


class Referral(models.Model):
    """A new member who signed up with another member's code. Both earn points once the new member's first order
    is paid and past its return window; a self-referral (same phone, device or IP hash) is refused."""

    referrer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="referrals_made")
    referee = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="referral")
    code = models.CharField(max_length=12)
    status = models.CharField(
        max_length=10, choices=ReferralStatus.choices, default=ReferralStatus.PENDING, editable=False
    )
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False)
    refused_reason = models.CharField(max_length=200, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    rewarded_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(referrer=models.F("referee")), name="loyalty_referral_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.referrer_id} -> {self.referee_id} ({self.status})"
