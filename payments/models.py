"""Payments data: a payment per attempt to pay an order with a provider, its refunds, the webhook inbox, and the
shopper's saved payment methods (provider tokens only; never card data).

Rules the models carry (every write is in ``payments/services/``):

* ``Payment.status`` moves along :data:`PAYMENT_TRANSITIONS`; the captured and refunded amounts only grow, and
  ``refunded_amount <= captured_amount <= amount`` is a CHECK constraint. A provider's ids are unique per provider.
* one **open** payment (``created`` or ``authorized``) per order and provider: a second start reuses it.
* every inbound webhook is stored raw in :class:`WebhookEvent` (unique per provider and event id) before anything
  is applied, so a duplicate is recognised and a failure can be replayed.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from commerce.core.models import TimeStampedModel
from commerce.core.money import CURRENCY_CHOICES, validate_currency
from commerce.orders.models import Order


def _money(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=12, decimal_places=2, **kwargs)


class Provider(models.TextChoices):
    STRIPE = "stripe", "Stripe"
    RAZORPAY = "razorpay", "Razorpay"
    DEMO = "demo", "Demo"


class PaymentStatus(models.TextChoices):
    CREATED = "created", "Created (awaiting the shopper)"
    AUTHORIZED = "authorized", "Authorised"
    CAPTURED = "captured", "Captured"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


OPEN_PAYMENT_STATUSES = (PaymentStatus.CREATED, PaymentStatus.AUTHORIZED)

# A failed attempt may be followed by a successful one on the same provider order (Razorpay retries inside one
# order; a Stripe PaymentIntent returns to requires_payment_method and can succeed later).
PAYMENT_TRANSITIONS: dict[str, set[str]] = {
    PaymentStatus.CREATED: {
        PaymentStatus.AUTHORIZED,
        PaymentStatus.CAPTURED,
        PaymentStatus.FAILED,
        PaymentStatus.CANCELLED,
    },
    PaymentStatus.AUTHORIZED: {PaymentStatus.CAPTURED, PaymentStatus.FAILED, PaymentStatus.CANCELLED},
    PaymentStatus.FAILED: {PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURED, PaymentStatus.CANCELLED},
    PaymentStatus.CAPTURED: set(),
    PaymentStatus.CANCELLED: set(),
}


class PaymentMethodType(models.TextChoices):
    CARD = "card", "Card"
    UPI = "upi", "UPI"
    NETBANKING = "netbanking", "Net banking"
    WALLET = "wallet", "Wallet"
    OTHER = "other", "Other"
    UNKNOWN = "", "Not known yet"


class Payment(TimeStampedModel):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    provider = models.CharField(max_length=16, choices=Provider.choices)
    status = models.CharField(
        max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.CREATED, editable=False
    )
    amount = _money(editable=False)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, validators=[validate_currency], editable=False)
    captured_amount = _money(default=Decimal("0.00"), editable=False)
    refunded_amount = _money(default=Decimal("0.00"), editable=False)
    provider_order_id = models.CharField(
        max_length=100, blank=True, editable=False, help_text="Stripe PaymentIntent id, Razorpay order id, demo id."
    )
    provider_payment_id = models.CharField(
        max_length=100, blank=True, editable=False, help_text="Stripe charge id, Razorpay payment id."
    )
    method = models.CharField(max_length=16, choices=PaymentMethodType.choices, blank=True, editable=False)
    vpa_handle = models.CharField(max_length=64, blank=True, editable=False, help_text="UPI handle, e.g. 'okhdfc'.")
    idempotency_key = models.CharField(max_length=80, unique=True, editable=False)
    client_data = models.JSONField(default=dict, blank=True, editable=False, help_text="What the client needs.")
    last_error = models.CharField(max_length=500, blank=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payments")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["order", "provider"], name="payments_payment_order_idx"),
            models.Index(fields=["status", "updated_at"], name="payments_payment_status_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_order_id"],
                condition=~Q(provider_order_id=""),
                name="payments_payment_provider_order_unique",
            ),
            models.UniqueConstraint(
                fields=["provider", "provider_payment_id"],
                condition=~Q(provider_payment_id=""),
                name="payments_payment_provider_payment_unique",
            ),
            models.UniqueConstraint(
                fields=["order", "provider"],
                condition=Q(status__in=["created", "authorized"]),
                name="payments_payment_one_open_per_provider",
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0)
                & Q(refunded_amount__gte=0)
                & Q(captured_amount__lte=F("amount"))
                & Q(refunded_amount__lte=F("captured_amount")),
                name="payments_payment_refunded_within_captured_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} payment {self.pk} of {self.order_id}"

    @property
    def refundable_amount(self) -> Decimal:
        return self.captured_amount - self.refunded_amount


class RefundStatus(models.TextChoices):
    PENDING = "pending", "Pending at the provider"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class Refund(TimeStampedModel):
    """Money sent back on a captured payment. ``pending`` and ``succeeded`` refunds both count against what may
    still be refunded, so concurrent requests can never refund more than was captured."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = _money(editable=False)
    currency = models.CharField(max_length=3, editable=False)
    reason = models.CharField(max_length=300)
    status = models.CharField(max_length=16, choices=RefundStatus.choices, default=RefundStatus.PENDING, editable=False)
    provider = models.CharField(max_length=16, choices=Provider.choices, editable=False)
    provider_refund_id = models.CharField(max_length=100, blank=True, editable=False)
    idempotency_key = models.CharField(max_length=80, unique=True, editable=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    last_error = models.CharField(max_length=500, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_refund_id"],
                condition=~Q(provider_refund_id=""),
                name="payments_refund_provider_id_unique",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_refund_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"Refund {self.pk} of {self.amount} {self.currency}"


class WebhookStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "Ignored (not an event we act on)"
    FAILED = "failed", "Failed (retries exhausted)"


class WebhookEvent(models.Model):
    """The inbox: every verified inbound webhook, stored raw before it is acted on."""

    provider = models.CharField(max_length=16, choices=Provider.choices)
    event_id = models.CharField(max_length=120)
    type = models.CharField(max_length=80)
    body = models.TextField(help_text="The raw body as received (the signature covers it).")
    headers = models.JSONField(default=dict, blank=True, help_text="The headers needed to verify it again.")
    status = models.CharField(
        max_length=16, choices=WebhookStatus.choices, default=WebhookStatus.RECEIVED, editable=False
    )
    attempts = models.PositiveIntegerField(default=0, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    received_at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    processed_at = models.DateTimeField(null=True, blank=True, editable=False)
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When a failed attempt is retried (the sweep's clock)."
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["status", "received_at"], name="payments_webhook_status_idx")]
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_id"], name="payments_webhook_event_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.type} {self.event_id}"


class ProviderCustomer(TimeStampedModel):
    """The shopper's customer record at a provider (Stripe customer, Razorpay customer)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="provider_customers")
    provider = models.CharField(max_length=16, choices=Provider.choices)
    customer_id = models.CharField(max_length=100)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "provider"], name="payments_customer_one_per_provider"),
            models.UniqueConstraint(fields=["provider", "customer_id"], name="payments_customer_id_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} customer {self.customer_id}"


class SavedPaymentMethod(TimeStampedModel):
    """A reusable payment method kept by the provider (Stripe PaymentMethod, Razorpay token): only its id and
    what a shopper needs to recognise it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="payment_methods")
    provider = models.CharField(max_length=16, choices=Provider.choices)
    provider_method_id = models.CharField(max_length=100)
    method = models.CharField(max_length=16, choices=PaymentMethodType.choices, blank=True)
    brand = models.CharField(max_length=30, blank=True)
    last4 = models.CharField(max_length=4, blank=True)
    exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    vpa_handle = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "provider_method_id"], name="payments_method_id_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.brand or self.method} {self.last4}".strip()
