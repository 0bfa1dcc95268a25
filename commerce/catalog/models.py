"""Catalog data: merchants and their staff, the category tree, products, variants with stock, images.

Only active products of active merchants are public (see ``selectors.public_products``).
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from commerce.core.models import TimeStampedModel

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

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [
            models.Index(fields=["status", "merchant"]),
            models.Index(fields=["status", "category"]),
        ]

    def __str__(self) -> str:
        return self.title


class ProductVariant(TimeStampedModel):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="variants")
    sku = models.CharField(max_length=64, unique=True)
    options = models.JSONField(default=dict, blank=True, help_text='Option values, e.g. {"size": "M"}.')
    price = models.DecimalField(max_digits=12, decimal_places=2)
    compare_at_price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, default="INR")
    stock_on_hand = models.PositiveIntegerField(default=0)
    stock_allocated = models.PositiveIntegerField(default=0)

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
