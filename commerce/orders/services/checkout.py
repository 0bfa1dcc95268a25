"""Checkout: the shopper's open cart becomes a ``pending_payment`` order, in one transaction, or nothing happens.

:func:`order_place`, step by step (every step inside one ``transaction.atomic``):

1. **Lock the cart row** (``cart_get_open(lock=True)``), so two checkouts of one cart, or a checkout and a cart
   edit, take turns. No open cart, or one without lines: 409 ``cart_empty``.
2. **Lock the variants** of its lines in one ``SELECT ... FOR UPDATE`` in primary-key order (the order every
   stock writer uses, so checkouts sharing SKUs never deadlock), loading what pricing reads with them.
3. **Price** with :func:`commerce.orders.pricing.cart_quote` on those locked rows: the same calculation the
   cart showed, with today's prices, the coupon re-validated and the adjustments of higher apps.
4. **Refuse** before writing anything, so the cart stays as it is and nothing is allocated:

   * lines no longer on sale: 409 ``line_unavailable``, ``fields`` per SKU;
   * lines asking for more than is available: 409 ``insufficient_stock``, ``fields`` per SKU (every short SKU,
     because all lines are checked before anything is allocated);
   * the price the shopper would pay is not the one they saw: 409 ``cart_changed`` with the new cart in
     ``cart`` (see below).

   In that order: a cart that cannot be bought as it stands is reported before a price change, since the
   shopper has to edit it anyway.

5. **Write**: allocate the stock (``variants_stock_allocate``, once, with every quantity), insert the order
   under a fresh number, redeem the coupon (``coupon_redeem`` locks the offer and re-checks its limits: a coupon
   used up meanwhile is a 409 from offers and everything rolls back), let each adjustment provider ``apply``
   its reduction (a ``Conflict`` from one rolls everything back), write the lines (one ``bulk_create``, each a
   snapshot: title, SKU, slug, options, unit price, discount share, tax rate, tax share), the adjustment rows,
   the ``placed`` event, and close the cart (``converted``).
6. **After the commit**: ``order_placed`` is published, the shopper's "placed" message goes out
   (``notify.order_notify``) and the products' popularity rises by the units sold.

The number of queries does not depend on the number of lines (bulk reads, one locking query, bulk writes):
30 through the API, idempotency and the answer's body included (``tests/orders/test_checkout.py``). The stock
service takes the variants' locks again when it allocates; they are already ours, so that statement neither
waits nor changes the lock order. After the commit, popularity costs one ``UPDATE`` per product sold, outside
any transaction and lock.

Decisions where the issue is silent:

* **What "the price the shopper saw" is.** The cart records the fingerprint of the last quote it showed
  (``Cart.quote_fingerprint``, written by ``cart_mark_seen`` on ``GET cart``). With ``expected_total`` in the
  body, that amount alone decides: checkout goes ahead when it equals the new total (whatever else changed),
  and answers ``cart_changed`` otherwise. Without it, the new quote's fingerprint must equal the recorded one;
  a cart whose quote was never shown (no fingerprint) is ``cart_changed`` too. The ``cart_changed`` answer
  records the new quote as seen (after the rollback, so it sticks), so the same request sent again goes
  through: the shopper has now been shown the new cart.
* **The cart's conversion** is written here (``Cart.status`` ``open -> converted``): checkout is the only
  writer of that transition; the cart service opens carts.
* A line whose variant was deleted cannot exist (``PROTECT``); a line of another merchant cannot either (the
  cart service refuses it), but the order's merchant is the cart's and every line is checked against it.
"""

from collections import Counter
from collections.abc import Callable, Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from commerce.catalog.models import ProductVariant
from commerce.catalog.services import product_add_popularity
from commerce.catalog.services.stock import variants_stock_allocate
from commerce.core.errors import Conflict, InvalidInput
from commerce.offers.services import coupon_redeem

from ..adjustments import adjustment_providers
from ..events import order_placed, publish
from ..models import (
    Cart,
    CartLine,
    CartStatus,
    Order,
    OrderAdjustment,
    OrderEvent,
    OrderEventType,
    OrderLine,
    OrderStatus,
    PaymentStatus,
)
from ..pricing import CartQuote, cart_quote
from .addresses import checkout_address
from .cart import cart_get_open, cart_mark_seen
from .notify import order_notify
from .numbers import order_number_insert


class CartChanged(Conflict):
    """409 ``cart_changed``: the cart costs something else than the shopper last saw. ``quote`` is the new cart's
    quote; the API adds it to the error body as ``cart`` (the service layer does not render API payloads).
    :meth:`after_rollback` records that quote as seen once the checkout's transaction has rolled back
    (each enclosing transaction that rolls back runs it again), so a retry of the same request goes through."""

    def __init__(self, quote: CartQuote) -> None:
        super().__init__(
            "Your cart changed since you last saw it (a price, your coupon or a discount). "
            "Review the cart and check out again.",
            code="cart_changed",
        )
        self.cart_id = quote.cart.pk
        self.quote_fingerprint = quote.fingerprint()
        self.quote = quote

    def after_rollback(self) -> None:
        cart = Cart.objects.filter(pk=self.cart_id, status=CartStatus.OPEN).first()
        if cart is not None and cart.quote_fingerprint != self.quote_fingerprint:
            self.quote.cart = cart
            cart_mark_seen(cart=cart, quote=self.quote)


def _sku_fields(messages: Mapping[str, str]) -> dict[str, list[str]]:
    return {sku: [message] for sku, message in messages.items()}


def _lock_lines(cart: Cart) -> list[CartLine]:
    """The cart's lines, their variants locked in one query in primary-key order, with what pricing reads."""
    lines = list(CartLine.objects.filter(cart=cart).order_by("id"))
    if not lines:
        return []
    variants = {
        variant.pk: variant
        for variant in ProductVariant.objects.select_for_update(of=("self",))
        .select_related("product__category", "product__merchant")
        .filter(pk__in=sorted({line.variant_id for line in lines}))
        .order_by("pk")
    }
    for line in lines:
        line.cart = cart
        line.variant = variants[line.variant_id]
    return lines


def _refuse_unbuyable(quote: CartQuote, merchant_id: int | None) -> None:
    unavailable = {
        line.variant.sku: f"SKU {line.variant.sku} is no longer on sale; remove it from your cart."
        for line in quote.lines
        if not line.buyable or (merchant_id is not None and line.variant.product.merchant_id != merchant_id)
    }
    if unavailable:
        raise Conflict(
            f"Not on sale any more: {', '.join(unavailable)}.", code="line_unavailable", fields=_sku_fields(unavailable)
        )
    short = {
        line.variant.sku: (
            f"Only {line.stock_available} left of SKU {line.variant.sku}."
            if line.stock_available
            else f"SKU {line.variant.sku} is out of stock."
        )
        for line in quote.lines
        if not line.available
    }
    if short:
        raise Conflict(" ".join(short.values()), code="insufficient_stock", fields=_sku_fields(short))


def _refuse_changed(quote: CartQuote, cart: Cart, expected_total: Decimal | None, currency: str | None) -> None:
    if expected_total is not None:
        unchanged = expected_total == quote.total and (currency is None or currency == quote.currency)
    else:
        unchanged = bool(cart.quote_fingerprint) and cart.quote_fingerprint == quote.fingerprint()
    if not unchanged:
        raise CartChanged(quote)


def _order_row(*, user: User, cart: Cart, quote: CartQuote, address: dict[str, str], now: Any) -> Order:
    coupon = quote.coupon
    return Order(
        user=user,
        merchant=cart.merchant if cart.merchant is not None else quote.lines[0].variant.product.merchant,
        status=OrderStatus.PENDING_PAYMENT,
        payment_status=PaymentStatus.UNPAID,
        currency=quote.currency,
        subtotal=quote.subtotal,
        discount=quote.discount,
        adjustments_total=quote.adjustments_total,
        shipping=quote.shipping,
        tax=quote.tax,
        total=quote.total,
        offer=coupon.offer if coupon is not None else None,
        coupon_code=(coupon.offer.code or cart.coupon_code) if coupon is not None else "",
        shipping_address=address,
        email=user.email or "",
        phone=user.phone or "",
        placed_at=now,
        expires_at=now + timedelta(minutes=settings.ORDER_PAYMENT_TIMEOUT_MINUTES),
    )


def _line_rows(order: Order, quote: CartQuote) -> list[OrderLine]:
    rows = []
    for line in quote.lines:
        variant, product = line.variant, line.variant.product
        rows.append(
            OrderLine(
                order=order,
                variant=variant,
                product=product,
                category_id=product.category_id,
                sku=variant.sku,
                product_title=product.title,
                product_slug=product.slug,
                options=variant.options or {},
                quantity=line.quantity,
                unit_price=line.unit_price,
                line_total=line.line_total,
                discount=line.discount,
                tax_rate=line.tax_rate,
                tax=line.tax,
            )
        )
    return rows


def _apply_adjustments(order: Order, quote: CartQuote) -> list[OrderAdjustment]:
    providers = {provider.source: provider for provider in adjustment_providers()}
    rows = []
    for adjustment in quote.adjustments:
        provider = providers.get(adjustment.source)
        if provider is None:  # unregistered between the quote and now (a deploy): do not grant it unbacked
            raise Conflict(f"{adjustment.label} is not available right now.", code="adjustment_unavailable")
        provider.apply(order=order, quote=adjustment)
        rows.append(
            OrderAdjustment(
                order=order,
                source=adjustment.source,
                label=adjustment.label,
                amount=adjustment.amount,
                data=adjustment.data,
            )
        )
    return rows


def _popularity_on_commit(units: Mapping[int, int]) -> Callable[[], None]:
    def raise_popularity() -> None:
        for product_id, amount in sorted(units.items()):
            product_add_popularity(product_id=product_id, amount=amount)

    return raise_popularity


def _address(*, user: User, address_id: int | None, shipping_address: dict[str, Any] | None) -> dict[str, str]:
    """The address snapshot (addresses service); its field errors for a typed-in address are nested under
    ``shipping_address``, as a nested serializer's would be."""
    try:
        return checkout_address(user=user, address_id=address_id, shipping_address=shipping_address)
    except InvalidInput as exc:
        if shipping_address is None or not exc.fields or set(exc.fields) & {"shipping_address", "address_id"}:
            raise
        nested: Any = {"shipping_address": exc.fields}
        raise InvalidInput(exc.detail, code=exc.code, fields=nested) from None


def _place(*, user: User, address: dict[str, str], expected_total: Decimal | None, currency: str | None) -> Order:
    cart = cart_get_open(user=user, lock=True)
    lines = _lock_lines(cart) if cart is not None else []
    if cart is None or not lines:
        raise Conflict("Your cart is empty.", code="cart_empty")
    quote = cart_quote(cart=cart, user=user, lines=lines)
    _refuse_unbuyable(quote, cart.merchant_id)
    _refuse_changed(quote, cart, expected_total, currency)

    variants_stock_allocate(quantities={line.variant.pk: line.quantity for line in quote.lines})
    now = timezone.now()
    order = order_number_insert(order=_order_row(user=user, cart=cart, quote=quote, address=address, now=now))
    if quote.coupon is not None:
        coupon_redeem(offer=quote.coupon.offer, user=user, order_reference=order.number, amount=quote.discount)
    adjustments = _apply_adjustments(order, quote)
    order_lines = OrderLine.objects.bulk_create(_line_rows(order, quote))
    if adjustments:
        OrderAdjustment.objects.bulk_create(adjustments)
    placed = OrderEvent.objects.create(
        order=order,
        type=OrderEventType.PLACED,
        to_status=OrderStatus.PENDING_PAYMENT,
        actor=user,
        note="Order placed.",
        data={"total": f"{order.total}", "currency": order.currency, "lines": len(quote.lines)},
        created_at=now,
    )
    Cart.objects.filter(pk=cart.pk).update(status=CartStatus.CONVERTED, updated_at=now)

    publish(order_placed, order_id=order.pk, number=order.number)
    order_notify(order_id=order.pk, kind="placed")
    units: Counter[int] = Counter()
    for line in quote.lines:
        units[line.variant.product_id] += line.quantity
    transaction.on_commit(_popularity_on_commit(units))
    return _as_loaded(order, lines=order_lines, adjustments=adjustments, events=[placed])


def _as_loaded(
    order: Order, *, lines: list[OrderLine], adjustments: list[OrderAdjustment], events: list[OrderEvent]
) -> Order:
    """``order`` with its relations set as :func:`commerce.orders.selectors.order_detail` prefetches them, from
    the rows just written, so the checkout's answer is rendered without reading them back (4 queries fewer)."""
    cache: dict[str, Any] = {}
    for name, rows in (("lines", lines), ("adjustments", adjustments)):
        queryset = getattr(order, name).all()
        queryset._result_cache = list(rows)
        queryset._prefetch_done = True
        cache[name] = queryset
    order._prefetched_objects_cache = cache  # type: ignore[attr-defined]  # Django's prefetch cache
    order.visible_events = [event for event in events if event.shopper_visible]  # type: ignore[attr-defined]
    return order


def order_place(
    *,
    user: User,
    address_id: int | None = None,
    shipping_address: dict[str, Any] | None = None,
    expected_total: Decimal | None = None,
    expected_currency: str | None = None,
) -> Order:
    """Place an order from ``user``'s open cart, delivered to a saved address (``address_id``) or to
    ``shipping_address`` (exactly one). See the module docstring for the steps and every refusal.

    ``expected_total`` is the total the shopper agreed to pay; when given it replaces the "unchanged since last
    seen" check. ``expected_currency`` (optional) is its currency: another than the cart's never matches.

    The order comes back loaded as ``selectors.order_detail`` loads it (lines, adjustments, ``visible_events``,
    merchant), ready for ``order_payload``.
    """
    if expected_total is not None and (not isinstance(expected_total, Decimal) or expected_total < 0):
        raise InvalidInput(
            "The expected total must be a non-negative amount.",
            fields={"expected_total": ["Must be a non-negative amount."]},
        )
    address = _address(user=user, address_id=address_id, shipping_address=shipping_address)
    try:
        with transaction.atomic():
            return _place(user=user, address=address, expected_total=expected_total, currency=expected_currency)
    except CartChanged as exc:
        exc.after_rollback()
        raise
