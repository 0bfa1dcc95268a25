"""The cart's JSON: the input of the cart endpoints, and the body every one of them answers.

The body (``GET cart`` and every change) is built by :func:`cart_payload` from a
:class:`~commerce.orders.pricing.CartQuote`; :class:`CartSerializer` documents exactly that shape in the OpenAPI
schema (a test holds the two together). Decisions where the issue is silent:

* ``merchant`` is ``{"slug", "name"}`` of the cart's merchant, or ``null`` while the cart is empty;
* a line's ``available`` is a boolean: true when the line can be bought as it stands (on sale and in stock for its
  quantity); why not, and how many are left, is in ``warnings``;
* ``discount`` is the coupon's; reductions from other apps (loyalty points...) are listed in ``adjustments`` and
  ``total = subtotal - discount - sum(adjustments) + shipping``; ``tax`` is the part of ``total`` that is tax;
* without a cart the body is an empty cart with ``id: null`` and zero amounts in the default currency.

Inputs are strict: a quantity is a JSON integer (not ``"2"``, ``2.0``, ``2.5`` or ``true``), ``replace`` a JSON
boolean.
"""

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from commerce.core.api.fields import MoneyField, money

from ..models import MAX_LINE_QUANTITY
from ..pricing import CartQuote, LineQuote

QUANTITY_MESSAGE = f"Enter a whole number from 1 to {MAX_LINE_QUANTITY}."


class QuantityField(serializers.IntegerField):
    """A JSON integer from 1 to :data:`MAX_LINE_QUANTITY`; strings, fractions and booleans are refused."""

    default_error_messages = {
        "invalid": QUANTITY_MESSAGE,
        "min_value": QUANTITY_MESSAGE,
        "max_value": QUANTITY_MESSAGE,
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=1, max_value=MAX_LINE_QUANTITY, **kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        value: int = super().to_internal_value(data)
        return value


class StrictBooleanField(serializers.BooleanField):
    """A JSON ``true`` or ``false``; DRF's own also reads ``"yes"``, ``1`` and ``"on"``."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class CartLineInputSerializer(serializers.Serializer[Any]):
    sku = serializers.CharField(max_length=64, help_text="The variant's SKU, e.g. TSHIRT-M.")
    quantity = QuantityField(help_text=f"Units to add (1 to {MAX_LINE_QUANTITY}, counting what the line holds).")
    replace = StrictBooleanField(
        required=False,
        default=False,
        help_text="Empty a cart holding another merchant's (or currency's) items first, instead of a 409.",
    )


class CartLineQuantitySerializer(serializers.Serializer[Any]):
    quantity = QuantityField(help_text=f"The line's new quantity (1 to {MAX_LINE_QUANTITY}).")


class CartCouponInputSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(max_length=64, help_text="The coupon code (any letter case).")


# --- output ----------------------------------------------------------------------------------------------------
# These serializers document the body; cart_payload() renders it. MoneyField makes each amount the Money component.


class CartMerchantSerializer(serializers.Serializer[Any]):
    slug = serializers.CharField()
    name = serializers.CharField()


class CartProductSerializer(serializers.Serializer[Any]):
    slug = serializers.CharField()
    title = serializers.CharField()


class CartLineSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    product = CartProductSerializer()
    quantity = serializers.IntegerField()
    unit_price = MoneyField(help_text="Today's price of one unit, tax included.")
    line_total = MoneyField()
    available = serializers.BooleanField(help_text="Can be bought as it stands: on sale and in stock.")


class CartCouponSerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    discount = MoneyField()


class CartAdjustmentSerializer(serializers.Serializer[Any]):
    # Named like Field attributes, which the stubs type; the metaclass takes declared fields off the class.
    source = serializers.CharField(help_text="The app that offers it, e.g. loyalty_points.")  # type: ignore[assignment]
    label = serializers.CharField()  # type: ignore[assignment]
    amount = MoneyField(help_text="Taken off the total.")


class CartWarningSerializer(serializers.Serializer[Any]):
    """Something the shopper should fix or know before checking out."""

    code = serializers.ChoiceField(choices=["line_unavailable", "insufficient_stock", "coupon_removed"])
    detail = serializers.CharField()
    sku = serializers.CharField(required=False, help_text="line_unavailable, insufficient_stock: the line's SKU.")
    available = serializers.IntegerField(required=False, help_text="insufficient_stock: units left.")
    coupon = serializers.CharField(required=False, help_text="coupon_removed: the code that was removed.")
    reason = serializers.CharField(required=False, help_text="coupon_removed: the offers error code, e.g. expired.")


class CartSerializer(serializers.Serializer[Any]):
    """The whole cart, priced now. ``id`` and ``merchant`` are null while the shopper has no cart."""

    id = serializers.IntegerField(allow_null=True)
    merchant = CartMerchantSerializer(allow_null=True)
    lines = CartLineSerializer(many=True)
    coupon = CartCouponSerializer(allow_null=True)
    subtotal = MoneyField()
    discount = MoneyField(help_text="The coupon's discount.")
    adjustments = CartAdjustmentSerializer(many=True)
    shipping = MoneyField()
    tax = MoneyField(help_text="The tax included in the total (not added to it).")
    total = MoneyField()
    warnings = CartWarningSerializer(many=True)


def _line_payload(line: LineQuote, currency: str) -> dict[str, Any]:
    product = line.variant.product
    return {
        "id": line.line.pk,
        "sku": line.variant.sku,
        "product": {"slug": product.slug, "title": product.title},
        "quantity": line.quantity,
        "unit_price": money(line.unit_price, line.variant.currency),
        "line_total": money(line.line_total, line.variant.currency),
        "available": line.available,
    }


def cart_payload(quote: CartQuote) -> dict[str, Any]:
    """The body of ``GET cart`` (and of every cart change) for ``quote``; see the module docstring."""
    currency = quote.currency
    merchant = quote.cart.merchant if quote.cart.merchant_id is not None else None

    def amount(value: Decimal) -> dict[str, str]:
        return money(value, currency)

    return {
        "id": quote.cart.pk,
        "merchant": {"slug": merchant.slug, "name": merchant.name} if merchant is not None else None,
        "lines": [_line_payload(line, currency) for line in quote.lines],
        "coupon": (
            {"code": quote.coupon.offer.code or quote.cart.coupon_code, "discount": amount(quote.discount)}
            if quote.coupon is not None
            else None
        ),
        "subtotal": amount(quote.subtotal),
        "discount": amount(quote.discount),
        "adjustments": [
            {"source": adj.source, "label": adj.label, "amount": amount(adj.amount)} for adj in quote.adjustments
        ],
        "shipping": amount(quote.shipping),
        "tax": amount(quote.tax),
        "total": amount(quote.total),
        "warnings": [dict(warning) for warning in quote.warnings],
    }
