"""Offers (coupon codes, deals, cashback offers), their redemptions, clicks and daily view/click counts.

**Status.** An offer has no status column. It is *live* when ``is_active`` is set, ``starts_at`` has passed,
``ends_at`` is empty or still ahead, and its merchant is active (``Offer.objects.live()``). ``is_active`` is
the staff switch (draft or paused = off); the dates do the rest, so nothing has to flip a status at midnight.

**Codes.** A code is stored as entered (``"SAVE10"``) and looked up case-insensitively. Among *active* offers
a code is unique case-insensitively (a partial unique index on ``LOWER(code)``); an expired offer keeps its
code reserved until staff switch it off, so a shopper never sees two offers answer to one code.

**Rules.** What an offer may target is checked by ``validate_offer_targets`` (called by ``offer_save`` and
the admin form), its currency by ``validate_currency`` (only currencies the two-place amounts hold exactly).

**Redemptions** are append-only: a use given back is marked released, never deleted (see ``OfferRedemption``).

**Counting.** Clicks are one row each (``OfferClick``): the click id must be traceable when a merchant later
reports a sale for it. Views are only counted, per offer and day (``OfferDailyStats``, which also counts
clicks per day for trending). With Redis both are buffered and written by a periodic flush, so no row is
updated per request (see ``services/events.py``).
"""

import uuid
from collections.abc import Iterable
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone

from commerce.catalog.models import Category, Merchant, MerchantStatus, Product
from commerce.core.models import AppendOnlyError as AppendOnlyError  # re-exported
from commerce.core.models import TimeStampedModel
from commerce.core.money import CURRENCY_CHOICES, default_currency, validate_currency

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


CODE_TAKEN_MESSAGE = "Another active offer already uses this code."


def validate_offer_targets(
    *,
    merchant: Merchant | None,
    applies_to: str | None,
    categories: Iterable[Category] | None,
    products: Iterable[Product] | None,
) -> None:
    """The rules on what an offer may target, enforced for every caller (``offer_save``, the admin form).

    - ``applies_to=products`` needs at least one product, ``applies_to=categories`` at least one category;
    - every product belongs to the offer's merchant: a merchant never discounts another merchant's goods.

    Targets that ``applies_to`` does not use may stay attached; the coupon service ignores them. Raises one
    ``ValidationError`` keyed by ``products`` / ``categories``.
    """
    categories = list(categories or [])
    products = list(products or [])
    errors: dict[str, list[str]] = {}
    if applies_to == AppliesTo.PRODUCTS and not products:
        errors["products"] = ["Choose the products this offer applies to."]
    if applies_to == AppliesTo.CATEGORIES and not categories:
        errors["categories"] = ["Choose the categories this offer applies to."]
    if merchant is not None:
        foreign = sorted(product.title for product in products if product.merchant_id != merchant.pk)
        if foreign:
            errors.setdefault("products", []).append(f"Not products of {merchant.name}: {', '.join(foreign)}.")
    if errors:
        raise ValidationError(errors)


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

    def listed(self, at=None) -> "OfferQuerySet":
        """Live offers shown to everyone (lists, detail, trending, clicks): not the personal coupons
        (``is_listed=False``, e.g. loyalty rewards), which work only for whoever holds their code."""
        return self.live(at).filter(is_listed=True)


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
    currency = models.CharField(
        max_length=3, default=default_currency, choices=CURRENCY_CHOICES, validators=[validate_currency]
    )
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
    fallback_url = models.URLField(
        max_length=500,
        blank=True,
        help_text="Where clicks go while the destination link is marked broken; empty: the merchant's website.",
    )
    link_broken_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="Set when the link check or staff marked the destination broken; cleared when it works again.",
    )
    link_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    is_active = models.BooleanField(default=True, help_text="Off: a draft or paused offer, invisible to shoppers.")
    is_listed = models.BooleanField(
        default=True,
        help_text="Shown in the public offer lists. Off for personal coupons (loyalty rewards): their code still works "
        "at checkout for whoever holds it, but nobody can find it.",
    )

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
                violation_error_message=CODE_TAKEN_MESSAGE,
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

    def validate_constraints(self, exclude=None) -> None:
        """As Django's, but a code clash is reported on ``code`` (the field to fix), not as a general error."""
        try:
            super().validate_constraints(exclude=exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict({})
            general = errors.pop(NON_FIELD_ERRORS, [])
            for error in general:
                key = "code" if getattr(error, "message", None) == CODE_TAKEN_MESSAGE else NON_FIELD_ERRORS
                errors.setdefault(key, []).append(error)
            raise ValidationError(errors) from None

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


class RedemptionStatus(models.TextChoices):
    REDEEMED = "redeemed", "Redeemed"
    RELEASED = "released", "Released (use given back)"


# A released use is final: a re-placed order redeems again with a new row.
REDEMPTION_TRANSITIONS: dict[str, set[str]] = {
    RedemptionStatus.REDEEMED: {RedemptionStatus.RELEASED},
    RedemptionStatus.RELEASED: set(),
}


class OfferRedemptionQuerySet(models.QuerySet["OfferRedemption"]):
    def unreleased(self) -> "OfferRedemptionQuerySet":
        """Uses that still count: towards ``times_used``, the usage limit and the per-user limit."""
        return self.filter(status=RedemptionStatus.REDEEMED)

    def delete(self):
        raise AppendOnlyError("Redemptions are never deleted; release a use with coupon_release.")

    delete.queryset_only = True  # type: ignore[attr-defined]


class OfferRedemption(models.Model):
    """One use of a coupon by an order; counts towards the offer's usage and per-user limits until released.

    Append-only: a use given back (the order was cancelled before payment) is marked ``released`` with its
    ``released_at`` time by ``coupon_release``, never deleted, so ``Offer.times_used`` always equals the
    number of unreleased rows and the history of every use stays visible.

    ``order_reference`` is the order's number as a string (orders sit above offers, so there is no foreign
    key). An order holds at most one *unreleased* use of an offer (a partial unique index); once released, a
    re-placed order with the same reference may redeem again, which adds a new row.
    """

    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="redemptions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="offer_redemptions")
    order_reference = models.CharField(max_length=64)
    amount = models.DecimalField(max_digits=12, decimal_places=2, help_text="The discount granted.")
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=16, choices=RedemptionStatus.choices, default=RedemptionStatus.REDEEMED, editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    released_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = OfferRedemptionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["offer", "user"], name="offers_redeem_offer_user_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["offer", "order_reference"],
                condition=Q(status=RedemptionStatus.REDEEMED),
                name="offers_redemption_once_per_order_unreleased",
                violation_error_message="This order already uses this offer.",
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="offers_redemption_amount_non_negative"),
            models.CheckConstraint(
                condition=(Q(status=RedemptionStatus.REDEEMED) & Q(released_at__isnull=True))
                | (Q(status=RedemptionStatus.RELEASED) & Q(released_at__isnull=False)),
                name="offers_redemption_released_has_time",
                violation_error_message="A released use has a release time, an unreleased one none.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.offer_id} for order {self.order_reference}"

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Redemptions are never deleted; release a use with coupon_release.")


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
