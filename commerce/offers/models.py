"""Offers (coupon codes, deals, cashback offers), their redemptions, clicks and daily view/click counts.

**Status.** An offer has no status column. It is *live* when ``is_active`` is set, ``starts_at`` has passed,
``ends_at`` is empty or still ahead, and its merchant is active (``Offer.objects.live()``). ``is_active`` is
the staff switch (draft or paused = off); the dates do the rest, so nothing has to flip a status at midnight.

**Codes.** A code is stored as entered (``"SAVE10"``) and looked up case-insensitively. Among *active* offers
a code is unique case-insensitively (a partial unique index on ``LOWER(code)``); an expired offer keeps its
code reserved until staff switch it off, so a shopper never sees two offers answer to one code.

**Counting.** Clicks are one row each (``OfferClick``): the click id must be traceable when a merchant later
reports a sale for it. Views are only counted, per offer and day (``OfferDailyStats``, which also counts
clicks per day for trending). With Redis both are buffered and written by a periodic flush, so no row is
updated per request (see ``services/events.py``).
"""

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone

from commerce.catalog.models import Category, Merchant, MerchantStatus, Product
from commerce.core.models import TimeStampedModel
from commerce.core.money import default_currency

PERCENT_VALIDATORS = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))]
NON_NEGATIVE = [MinValueValidator(Decimal("0"))]


def normalize_code(code: str | None) -> str | None:
    """Strip surrounding blanks; a blank code is no code (NULL)."""
    return (code or "").strip() or None


class OfferKind(models.TextChoices):
    COUPON = "coupon", "Coupon code"
    DEAL = "deal", "Deal"
    CASHBACK = "cashback", "Cashback offer"


class DiscountType(models.TextChoices):
    PERCENTAGE = "percentage", "Percentage"
    FIXED = "fixed", "Fixed amount"


class AppliesTo(models.TextChoices):
    MERCHANT = "merchant", "Everything of the merchant"
    CATEGORIES = "categories", "Selected categories (and their subcategories)"
    PRODUCTS = "products", "Selected products"


class OfferQuerySet(models.QuerySet["Offer"]):
    def live(self, at=None) -> "OfferQuerySet":
        """Offers a shopper may see and use now: switched on, started, not ended, of an active merchant."""
        now = at or timezone.now()
        return self.filter(
            Q(ends_at__isnull=True) | Q(ends_at__gt=now),
            is_active=True,
            starts_at__lte=now,
            merchant__status=MerchantStatus.ACTIVE,
        )


class Offer(TimeStampedModel):
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="offers")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=16, choices=OfferKind.choices, default=OfferKind.COUPON)
    code = models.CharField(  # noqa: DJ001 -- NULL (not "") means "no code", outside the unique index
        max_length=40,
        null=True,
        blank=True,
        help_text="Coupon code as shoppers type it; matched case-insensitively, unique among active offers.",
    )
    discount_type = models.CharField(max_length=16, choices=DiscountType.choices, default=DiscountType.PERCENTAGE)
    discount_value = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        default=Decimal("0.00"),
        validators=NON_NEGATIVE,
        help_text="Per cent (0-100) for a percentage discount, an amount in the offer's currency for a fixed one.",
    )
    max_discount = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=NON_NEGATIVE,
        help_text="Cap on a percentage discount, in the offer's currency. Empty: no cap.",
    )
    min_order_amount = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        default=Decimal("0.00"),
        validators=NON_NEGATIVE,
        help_text="The cart subtotal (with this merchant) must reach this amount.",
    )
    currency = models.CharField(max_length=3, default=default_currency)
    applies_to = models.CharField(max_length=16, choices=AppliesTo.choices, default=AppliesTo.MERCHANT)
    categories = models.ManyToManyField(Category, blank=True, related_name="offers")
    products = models.ManyToManyField(Product, blank=True, related_name="offers")
    cashback_rate = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=PERCENT_VALIDATORS,
        help_text="Per cent cashback for orders using this offer; empty: the merchant's default rate.",
    )
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField(null=True, blank=True, help_text="Empty: runs until switched off.")
    usage_limit = models.PositiveIntegerField(null=True, blank=True, help_text="Total redemptions; empty: no limit.")
    per_user_limit = models.PositiveIntegerField(null=True, blank=True, help_text="Redemptions per shopper.")
    times_used = models.PositiveIntegerField(default=0, editable=False)
    destination_url = models.URLField(
        max_length=500, blank=True, help_text="Where a click leads (required for deals); else the merchant's website."
    )
    is_active = models.BooleanField(default=True, help_text="Off: a draft or paused offer, invisible to shoppers.")

    objects = OfferQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at", "-id"]
        indexes = [
            models.Index(fields=["is_active", "ends_at"], name="offers_active_ends_idx"),
            models.Index(fields=["merchant", "is_active"], name="offers_merchant_active_idx"),
            models.Index(fields=["is_active", "-starts_at"], name="offers_active_starts_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                Lower("code"),
                condition=Q(code__isnull=False, is_active=True),
                name="offers_offer_code_ci_unique_active",
                violation_error_message="Another active offer already uses this code.",
            ),
            models.CheckConstraint(condition=Q(discount_value__gte=0), name="offers_offer_discount_non_negative"),
            models.CheckConstraint(
                condition=~Q(discount_type=DiscountType.PERCENTAGE) | Q(discount_value__lte=100),
                name="offers_offer_percentage_at_most_100",
                violation_error_message="A percentage discount cannot exceed 100.",
            ),
            models.CheckConstraint(
                condition=Q(max_discount__isnull=True) | Q(max_discount__gte=0),
                name="offers_offer_max_discount_non_negative",
            ),
            models.CheckConstraint(condition=Q(min_order_amount__gte=0), name="offers_offer_min_order_non_negative"),
            models.CheckConstraint(
                condition=Q(cashback_rate__isnull=True) | Q(cashback_rate__gte=0, cashback_rate__lte=100),
                name="offers_offer_cashback_rate_percent",
            ),
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=F("starts_at")),
                name="offers_offer_ends_after_start",
                violation_error_message="The offer must end after it starts.",
            ),
            models.CheckConstraint(
                condition=Q(usage_limit__isnull=True) | Q(times_used__lte=F("usage_limit")),
                name="offers_offer_used_within_limit",
                violation_error_message="The usage limit cannot be below the number of times already used.",
            ),
            models.CheckConstraint(
                condition=~Q(kind=OfferKind.COUPON) | Q(code__isnull=False),
                name="offers_offer_coupon_has_code",
                violation_error_message="A coupon needs a code.",
            ),
            models.CheckConstraint(
                condition=~Q(kind=OfferKind.DEAL) | ~Q(destination_url=""),
                name="offers_offer_deal_has_destination",
                violation_error_message="A deal needs a destination URL.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.code})" if self.code else self.title

    def clean(self) -> None:
        super().clean()
        self.code = normalize_code(self.code)
        if self.discount_type == DiscountType.FIXED and self.max_discount is not None:
            raise ValidationError({"max_discount": "A cap only applies to percentage discounts."})

    def save(self, *args, **kwargs) -> None:
        # Blank codes are stored as NULL so they never collide in the unique index.
        self.code = normalize_code(self.code)
        super().save(*args, **kwargs)

    def is_live(self, at=None) -> bool:
        now = at or timezone.now()
        return (
            self.is_active
            and self.starts_at <= now
            and (self.ends_at is None or self.ends_at > now)
            and self.merchant.status == MerchantStatus.ACTIVE
        )

    @property
    def destination(self) -> str:
        """Where a click on the offer leads: its own URL, else the merchant's website ('' if neither)."""
        return self.destination_url or self.merchant.website


class OfferRedemption(models.Model):
    """One use of a coupon by an order; counts towards the offer's usage and per-user limits.

    ``order_reference`` is the order's number as a string (orders sit above offers, so there is no foreign
    key); one order redeems an offer at most once.
    """

    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="redemptions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="offer_redemptions")
    order_reference = models.CharField(max_length=64)
    amount = models.DecimalField(max_digits=12, decimal_places=2, help_text="The discount granted.")
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["offer", "user"], name="offers_redeem_offer_user_idx")]
        constraints = [
            models.UniqueConstraint(fields=["offer", "order_reference"], name="offers_redemption_once_per_order"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="offers_redemption_amount_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.offer_id} for order {self.order_reference}"


class OfferClick(models.Model):
    """A shopper's click through to the merchant. ``click_id`` travels in the destination URL and comes back
    with the merchant's conversion report. ``created_at`` is the time of the click, not of the (buffered)
    insert. ``ip_hash`` is a keyed hash, enough to spot click fraud without storing addresses."""

    click_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="clicks")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="offer_clicks"
    )
    ip_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["offer", "created_at"], name="offers_click_offer_time_idx")]

    def __str__(self) -> str:
        return str(self.click_id)


class OfferDailyStats(models.Model):
    """Views and clicks of one offer on one day (``TIME_ZONE`` dates); the input of trending."""

    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="daily_stats")
    date = models.DateField()
    views = models.PositiveIntegerField(default=0)
    clicks = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-date", "offer_id"]
        verbose_name_plural = "offer daily stats"
        indexes = [models.Index(fields=["date"], name="offers_stats_date_idx")]
        constraints = [models.UniqueConstraint(fields=["offer", "date"], name="offers_stats_one_row_per_day")]

    def __str__(self) -> str:
        return f"{self.offer_id} on {self.date}"


class OfferEventFlush(models.Model):
    """A ledger of applied buffer batches: a batch taken from Redis is written together with its row here, so
    a flush that dies after the database commit but before Redis forgets the batch is never applied twice."""

    batch_id = models.CharField(max_length=64, unique=True)
    views = models.PositiveIntegerField(default=0)
    clicks = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.batch_id
