"""The order as its shopper sees it: the body of ``GET orders/{number}``, ``POST checkout`` (201) and
``POST orders/{number}/cancel``, and the rows of ``GET orders``.

Every amount is a money object in the order's currency. A line's ``discount`` is its share of the coupon and
of the other reductions (``adjustments``), its ``tax`` the tax contained in what is paid for it
(``line_total - discount``) at ``tax_rate`` per cent. ``events`` are the shopper-visible ones, oldest first
(``type``, ``at``, ``note``); ``tracking`` is ``{"carrier", "number"}`` once shipped, else ``null``;
``coupon`` is ``{"code", "discount"}`` or ``null``.

:func:`order_payload` expects an order loaded by :func:`commerce.orders.selectors.order_detail` (lines,
adjustments and ``visible_events`` prefetched, merchant joined): then it reads nothing more.
"""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from commerce.core.api.fields import MoneyField, MoneySerializer, money

from ..models import ADDRESS_FIELDS, Order, OrderAdjustment, OrderEvent, OrderLine


class OrderMerchantSerializer(serializers.Serializer[Any]):
    slug = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)


class OrderProductSerializer(serializers.Serializer[Any]):
    slug = serializers.CharField(source="product_slug", read_only=True)
    title = serializers.CharField(source="product_title", read_only=True)


class OrderLineSerializer(serializers.ModelSerializer[OrderLine]):
    product = OrderProductSerializer(source="*", read_only=True)
    unit_price = MoneyField(currency_field="order.currency")
    line_total = MoneyField(currency_field="order.currency", help_text="unit_price x quantity.")
    discount = MoneyField(currency_field="order.currency", help_text="This line's share of all reductions.")
    tax = MoneyField(currency_field="order.currency", help_text="Tax contained in line_total - discount.")
    total = MoneyField(source="net_total", currency_field="order.currency", help_text="line_total - discount.")

    class Meta:
        model = OrderLine
        fields = [
            "sku",
            "product",
            "options",
            "quantity",
            "unit_price",
            "line_total",
            "discount",
            "tax_rate",
            "tax",
            "total",
        ]
        read_only_fields = fields


class OrderAdjustmentSerializer(serializers.ModelSerializer[OrderAdjustment]):
    amount = MoneyField(currency_field="order.currency")

    class Meta:
        model = OrderAdjustment
        fields = ["source", "label", "amount"]
        read_only_fields = fields


class OrderEventSerializer(serializers.ModelSerializer[OrderEvent]):
    at = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = OrderEvent
        fields = ["type", "at", "note"]
        read_only_fields = fields


class OrderAddressSerializer(serializers.Serializer[Any]):
    """The delivery address as it was at checkout."""

    name = serializers.CharField(read_only=True)
    line1 = serializers.CharField(read_only=True)
    line2 = serializers.CharField(read_only=True)
    city = serializers.CharField(read_only=True)
    state = serializers.CharField(read_only=True)
    postal_code = serializers.CharField(read_only=True)
    country = serializers.CharField(read_only=True)
    phone = serializers.CharField(read_only=True)


class OrderTrackingSerializer(serializers.Serializer[Any]):
    carrier = serializers.CharField(read_only=True)
    number = serializers.CharField(read_only=True)


class OrderCouponSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(read_only=True)
    discount = MoneySerializer(read_only=True)


class OrderSerializer(serializers.ModelSerializer[Order]):
    """An order with its lines, totals, address, history and tracking."""

    merchant = OrderMerchantSerializer(read_only=True)
    lines = OrderLineSerializer(many=True, read_only=True)
    subtotal = MoneyField(help_text="Sum of the lines' line_total.")
    discount = MoneyField(help_text="The coupon's discount.")
    coupon = serializers.SerializerMethodField()
    adjustments = OrderAdjustmentSerializer(many=True, read_only=True)
    adjustments_total = MoneyField(help_text="Other reductions (e.g. loyalty points).")
    shipping = MoneyField()
    tax = MoneyField(help_text="Tax contained in the total (prices include tax).")
    total = MoneyField(help_text="subtotal - discount - adjustments_total + shipping.")
    refunded = MoneyField(source="refunded_amount")
    shipping_address = serializers.SerializerMethodField()
    events = OrderEventSerializer(source="visible_events", many=True, read_only=True)
    tracking = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = [
            "number",
            "status",
            "payment_status",
            "merchant",
            "lines",
            "subtotal",
            "discount",
            "coupon",
            "adjustments",
            "adjustments_total",
            "shipping",
            "tax",
            "total",
            "refunded",
            "shipping_address",
            "events",
            "tracking",
            "placed_at",
            "expires_at",
            "paid_at",
        ]
        read_only_fields = fields

    @extend_schema_field(OrderCouponSerializer(allow_null=True))
    def get_coupon(self, order: Order) -> dict[str, Any] | None:
        if not order.coupon_code:
            return None
        return {"code": order.coupon_code, "discount": money(order.discount, order.currency)}

    @extend_schema_field(OrderAddressSerializer)
    def get_shipping_address(self, order: Order) -> dict[str, str]:
        stored = order.shipping_address or {}
        return {field: str(stored.get(field, "") or "") for field in ADDRESS_FIELDS}

    @extend_schema_field(OrderTrackingSerializer(allow_null=True))
    def get_tracking(self, order: Order) -> dict[str, str] | None:
        if not order.tracking_number:
            return None
        return {"carrier": order.carrier, "number": order.tracking_number}


class OrderSummarySerializer(serializers.ModelSerializer[Order]):
    """An order in ``GET orders``: enough to list it; ``GET orders/{number}`` has the rest."""

    merchant = OrderMerchantSerializer(read_only=True)
    items = serializers.IntegerField(read_only=True, help_text="Units over all lines.")
    total = MoneyField()

    class Meta:
        model = Order
        fields = ["number", "status", "payment_status", "merchant", "items", "total", "placed_at", "expires_at"]
        read_only_fields = fields


def order_payload(order: Order) -> dict[str, Any]:
    """The order body (see the module docstring); ``order`` as loaded by ``selectors.order_detail``."""
    return dict(OrderSerializer(order).data)
