"""The shopper's cart: its lines, its coupon, and the record of what the shopper was last shown.

Every function here returns the cart **priced now** (a :class:`~commerce.orders.pricing.CartQuote`, the body of
``GET cart``) and records that quote as seen by the shopper (:func:`cart_mark_seen`), so checkout can tell when a
price or the coupon changed since (409 ``cart_changed``).

Rules, including the decisions the issue leaves open:

* **One open cart per user**, created by the first line added (never by a read: :func:`cart_read` without a cart
  answers an empty, unsaved one). Creation is race-safe: a concurrent create loses on the partial unique index,
  and the loser reads the winner's cart.
* **Every change locks the cart row first** (``SELECT ... FOR UPDATE OF`` the cart alone, never its merchant),
  then re-reads the lines, so two tabs adding at once both count. Reads lock it too, so a quote recorded as seen
  is never older than the lines it priced.
* **One merchant, one currency**: another merchant's SKU is 409 ``cart_merchant_conflict``, a SKU priced in
  another currency 409 ``cart_currency_conflict``; with ``replace=True`` the old lines and the coupon go and the
  new SKU starts a fresh cart (``replace`` changes nothing when there is no conflict). Emptying the cart (removing
  its last line) forgets its merchant and coupon, so nothing carries over silently to the next shop.
* **Quantities** are whole numbers 1..:data:`~commerce.orders.models.MAX_LINE_QUANTITY` per line; adding a SKU
  already in the cart adds to its line, and the sum must stay in range (400 ``fields.quantity``).
* **Stock is checked, not reserved**: asking for more than is available is 409 ``insufficient_stock`` naming the
  SKU and the units left (``sku`` and ``available`` in the body). Lowering a quantity is always allowed (it can
  only help), even on a line that is short or off sale; raising it re-checks that the SKU is on sale
  (409 ``line_unavailable`` otherwise) and in stock.
* **Coupons** are validated by the offers service on the lines that can be bought (its error codes and statuses
  as they are); the cart keeps the offer's own spelling of the code, one coupon at a time (applying another
  replaces it; a failed apply keeps the old one). A coupon that stops validating is forgotten on the next quote,
  which carries a ``coupon_removed`` warning once.

Cart changes leave no audit row: the cart is the shopper's own draft, moves no money and reserves nothing; the
order placed from it is what gets an event trail.
"""

from django.db import IntegrityError, transaction
from django.db.models import F

from accounts.models import User
from commerce.catalog.models import ProductVariant
from commerce.core.errors import Conflict, InvalidInput, NotFoundError
from commerce.offers.errors import CouponNotApplicable
from commerce.offers.services import coupon_validate

from ..models import MAX_LINE_QUANTITY, Cart, CartLine, CartStatus
from ..pricing import CartQuote, cart_lines_for_pricing, cart_quote, coupon_lines, variant_on_sale

QUANTITY_MESSAGE = f"Enter a whole number from 1 to {MAX_LINE_QUANTITY}."


def _clean_quantity(quantity: object) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_LINE_QUANTITY:
        raise InvalidInput(QUANTITY_MESSAGE, fields={"quantity": [QUANTITY_MESSAGE]})
    return quantity


def _insufficient_stock(variant: ProductVariant, *, in_cart: int = 0) -> Conflict:
    left = max(variant.stock_available, 0)
    detail = f"Only {left} left of SKU {variant.sku}." if left else f"SKU {variant.sku} is out of stock."
    if in_cart:
        detail = f"{detail[:-1]} (you have {in_cart} in your cart)."
    return Conflict(
        detail,
        code="insufficient_stock",
        fields={"quantity": [detail]},
        extra={"sku": variant.sku, "available": left},
    )


def cart_get_open(*, user: User, lock: bool = False) -> Cart | None:
    """The user's open cart (with its merchant), or None. ``lock=True`` takes the cart row's lock (only the cart
    row: ``FOR UPDATE OF`` the cart, so carts of one merchant never wait on each other); call it inside
    ``transaction.atomic()``."""
    carts = Cart.objects.filter(user=user, status=CartStatus.OPEN).select_related("merchant")
    if lock:
        carts = carts.select_for_update(of=("self",))
    return carts.first()


def _open_cart_for_update(user: User) -> Cart:
    """The user's open cart, locked; created if there is none. Inside ``transaction.atomic()``.

    Two first adds at once both try to insert; the partial unique index lets one win, and the other (after
    waiting for the winner's commit) re-reads and locks the winner's cart instead of failing.
    """
    cart = cart_get_open(user=user, lock=True)
    if cart is not None:
        return cart
    try:
        with transaction.atomic():
            return Cart.objects.create(user=user)
    except IntegrityError:
        cart = cart_get_open(user=user, lock=True)
        if cart is None:  # the conflicting cart was converted meanwhile: nothing to join, so try once more
            return Cart.objects.create(user=user)
        return cart


def _empty_quote(user: User) -> CartQuote:
    """The quote of a cart that does not exist yet: no lines, zero totals, ``cart.pk`` None. Writes nothing."""
    return cart_quote(cart=Cart(user=user), user=user, lines=[])


def _priced(cart: Cart, user: User, lines: list[CartLine] | None = None) -> CartQuote:
    """Price ``cart`` (locked by the caller), forget a coupon that stopped validating, record what was shown."""
    quote = cart_quote(cart=cart, user=user, lines=lines)
    if quote.coupon_dropped and cart.coupon_code:
        cart.coupon_code = ""  # before cart_mark_seen: the fingerprint is of the cart without the coupon
        Cart.objects.filter(pk=cart.pk).update(coupon_code="")
    cart_mark_seen(cart=cart, quote=quote)
    return quote


def cart_mark_seen(*, cart: Cart, quote: CartQuote) -> None:
    """Record ``quote`` as what the shopper was last shown (``quoted_total``, ``quote_fingerprint``), writing only
    when either changed. An unsaved cart (the empty cart of a shopper who has none) records nothing."""
    if cart.pk is None:
        return
    fingerprint = quote.fingerprint()
    if cart.quoted_total == quote.total and cart.quote_fingerprint == fingerprint:
        return
    Cart.objects.filter(pk=cart.pk).update(quoted_total=quote.total, quote_fingerprint=fingerprint)
    cart.quoted_total, cart.quote_fingerprint = quote.total, fingerprint


def cart_read(*, user: User) -> CartQuote:
    """``GET cart``: the open cart priced now, or an empty unsaved cart (no row is created by reading).

    A coupon that no longer validates is removed (a write, with its ``coupon_removed`` warning in this quote),
    and the quote is recorded as seen. The cart row is locked meanwhile, so a concurrent change is either
    entirely before this read or entirely after it.
    """
    with transaction.atomic():
        cart = cart_get_open(user=user, lock=True)
        if cart is None:
            return _empty_quote(user)
        return _priced(cart, user)


def _variant_for_sale(sku: object) -> ProductVariant:
    """The on-sale variant with exactly this SKU, with what pricing reads; 400 ``fields.sku`` otherwise."""
    text = sku.strip() if isinstance(sku, str) else ""
    variant = (
        ProductVariant.objects.select_related("product__category", "product__merchant").filter(sku=text).first()
        if text
        else None
    )
    if variant is None or not variant_on_sale(variant):
        message = f"There is no product on sale with SKU {text}." if text else "Enter a SKU."
        raise InvalidInput(message, fields={"sku": [message]})
    return variant


def _make_room(cart: Cart, lines: list[CartLine], variant: ProductVariant, *, replace: bool) -> list[CartLine]:
    """The lines to keep when ``variant`` joins the cart: all of them, or none when it is from another shop
    (merchant or currency) and ``replace`` is set; 409 when it is from another shop and ``replace`` is not."""
    merchant = variant.product.merchant
    other_merchant = any(line.variant.product.merchant_id != merchant.pk for line in lines)
    other_currency = any(line.variant.currency != variant.currency for line in lines)
    if not (other_merchant or other_currency):
        return lines
    if not replace:
        if other_merchant:
            current = lines[0].variant.product.merchant
            raise Conflict(
                f"Your cart holds items from {current.name}; a cart holds one merchant's items. "
                'Send "replace": true to empty it and add this one.',
                code="cart_merchant_conflict",
                extra={"cart_merchant": {"slug": current.slug, "name": current.name}},
            )
        raise Conflict(
            f"Your cart is priced in {lines[0].variant.currency} and SKU {variant.sku} in {variant.currency}. "
            'Send "replace": true to empty it and add this one.',
            code="cart_currency_conflict",
        )
    CartLine.objects.filter(cart=cart).delete()
    cart.coupon_code = ""
    return []


def cart_line_add(*, user: User, sku: str, quantity: int, replace: bool = False) -> CartQuote:
    """``POST cart/lines``: add ``quantity`` of ``sku``, to its line if the cart has one; creates the cart.

    400 ``fields.sku`` for a SKU not on sale (unknown, inactive product, suspended merchant), 400
    ``fields.quantity`` outside 1..100 (counting what the line holds already), 409 ``cart_merchant_conflict`` /
    ``cart_currency_conflict`` for another shop's SKU unless ``replace``, 409 ``insufficient_stock``.
    """
    quantity = _clean_quantity(quantity)
    with transaction.atomic():
        cart = _open_cart_for_update(user)
        variant = _variant_for_sale(sku)
        lines = _make_room(cart, cart_lines_for_pricing(cart), variant, replace=replace)
        line = next((line for line in lines if line.variant_id == variant.pk), None)
        in_cart = line.quantity if line is not None else 0
        if in_cart + quantity > MAX_LINE_QUANTITY:
            message = f"At most {MAX_LINE_QUANTITY} of one SKU; your cart already has {in_cart} of {variant.sku}."
            raise InvalidInput(message, fields={"quantity": [message]})
        if in_cart + quantity > variant.stock_available:
            raise _insufficient_stock(variant, in_cart=in_cart)
        if line is None:
            line = CartLine.objects.create(cart=cart, variant=variant, quantity=quantity)
            lines.append(line)
        else:
            CartLine.objects.filter(pk=line.pk).update(quantity=F("quantity") + quantity)
            line.quantity = in_cart + quantity
            line.variant = variant  # today's price and stock, as just read
        cart.merchant = variant.product.merchant
        cart.save(update_fields=["merchant", "coupon_code", "updated_at"])
        return _priced(cart, user, lines)


def _locked_cart_and_lines(user: User, line_id: int) -> tuple[Cart, list[CartLine], CartLine]:
    """The user's locked open cart, its lines and the line ``line_id`` among them; 404 if it is not there
    (another user's line, a line of a converted cart, or no line at all look the same)."""
    cart = cart_get_open(user=user, lock=True)
    lines = cart_lines_for_pricing(cart) if cart is not None else []
    line = next((line for line in lines if line.pk == line_id), None)
    if cart is None or line is None:
        raise NotFoundError("No such line in your cart.")
    return cart, lines, line


def cart_line_update(*, user: User, line_id: int, quantity: int) -> CartQuote:
    """``PATCH cart/lines/{id}``: set a line's quantity (1..100). Raising it re-checks that the SKU is on sale
    (409 ``line_unavailable``) and in stock (409 ``insufficient_stock``); lowering it is always allowed."""
    quantity = _clean_quantity(quantity)
    with transaction.atomic():
        cart, lines, line = _locked_cart_and_lines(user, line_id)
        if quantity > line.quantity:
            if not variant_on_sale(line.variant):
                raise Conflict(
                    f"SKU {line.variant.sku} is no longer on sale; remove it from your cart.", code="line_unavailable"
                )
            if quantity > line.variant.stock_available:
                raise _insufficient_stock(line.variant)
        if quantity != line.quantity:
            line.quantity = quantity
            line.save(update_fields=["quantity", "updated_at"])
        return _priced(cart, user, lines)


def cart_line_remove(*, user: User, line_id: int) -> CartQuote:
    """``DELETE cart/lines/{id}``: remove a line. The last line's removal also forgets the merchant and coupon."""
    with transaction.atomic():
        cart, lines, line = _locked_cart_and_lines(user, line_id)
        CartLine.objects.filter(pk=line.pk).delete()
        lines = [other for other in lines if other.pk != line.pk]
        if not lines and (cart.merchant_id is not None or cart.coupon_code):
            cart.merchant, cart.coupon_code = None, ""
            cart.save(update_fields=["merchant", "coupon_code", "updated_at"])
        return _priced(cart, user, lines)


def cart_coupon_apply(*, user: User, code: str) -> CartQuote:
    """``POST cart/coupon``: validate ``code`` on the cart's buyable lines and keep it (the offer's spelling).

    409 ``cart_empty`` without lines; the offers service's errors otherwise, as they are (``coupon_unknown``
    400, ``coupon_used_up`` 409, ...). A cart whose lines are all off sale answers ``coupon_not_applicable``.
    """
    text = code.strip() if isinstance(code, str) else ""
    if not text:
        raise InvalidInput("Enter a coupon code.", fields={"code": ["Enter a coupon code."]})
    with transaction.atomic():
        cart = cart_get_open(user=user, lock=True)
        lines = cart_lines_for_pricing(cart) if cart is not None else []
        if cart is None or not lines:
            raise Conflict("Your cart is empty; add something before applying a coupon.", code="cart_empty")
        # Priced without any coupon: which lines can be bought, and in which currency. On an error the
        # transaction rolls back and the cart keeps the coupon it had.
        cart.coupon_code = ""
        before = cart_quote(cart=cart, user=user, lines=lines)
        if not before.buyable_lines:
            raise CouponNotApplicable("Nothing in your cart can be bought right now, so no coupon applies.")
        coupon = coupon_validate(
            code=text,
            user=user,
            merchant=cart.merchant or lines[0].variant.product.merchant,
            lines=coupon_lines(before.buyable_lines),
            currency=before.currency,
        )
        cart.coupon_code = coupon.offer.code or text
        cart.save(update_fields=["coupon_code", "updated_at"])
        return _priced(cart, user, lines)


def cart_coupon_remove(*, user: User) -> CartQuote:
    """``DELETE cart/coupon``: forget the cart's coupon. Idempotent: without a coupon (or a cart) it changes
    nothing and answers the cart as it is."""
    with transaction.atomic():
        cart = cart_get_open(user=user, lock=True)
        if cart is None:
            return _empty_quote(user)
        if cart.coupon_code:
            cart.coupon_code = ""
            cart.save(update_fields=["coupon_code", "updated_at"])
        return _priced(cart, user)
