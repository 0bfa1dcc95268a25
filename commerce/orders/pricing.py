"""What a cart costs now: the one calculation behind ``GET cart`` and checkout, so the shopper is charged what
the cart showed.

For each line, today's variant price; then, in this order:

1. **Lines that can be bought** are those of a public product (active, of an active merchant) in the cart's
   currency. Others stay in the cart, flagged ``line_unavailable`` in the warnings and left out of every
   total; a line asking for more than is available stays in the totals, flagged ``insufficient_stock``
   (checkout refuses both until the shopper fixes the cart).
2. **Subtotal**: the sum of the buyable lines' ``unit_price * quantity``.
3. **Coupon**: validated by the offers service on the buyable lines; its discount is shared among the lines it
   applies to in proportion to their amounts (:func:`commerce.core.money.allocate`). A coupon that no longer
   validates is dropped with a ``coupon_removed`` warning (the cart service then forgets it).
4. **Adjustments** from higher apps (:mod:`commerce.orders.adjustments`), each clamped to what is still due on
   the lines and shared among all buyable lines in proportion to what remains of them.
5. **Shipping**: the merchant's flat fee (or the settings' default), waived when the subtotal after the coupon
   reaches the free-shipping threshold. Loyalty and other adjustments do not count towards the threshold:
   they pay for the order rather than lower its price.
6. **Tax**: prices include tax. Each line's tax is the component contained in what is paid for it,
   ``(line_total - discount) * rate / (100 + rate)`` rounded half up once per line, at its category's rate (or
   the parent category's, or ``ORDER_DEFAULT_TAX_RATE``); shipping carries the default rate. ``tax`` is their
   sum: part of the total, not added to it.
7. **Total** = subtotal - discount - adjustments + shipping, never below zero.

Reads only (a fixed number of queries whatever the number of lines); :func:`cart_quote` never writes.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings

from commerce.catalog.models import Merchant, MerchantStatus, ProductStatus, ProductVariant
from commerce.core.money import allocate, default_currency, quantize, to_decimal
from commerce.offers.errors import CouponError
from commerce.offers.services import CartLine as CouponLine
from commerce.offers.services import CouponQuote, coupon_eligible_lines, coupon_validate

from .adjustments import AdjustmentQuote, adjustment_providers
from .models import Cart, CartLine, CategoryTaxRate, MerchantShipping

ZERO = Decimal("0.00")


@dataclass
class LineQuote:
    line: CartLine
    variant: ProductVariant
    quantity: int
    unit_price: Decimal
    line_total: Decimal
    buyable: bool
    available: bool
    stock_available: int
    tax_rate: Decimal
    discount: Decimal = ZERO
    tax: Decimal = ZERO

    @property
    def net_total(self) -> Decimal:
        return self.line_total - self.discount


@dataclass
class CartQuote:
    cart: Cart
    currency: str
    lines: list[LineQuote]
    subtotal: Decimal = ZERO
    coupon: CouponQuote | None = None
    discount: Decimal = ZERO
    adjustments: list[AdjustmentQuote] = field(default_factory=list)
    adjustments_total: Decimal = ZERO
    shipping: Decimal = ZERO
    shipping_tax: Decimal = ZERO
    tax: Decimal = ZERO
    total: Decimal = ZERO
    warnings: list[dict[str, Any]] = field(default_factory=list)
    #: Set when the cart's coupon no longer validates; the cart service forgets it.
    coupon_dropped: bool = False

    @property
    def buyable_lines(self) -> list[LineQuote]:
        return [line for line in self.lines if line.buyable]

    def fingerprint(self) -> str:
        """A digest of everything a shopper agrees to by checking out: lines, prices, reductions, total."""
        parts = [self.currency, self.cart.coupon_code]
        parts += [f"{q.variant.pk}:{q.quantity}:{q.unit_price}:{q.buyable}" for q in self.lines]
        parts += [f"{a.source}:{a.amount}" for a in self.adjustments]
        parts += [str(self.discount), str(self.shipping), str(self.total)]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()


def variant_on_sale(variant: ProductVariant) -> bool:
    """Whether ``variant`` can be bought at all: its product is active and of an active merchant."""
    product = variant.product
    return product.status == ProductStatus.ACTIVE and product.merchant.status == MerchantStatus.ACTIVE


def coupon_lines(lines: Sequence[LineQuote]) -> list[CouponLine]:
    """``lines`` as the offers service sees them (product, category, line total), in order."""
    return [
        CouponLine(product_id=q.variant.product_id, category_id=q.variant.product.category_id, amount=q.line_total)
        for q in lines
    ]


def tax_rates(category_parents: dict[int, int | None]) -> dict[int, Decimal]:
    """The tax rate of each category (``{category_id: parent_id}``): its own row, its parent's, or the default."""
    ids = set(category_parents) | {parent for parent in category_parents.values() if parent is not None}
    rows = dict(CategoryTaxRate.objects.filter(category_id__in=ids).values_list("category_id", "rate"))
    default = to_decimal(settings.ORDER_DEFAULT_TAX_RATE)
    rates = {}
    for category_id, parent_id in category_parents.items():
        rate = rows.get(category_id)
        if rate is None and parent_id is not None:
            rate = rows.get(parent_id)
        rates[category_id] = default if rate is None else rate
    return rates


def shipping_terms(merchant: Merchant | None) -> tuple[Decimal, Decimal | None]:
    """``(flat_fee, free_shipping_threshold)`` of ``merchant``, or the settings' defaults."""
    row = MerchantShipping.objects.filter(merchant=merchant).first() if merchant is not None else None
    if row is not None:
        return row.flat_fee, row.free_shipping_threshold
    threshold = settings.ORDER_FREE_SHIPPING_THRESHOLD
    return to_decimal(settings.ORDER_SHIPPING_FLAT_FEE), (to_decimal(threshold) if threshold != "" else None)


def tax_contained(amount: Decimal, rate: Decimal, currency: str) -> Decimal:
    """The tax included in a tax-inclusive ``amount`` at ``rate`` per cent, rounded half up once."""
    if amount <= 0 or rate <= 0:
        return quantize(ZERO, currency)
    return quantize(amount * rate / (Decimal(100) + rate), currency)


def cart_lines_for_pricing(cart: Cart) -> list[CartLine]:
    """The cart's lines with what pricing reads (variant, product, category, merchant) in one query."""
    return list(cart.lines.select_related("variant__product__category", "variant__product__merchant").order_by("id"))


def _line_quotes(lines: Sequence[CartLine], currency: str) -> list[LineQuote]:
    rates = tax_rates({line.variant.product.category_id: line.variant.product.category.parent_id for line in lines})
    quotes = []
    for line in lines:
        variant = line.variant
        buyable = variant_on_sale(variant) and variant.currency == currency
        quotes.append(
            LineQuote(
                line=line,
                variant=variant,
                quantity=line.quantity,
                unit_price=variant.price,
                line_total=quantize(variant.price * line.quantity, currency),
                buyable=buyable,
                available=buyable and line.quantity <= variant.stock_available,
                stock_available=max(variant.stock_available, 0),
                tax_rate=rates[variant.product.category_id],
            )
        )
    return quotes


def _line_warnings(quote: CartQuote) -> None:
    for line in quote.lines:
        sku = line.variant.sku
        if not line.buyable:
            quote.warnings.append(
                {"code": "line_unavailable", "sku": sku, "detail": f"SKU {sku} is no longer on sale."}
            )
        elif not line.available:
            left = line.stock_available
            detail = f"Only {left} left of SKU {sku}." if left else f"SKU {sku} is out of stock."
            quote.warnings.append({"code": "insufficient_stock", "sku": sku, "available": left, "detail": detail})


def _apply_coupon(quote: CartQuote, user: Any) -> None:
    cart, buyable = quote.cart, quote.buyable_lines
    if not cart.coupon_code:
        return
    offered_lines = coupon_lines(buyable)
    try:
        if not buyable or cart.merchant is None:
            raise CouponError("Your cart has nothing this coupon applies to.")
        coupon = coupon_validate(
            code=cart.coupon_code, user=user, merchant=cart.merchant, lines=offered_lines, currency=quote.currency
        )
    except CouponError as exc:
        quote.coupon_dropped = True
        quote.warnings.append(
            {"code": "coupon_removed", "coupon": cart.coupon_code, "reason": exc.code, "detail": exc.detail}
        )
        return
    quote.coupon = coupon
    quote.discount = coupon.discount
    eligible = coupon_eligible_lines(offer=coupon.offer, lines=offered_lines)
    weights = [q.line_total if ok else ZERO for q, ok in zip(buyable, eligible, strict=True)]
    for line, share in zip(buyable, allocate(coupon.discount, weights, quote.currency), strict=True):
        line.discount += share


def _apply_adjustments(quote: CartQuote) -> None:
    buyable = quote.buyable_lines
    for provider in adjustment_providers():
        due = quote.subtotal - quote.discount - quote.adjustments_total
        if due <= 0:
            break
        offered = provider.quote(cart=quote.cart, amount_due=due, currency=quote.currency)
        if offered is None:
            continue
        amount = min(quantize(offered.amount, quote.currency), due)
        if amount <= 0:
            continue
        applied = AdjustmentQuote(source=offered.source, label=offered.label, amount=amount, data=offered.data)
        quote.adjustments.append(applied)
        quote.adjustments_total += amount
        weights = [line.net_total for line in buyable]
        for line, share in zip(buyable, allocate(amount, weights, quote.currency), strict=True):
            line.discount += share


def _apply_shipping_and_tax(quote: CartQuote) -> None:
    currency, buyable = quote.currency, quote.buyable_lines
    if buyable:
        fee, threshold = shipping_terms(quote.cart.merchant)
        after_coupon = quote.subtotal - quote.discount
        quote.shipping = ZERO if threshold is not None and after_coupon >= threshold else quantize(fee, currency)
    for line in buyable:
        line.tax = tax_contained(line.net_total, line.tax_rate, currency)
    quote.shipping_tax = tax_contained(quote.shipping, to_decimal(settings.ORDER_DEFAULT_TAX_RATE), currency)
    quote.tax = sum((line.tax for line in buyable), ZERO) + quote.shipping_tax
    quote.total = max(quote.subtotal - quote.discount - quote.adjustments_total + quote.shipping, ZERO)


def cart_quote(*, cart: Cart, user: Any, lines: Sequence[CartLine] | None = None) -> CartQuote:
    """Price ``cart`` for ``user`` as of now. ``lines`` may be passed pre-loaded (see
    :func:`cart_lines_for_pricing`); the checkout passes lines whose variants it has just locked."""
    lines = cart_lines_for_pricing(cart) if lines is None else lines
    currency = lines[0].variant.currency if lines else default_currency()
    quote = CartQuote(cart=cart, currency=currency, lines=_line_quotes(lines, currency))
    _line_warnings(quote)
    quote.subtotal = quantize(sum((line.line_total for line in quote.buyable_lines), ZERO), currency)
    _apply_coupon(quote, user)
    _apply_adjustments(quote)
    _apply_shipping_and_tax(quote)
    return quote
