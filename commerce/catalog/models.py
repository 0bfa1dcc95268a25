"""Catalog data: merchants and their staff, the category tree, products, variants with stock, images, and
shoppers' saved searches.

Only active products of active merchants are public (see ``selectors.public_products``).

Denormalised product columns (``min_price``, ``currency``, ``in_stock``, ``search_vector``) are derived from
the product's variants, category and text by ``services.products_refresh_denormalized``, which the services
that write products, variants and stock call explicitly (once per transaction, for every product they touched;
there are no model signals). They exist so that price filters, price ordering and stock filters are plain
indexed columns on one table rather than aggregates over variants. The product row is written only when one of
those values really changes, so a stock allocation that leaves the product in stock never touches it.

Stock (``stock_on_hand``, ``stock_allocated``) changes only through the ``variant_stock_*`` services, which lock
the variant row; changes to the stock on hand are audited. ``Model.save()`` on a variant writes whatever the
instance holds, so code outside the services must never save a variant it loaded earlier.

``popularity`` is a score that higher apps raise through ``services.product_add_popularity`` (for example the
orders app for units sold, the offers app for clicks); it drives the ``popular`` ordering.

PostgreSQL-only indexes (GIN on ``search_vector``, trigram GIN on ``title``) are created by migration 0002 on
PostgreSQL only and are deliberately kept out of ``Meta.indexes`` so that SQLite never sees them.
"""

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from commerce.core.models import TimeStampedModel
from commerce.core.money import CURRENCY_CHOICES, validate_currency

PERCENT_VALIDATORS = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))]


class MerchantStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"


MERCHANT_TRANSITIONS: dict[str, set[str]] = {
    MerchantStatus.ACTIVE: {MerchantStatus.SUSPENDED},
    MerchantStatus.SUSPENDED: {MerchantStatus.ACTIVE},
}


class Merchant(TimeStampedModel):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True)
    status = models.CharField(max_length=16, choices=MerchantStatus.choices, default=MerchantStatus.ACTIVE)
    website = models.URLField(blank=True)
    support_email = models.EmailField(blank=True)
    default_cashback_rate = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("0.00"),
        validators=PERCENT_VALIDATORS,
        help_text="Per cent of the order amount paid back as cashback unless an offer overrides it.",
    )
    commission_rate = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("0.00"),
        validators=PERCENT_VALIDATORS,
        help_text="Per cent of the order amount the platform earns from the merchant.",
    )
    logo = models.ImageField(upload_to="merchants/logos/", blank=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["status", "name"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(default_cashback_rate__gte=0, default_cashback_rate__lte=100),
                name="catalog_merchant_cashback_rate_percent",
            ),
            models.CheckConstraint(
                condition=Q(commission_rate__gte=0, commission_rate__lte=100),
                name="catalog_merchant_commission_rate_percent",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class MerchantMembership(TimeStampedModel):
    """Links a user to a merchant; users in the ``merchant_staff`` role see only their merchants' rows."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="merchant_memberships")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["merchant", "user"], name="catalog_membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.merchant}"


class Category(TimeStampedModel):
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "categories"
        indexes = [models.Index(fields=["parent", "position"])]

    def __str__(self) -> str:
        return self.name


class ProductStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    ARCHIVED = "archived", "Archived"


PRODUCT_TRANSITIONS: dict[str, set[str]] = {
    ProductStatus.DRAFT: {ProductStatus.ACTIVE, ProductStatus.ARCHIVED},
    ProductStatus.ACTIVE: {ProductStatus.ARCHIVED, ProductStatus.DRAFT},
    ProductStatus.ARCHIVED: {ProductStatus.ACTIVE, ProductStatus.DRAFT},
}


class Product(TimeStampedModel):
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="products")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220, unique=True)
    description = models.TextField(blank=True)
    brand = models.CharField(max_length=100, blank=True, db_index=True)
    attributes = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=ProductStatus.choices, default=ProductStatus.DRAFT)

    # Denormalised from the variants, category and text; written only by services.product_refresh_denormalized.
    min_price = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        db_index=True,
        editable=False,
        help_text="Lowest variant price; empty while the product has no variants.",
    )
    currency = models.CharField(max_length=3, default="INR", editable=False, help_text="Currency of min_price.")
    in_stock = models.BooleanField(
        default=False, db_index=True, editable=False, help_text="Some variant has stock on hand not yet allocated."
    )
    popularity = models.PositiveIntegerField(
        default=0, db_index=True, editable=False, help_text="Raised by sales and offer clicks; drives 'popular'."
    )
    search_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [
            models.Index(fields=["status", "merchant"]),
            models.Index(fields=["status", "category"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_price__isnull=True) | Q(min_price__gte=0), name="catalog_product_min_price_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.title


class ProductVariant(TimeStampedModel):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="variants")
    sku = models.CharField(max_length=64, unique=True)
    options = models.JSONField(default=dict, blank=True, help_text='Option values, e.g. {"size": "M"}.')
    price = models.DecimalField(max_digits=12, decimal_places=2)
    compare_at_price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    # Only currencies whose amounts the two-place price columns hold exactly (KWD, BHD, OMR are refused).
    currency = models.CharField(max_length=3, default="INR", choices=CURRENCY_CHOICES, validators=[validate_currency])
    # Written only by the variant_stock_* services (see the module docstring); not editable, so no model form
    # (admin or API) can write them.
    stock_on_hand = models.PositiveIntegerField(default=0, editable=False)
    stock_allocated = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="catalog_variant_price_non_negative"),
            models.CheckConstraint(
                condition=Q(compare_at_price__isnull=True) | Q(compare_at_price__gte=F("price")),
                name="catalog_variant_compare_at_not_below_price",
            ),
            models.CheckConstraint(condition=Q(stock_allocated__gte=0), name="catalog_variant_allocated_non_negative"),
            models.CheckConstraint(
                condition=Q(stock_allocated__lte=F("stock_on_hand")), name="catalog_variant_allocated_within_on_hand"
            ),
        ]

    def __str__(self) -> str:
        return self.sku

    @property
    def stock_available(self) -> int:
        return self.stock_on_hand - self.stock_allocated


class ProductImage(TimeStampedModel):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    image = models.ImageField(upload_to="products/", blank=True)
    url = models.URLField(blank=True, help_text="An external image URL, used when no file is uploaded.")
    alt_text = models.CharField(max_length=200, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(image="") | ~Q(url=""), name="catalog_image_has_file_or_url"),
        ]

    def __str__(self) -> str:
        return self.alt_text or f"Image {self.pk} of {self.product_id}"


class SavedSearch(TimeStampedModel):
    """A shopper's named search: the validated query parameters of ``GET search`` (q, filters, ordering)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_searches")
    name = models.CharField(max_length=100)
    params = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "saved searches"
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="catalog_saved_search_name_unique")]

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"
