"""Orders data: saved addresses, the cart, orders with their lines, adjustments and events, invoices, checkout
idempotency records, per-merchant shipping and per-category tax rates, and co-purchase counts.

Rules the models carry (the services in ``services/`` do every write):

* one **open cart** per user (a partial unique index), holding lines of one merchant;
* an **order** snapshots everything the shopper saw: each line's title, SKU, unit price, discount share and tax
  share, the address, the totals. Prices never move once an order exists.
* ``Order.status`` and ``Order.payment_status`` change only in ``services/transitions.py``, along
  :data:`ORDER_TRANSITIONS`; each change writes an :class:`OrderEvent`. Order events are append-only.
* amounts are ``Decimal`` with two places beside the order's currency; prices include tax, and the tax
  columns are the tax component contained in them.
"""

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Round
from django.utils import timezone

from commerce.catalog.models import Category, Merchant, Product, ProductVariant
from commerce.core.models import AppendOnlyModel, AppendOnlyQuerySet, TimeStampedModel
from commerce.core.money import CURRENCY_CHOICES, validate_currency

MAX_LINE_QUANTITY = 100
PERCENT_VALIDATORS = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))]


def _money(**kwargs: Any) -> models.DecimalField:
    return models.DecimalField(max_digits=12, decimal_places=2, **kwargs)


# --- addresses -----------------------------------------------------------------------------------------------


class Address(TimeStampedModel):
    """A shopper's saved delivery address. At most one per user is the default (partial unique index)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="addresses")
    name = models.CharField(max_length=120)
    line1 = models.CharField(max_length=200)
    line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100)
    state = models.CharField(max_length=100)
    postal_code = models.CharField(max_length=12)
    country = models.CharField(max_length=2, default="IN")
    phone = models.CharField(max_length=20, help_text="E.164, e.g. +919812345678.")
    is_default = models.BooleanField(default=False)

    class Meta:
        ordering = ["-is_default", "-created_at", "-id"]
        verbose_name_plural = "addresses"
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(is_default=True), name="orders_address_one_default_per_user"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}, {self.city} {self.postal_code}"

    def as_snapshot(self) -> dict[str, str]:
        """The address as an order keeps it (the same keys as the API's address shape)."""
        return {field: getattr(self, field) for field in ADDRESS_FIELDS}


ADDRESS_FIELDS = ("name", "line1", "line2", "city", "state", "postal_code", "country", "phone")


# --- pricing configuration ----------------------------------------------------------------------------------


class MerchantShipping(TimeStampedModel):
    """A merchant's shipping: a flat fee per order, waived from a threshold. Merchants without a row use the
    ``ORDER_SHIPPING_FLAT_FEE`` and ``ORDER_FREE_SHIPPING_THRESHOLD`` settings."""

    merchant = models.OneToOneField(Merchant, on_delete=models.CASCADE, related_name="shipping")
    flat_fee = _money(default=Decimal("0.00"))
    free_shipping_threshold = _money(
        null=True, blank=True, help_text="Orders whose amount after discounts reaches this ship free; empty: never."
    )

    class Meta:
        verbose_name = "merchant shipping"
        verbose_name_plural = "merchant shipping"
        constraints = [
            models.CheckConstraint(condition=Q(flat_fee__gte=0), name="orders_shipping_fee_non_negative"),
            models.CheckConstraint(
                condition=Q(free_shipping_threshold__isnull=True) | Q(free_shipping_threshold__gte=0),
                name="orders_shipping_threshold_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"Shipping of {self.merchant}"


class CategoryTaxRate(TimeStampedModel):
    """The tax rate (per cent, included in prices) of products in a category. Categories without a row use
    their parent's row, then ``ORDER_DEFAULT_TAX_RATE``."""

    category = models.OneToOneField(Category, on_delete=models.CASCADE, related_name="tax_rate")
    rate = models.DecimalField(max_digits=5, decimal_places=2, validators=PERCENT_VALIDATORS)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(rate__gte=0, rate__lte=100), name="orders_tax_rate_percent"),
        ]

    def __str__(self) -> str:
        return f"{self.category}: {self.rate}%"


# --- cart ---------------------------------------------------------------------------------------------------


class CartStatus(models.TextChoices):
    OPEN = "open", "Open"
    CONVERTED = "converted", "Converted to an order"


class Cart(TimeStampedModel):
    """A shopper's cart. ``quoted_total``/``quote_fingerprint`` record the last quote the shopper was shown, so
    checkout can tell a price or coupon change since (409 ``cart_changed``)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="carts")
    merchant = models.ForeignKey(Merchant, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=CartStatus.choices, default=CartStatus.OPEN, editable=False)
    coupon_code = models.CharField(max_length=64, blank=True)
    quoted_total = _money(null=True, blank=True, editable=False)
    quote_fingerprint = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(status=CartStatus.OPEN), name="orders_cart_one_open_per_user"
            ),
        ]

    def __str__(self) -> str:
        return f"Cart {self.pk} of {self.user_id}"


class CartLine(TimeStampedModel):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey(ProductVariant, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["cart", "variant"], name="orders_cart_line_variant_unique"),
            models.CheckConstraint(
                condition=Q(quantity__gte=1, quantity__lte=MAX_LINE_QUANTITY), name="orders_cart_line_quantity_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.variant_id}"


# --- orders -------------------------------------------------------------------------------------------------


class OrderStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", "Pending payment"
    PAID = "paid", "Paid"
    FULFILLED = "fulfilled", "Fulfilled"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


ORDER_TRANSITIONS: dict[str, set[str]] = {
    OrderStatus.PENDING_PAYMENT: {OrderStatus.PAID, OrderStatus.CANCELLED, OrderStatus.EXPIRED},
    OrderStatus.PAID: {OrderStatus.FULFILLED, OrderStatus.CANCELLED},
    OrderStatus.FULFILLED: {OrderStatus.DELIVERED},
    OrderStatus.DELIVERED: set(),
    OrderStatus.CANCELLED: set(),
    OrderStatus.EXPIRED: set(),
}


class PaymentStatus(models.TextChoices):
    UNPAID = "unpaid", "Unpaid"
    PAID = "paid", "Paid"
    PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
    REFUNDED = "refunded", "Refunded"


PAYMENT_TRANSITIONS: dict[str, set[str]] = {
    PaymentStatus.UNPAID: {PaymentStatus.PAID},
    PaymentStatus.PAID: {PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED},
    PaymentStatus.PARTIALLY_REFUNDED: {PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED},
    PaymentStatus.REFUNDED: set(),
}


class Order(TimeStampedModel):
    """A placed order: the snapshot of a cart at checkout. Amounts include tax; ``tax`` is the part of ``total``
    that is tax. ``total = subtotal - discount - adjustments_total + shipping``."""

    number = models.CharField(max_length=16, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders")
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(
        max_length=20, choices=OrderStatus.choices, default=OrderStatus.PENDING_PAYMENT, editable=False
    )
    payment_status = models.CharField(
        max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.UNPAID, editable=False
    )
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, validators=[validate_currency], editable=False)
    subtotal = _money(editable=False)
    discount = _money(default=Decimal("0.00"), editable=False, help_text="The coupon's discount.")
    adjustments_total = _money(
        default=Decimal("0.00"), editable=False, help_text="Other reductions (e.g. loyalty points)."
    )
    shipping = _money(default=Decimal("0.00"), editable=False)
    tax = _money(default=Decimal("0.00"), editable=False)
    total = _money(editable=False)
    refunded_amount = _money(default=Decimal("0.00"), editable=False)
    offer = models.ForeignKey(
        "offers.Offer", null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    coupon_code = models.CharField(max_length=64, blank=True, editable=False)
    shipping_address = models.JSONField(default=dict, editable=False)
    email = models.EmailField(blank=True, editable=False, help_text="The shopper's email at checkout.")
    phone = models.CharField(max_length=20, blank=True, editable=False, help_text="The shopper's phone at checkout.")
    carrier = models.CharField(max_length=60, blank=True, editable=False)
    tracking_number = models.CharField(max_length=80, blank=True, editable=False)
    needs_attention = models.BooleanField(
        default=False, editable=False, help_text="Flagged for staff (e.g. a payment dispute)."
    )
    placed_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    expires_at = models.DateTimeField(null=True, blank=True, editable=False, help_text="Unpaid orders expire then.")
    paid_at = models.DateTimeField(null=True, blank=True, editable=False)
    fulfilled_at = models.DateTimeField(null=True, blank=True, editable=False)
    delivered_at = models.DateTimeField(null=True, blank=True, editable=False)
    cancelled_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-placed_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-placed_at"], name="orders_order_user_idx"),
            models.Index(fields=["merchant", "-placed_at"], name="orders_order_merchant_idx"),
            models.Index(fields=["status", "-placed_at"], name="orders_order_status_idx"),
            # Fraud checks (cashback risk, loyalty referrals) look for other accounts that ordered to a phone.
            models.Index(fields=["phone"], condition=~Q(phone=""), name="orders_order_phone_idx"),
            models.Index(
                fields=["expires_at"],
                condition=Q(status="pending_payment"),
                name="orders_order_expiry_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(subtotal__gte=0)
                & Q(discount__gte=0)
                & Q(adjustments_total__gte=0)
                & Q(shipping__gte=0)
                & Q(tax__gte=0)
                & Q(total__gte=0),
                name="orders_order_amounts_non_negative",
            ),
            # Rounded to the cent: SQLite computes the right-hand side in floating point (1199.00 - 119.90 -
            # 100.00 is 979.0999...), which would refuse a correct total; on PostgreSQL numeric it is exact.
            models.CheckConstraint(
                condition=Q(total=Round(F("subtotal") - F("discount") - F("adjustments_total") + F("shipping"), 2)),
                name="orders_order_total_adds_up",
            ),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0) & Q(refunded_amount__lte=F("total")),
                name="orders_order_refund_within_total",
            ),
        ]
        # Beside "change" (every back-office action): marking a shipped order delivered, and nothing else.
        permissions = [("deliver_order", "Can mark shipped orders delivered")]

    def __str__(self) -> str:
        return self.number

    @property
    def is_payable(self) -> bool:
        return self.status == OrderStatus.PENDING_PAYMENT


class OrderLine(models.Model):
    """A line as sold: the product and variant as they were, and how the order's reductions and tax split.

    ``line_total = unit_price * quantity``; ``discount`` is this line's share of the coupon and other
    reductions; ``tax`` is the tax contained in ``line_total - discount`` at ``tax_rate``.
    """

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey(ProductVariant, on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="+")
    sku = models.CharField(max_length=64)
    product_title = models.CharField(max_length=200)
    product_slug = models.SlugField(max_length=220)
    options = models.JSONField(default=dict, blank=True)
    quantity = models.PositiveIntegerField()
    unit_price = _money()
    line_total = _money()
    discount = _money(default=Decimal("0.00"))
    tax_rate = models.DecimalField(max_digits=5, decimal_places=2)
    tax = _money(default=Decimal("0.00"))

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=1, quantity__lte=MAX_LINE_QUANTITY), name="orders_line_quantity_range"
            ),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0) & Q(discount__gte=0) & Q(tax__gte=0) & Q(discount__lte=F("line_total")),
                name="orders_line_amounts_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"

    @property
    def net_total(self) -> Decimal:
        return self.line_total - self.discount


class OrderAdjustment(models.Model):
    """A reduction another app added at checkout through :mod:`commerce.orders.adjustments` (e.g. points)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="adjustments")
    source = models.CharField(max_length=40, help_text="The provider's key, e.g. 'loyalty_points'.")
    label = models.CharField(max_length=120)
    amount = _money()
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="orders_adjustment_amount_positive"),
            models.UniqueConstraint(fields=["order", "source"], name="orders_adjustment_once_per_source"),
        ]

    def __str__(self) -> str:
        return f"{self.label}: -{self.amount}"


class OrderEventType(models.TextChoices):
    PLACED = "placed", "Placed"
    PAID = "paid", "Paid"
    FULFILLED = "fulfilled", "Fulfilled"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"
    REFUNDED = "refunded", "Refunded"
    NOTE = "note", "Note"
    FLAGGED = "flagged", "Flagged for staff"
    INVOICED = "invoiced", "Invoiced"


class OrderEventQuerySet(AppendOnlyQuerySet):
    def shopper_visible(self) -> "OrderEventQuerySet":
        return self.filter(shopper_visible=True)


class OrderEvent(AppendOnlyModel):
    """The order's history and audit trail: who moved it from which status to which, when, and why."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="events")
    type = models.CharField(max_length=20, choices=OrderEventType.choices)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    note = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)
    shopper_visible = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    # The append-only manager plus ``shopper_visible()``; mypy sees the base's manager as a class variable.
    objects = OrderEventQuerySet.as_manager()  # type: ignore[misc]

    class Meta:
        ordering = ["created_at", "id"]
        default_permissions = ("view",)
        indexes = [models.Index(fields=["order", "created_at"], name="orders_event_order_time_idx")]

    def __str__(self) -> str:
        return f"{self.order_id} {self.type}"


# --- checkout idempotency -----------------------------------------------------------------------------------


class IdempotencyRecord(models.Model):
    """The first successful answer to a request with an ``Idempotency-Key``, replayed for the same key and body.

    Written in the same transaction as the order it answers, so a record exists exactly when its order does.
    Keys are per user and scope; records older than ``IDEMPOTENCY_KEY_TTL_HOURS`` are purged by a task.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    scope = models.CharField(max_length=40)
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "scope", "key"], name="orders_idempotency_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"


# --- invoices -----------------------------------------------------------------------------------------------


class InvoiceSequence(models.Model):
    """The last invoice number issued in a financial year. Locked while a number is taken, in the same
    transaction as the invoice, so numbers are gap-free."""

    financial_year = models.CharField(max_length=9, unique=True, help_text='e.g. "2026-27" (April to March).')
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.financial_year}: {self.last_number}"


class Invoice(models.Model):
    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="invoice")
    financial_year = models.CharField(max_length=9)
    sequence = models.PositiveIntegerField()
    number = models.CharField(max_length=32, unique=True)
    pdf = models.FileField(upload_to="invoices/%Y/")
    issued_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["financial_year", "sequence"], name="orders_invoice_sequence_unique"),
        ]

    def __str__(self) -> str:
        return self.number


# --- recommendations ----------------------------------------------------------------------------------------


class CoPurchase(models.Model):
    """How many paid orders contained both products (``product_low_id < product_high_id``), kept up to date
    by a periodic task; read by the "frequently bought together" recommendation."""

    product_low = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    product_high = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    orders = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["product_low", "product_high"], name="orders_copurchase_pair_unique"),
            models.CheckConstraint(
                condition=Q(product_low__lt=F("product_high")), name="orders_copurchase_pair_ordered"
            ),
        ]
        indexes = [
            models.Index(fields=["product_low", "-orders"], name="orders_copurchase_low_idx"),
            models.Index(fields=["product_high", "-orders"], name="orders_copurchase_high_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.product_low_id}+{self.product_high_id}: {self.orders}"


# --- back office --------------------------------------------------------------------------------------------


class SalesOverview(Order):
    """No data of its own: the back office's sales overview page (``commerce/orders/reports.py``), a proxy of
    :class:`Order` so the page has a place in the admin navigation and its own ``view_salesoverview``
    permission."""

    class Meta:
        proxy = True
        default_permissions = ("view",)
        verbose_name = verbose_name_plural = "sales overview"
