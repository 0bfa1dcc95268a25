"""Orders test builders, shared by every orders test (and by the tests of payments, cashback and loyalty).

``order_build`` writes an order and its lines **directly** (not through checkout), with totals that add up the way
``commerce.orders.pricing`` computes them (no coupon, default tax, no shipping unless given), so tests of
transitions, invoices, the admin and recommendations can start from an order in any state. Stock follows the
state: a ``pending_payment`` order's units are allocated, a paid/fulfilled/delivered order's units have left the
stock on hand, a cancelled or expired one holds nothing.
"""

from decimal import Decimal

import factory
from django.utils import timezone

from commerce.catalog.models import ProductVariant
from commerce.core.money import quantize
from commerce.orders.models import (
    Address,
    Order,
    OrderEvent,
    OrderEventType,
    OrderLine,
    OrderStatus,
    PaymentStatus,
)
from commerce.orders.pricing import tax_contained, tax_rates
from tests.factories import UserFactory

SHIPPING_ADDRESS = {
    "name": "Asha Rao",
    "line1": "14 Residency Road",
    "line2": "Flat 3B",
    "city": "Bengaluru",
    "state": "Karnataka",
    "postal_code": "560025",
    "country": "IN",
    "phone": "+919812345678",
}

_PAID_STATES = {OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.DELIVERED}
_counter = iter(range(1, 10**9))


class AddressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Address

    user = factory.SubFactory(UserFactory)
    name = SHIPPING_ADDRESS["name"]
    line1 = SHIPPING_ADDRESS["line1"]
    line2 = SHIPPING_ADDRESS["line2"]
    city = SHIPPING_ADDRESS["city"]
    state = SHIPPING_ADDRESS["state"]
    postal_code = SHIPPING_ADDRESS["postal_code"]
    country = "IN"
    phone = SHIPPING_ADDRESS["phone"]


def order_build(
    *,
    user=None,
    lines: list[tuple[ProductVariant, int]],
    status: str = OrderStatus.PENDING_PAYMENT,
    payment_status: str | None = None,
    shipping: str = "0.00",
    number: str | None = None,
    placed_at=None,
) -> Order:
    """An order of ``lines`` (``[(variant, quantity)]``, one merchant) in ``status``, with a ``placed`` event."""
    user = user or UserFactory()
    variants = [variant for variant, _ in lines]
    product = variants[0].product
    currency = variants[0].currency
    rates = tax_rates({v.product.category_id: v.product.category.parent_id for v in variants})
    if payment_status is None:
        payment_status = PaymentStatus.PAID if status in _PAID_STATES else PaymentStatus.UNPAID
    now = placed_at or timezone.now()
    subtotal = Decimal("0.00")
    rows = []
    for variant, quantity in lines:
        line_total = quantize(variant.price * quantity, currency)
        subtotal += line_total
        rows.append(
            OrderLine(
                variant=variant,
                product=variant.product,
                category_id=variant.product.category_id,
                sku=variant.sku,
                product_title=variant.product.title,
                product_slug=variant.product.slug,
                options=variant.options,
                quantity=quantity,
                unit_price=variant.price,
                line_total=line_total,
                tax_rate=rates[variant.product.category_id],
                tax=tax_contained(line_total, rates[variant.product.category_id], currency),
            )
        )
    shipping_amount = Decimal(shipping)
    order = Order.objects.create(
        number=number or f"ORD-T{next(_counter):05d}",
        user=user,
        merchant=product.merchant,
        status=status,
        payment_status=payment_status,
        currency=currency,
        subtotal=subtotal,
        shipping=shipping_amount,
        tax=sum((row.tax for row in rows), Decimal("0.00")),
        total=subtotal + shipping_amount,
        shipping_address=dict(SHIPPING_ADDRESS),
        email=user.email or "",
        phone=user.phone or "",
        placed_at=now,
        expires_at=now + timezone.timedelta(minutes=30) if status == OrderStatus.PENDING_PAYMENT else None,
        paid_at=now if status in _PAID_STATES else None,
        cancelled_at=now if status == OrderStatus.CANCELLED else None,
    )
    for row in rows:
        row.order = order
    OrderLine.objects.bulk_create(rows)
    OrderEvent.objects.create(order=order, type=OrderEventType.PLACED, to_status=OrderStatus.PENDING_PAYMENT)
    for variant, quantity in lines:
        if status == OrderStatus.PENDING_PAYMENT:
            ProductVariant.objects.filter(pk=variant.pk).update(stock_allocated=variant.stock_allocated + quantity)
        elif status in _PAID_STATES:
            ProductVariant.objects.filter(pk=variant.pk).update(stock_on_hand=variant.stock_on_hand - quantity)
        variant.refresh_from_db()
    return order
