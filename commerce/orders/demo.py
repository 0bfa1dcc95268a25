"""Demo orders for ``manage.py seed_demo`` (runs after the catalog's and the offers' demo data).

- **Pricing configuration**: Urban Threads ships for a flat 79.00, free from 999.00 (a ``MerchantShipping`` row);
  clothes carry 12 % tax and printed books none (``CategoryTaxRate`` rows on the Fashion and Books roots, which
  their subcategories inherit); everything else keeps ``ORDER_DEFAULT_TAX_RATE``.
- **A demo shopper** (``DEMO_SHOPPER_EMAIL``, default ``shopper@example.com``), printed with its password as the
  demo admin is: the password comes from ``DEMO_SHOPPER_PASSWORD`` (setting) or is
  generated, and is printed once, when the shopper is created; an existing shopper is left alone. The shopper
  has a saved default address in Bengaluru (through the addresses service).
- **Five orders** at Urban Threads, one in each state a shopper meets, each made the way a real one is: lines
  added to the cart, the cart read (the quote the shopper saw), checkout, then the transitions: delivered,
  fulfilled (carrier and tracking number), paid, cancelled by the shopper, and pending payment. The pending
  one expires ``ORDER_PAYMENT_TIMEOUT_MINUTES`` after the seed, as any unpaid order does.
- **An open cart** with two lines, left for the shopper to check out.

Idempotent: each part is made only when missing (the shipping row and tax rates by merchant and category, the
shopper by email, the address, orders and cart when the shopper has none), so a second run changes nothing.
Deterministic: products are picked by slug among Urban Threads' public variants with stock to spare.
"""

import secrets

from django.conf import settings
from django.db.models import F

from accounts.models import User
from commerce.catalog.models import Category, Merchant, MerchantStatus, ProductStatus, ProductVariant
from commerce.core.money import default_currency, to_decimal

from .models import Address, Cart, CartStatus, CategoryTaxRate, MerchantShipping, Order
from .services.addresses import address_create
from .services.cart import cart_line_add, cart_read
from .services.checkout import order_place
from .services.recommendations import co_purchases_recount
from .services.transitions import order_cancel, order_deliver, order_fulfil, order_mark_paid

MERCHANT_SLUG = "urban-threads"
SHIPPING = {"flat_fee": "79.00", "free_shipping_threshold": "999.00"}
TAX_RATES = {"fashion": "12.00", "books": "0.00"}
ADDRESS = {
    "name": "Asha Rao",
    "line1": "14 Residency Road",
    "line2": "Flat 3B",
    "city": "Bengaluru",
    "state": "Karnataka",
    "postal_code": "560025",
    "country": "IN",
    "phone": "+919812345678",
}
# (final status, how many lines, units of each): the newest order last, as the shopper would have placed them.
ORDERS = [("delivered", 2, 1), ("fulfilled", 1, 2), ("paid", 1, 1), ("cancelled", 1, 1), ("pending_payment", 2, 1)]
CART_LINES = 2
SPARE_STOCK = 5  # a variant is picked only with this many units available, so a demo never sells one out
CARRIER = "Delhivery"


def seed(*, stdout) -> None:
    merchant = Merchant.objects.filter(slug=MERCHANT_SLUG, status=MerchantStatus.ACTIVE).first()
    if merchant is None:
        stdout.write(f"Orders: no active merchant {MERCHANT_SLUG!r}, no demo orders.")
        return
    _seed_pricing(merchant=merchant, stdout=stdout)
    shopper = _seed_shopper(stdout=stdout)
    _seed_address(shopper=shopper)
    variants = _variants(merchant=merchant)
    needed = sum(lines for _, lines, _ in ORDERS) + CART_LINES
    if len(variants) < needed:
        stdout.write(f"Orders: {merchant.name} has too few variants in stock, no demo orders.")
        return
    created = _seed_orders(shopper=shopper, variants=variants[: needed - CART_LINES])
    filled = _seed_cart(shopper=shopper, variants=variants[needed - CART_LINES :])
    if created:
        # The demo's paid orders feed "frequently bought together" now rather than at the first hourly recount.
        co_purchases_recount()
    if created or filled:
        stdout.write(f"Orders: {created} demo order(s) and {'an open cart' if filled else 'no cart'} created.")
    else:
        stdout.write("Orders: demo orders exist.")


def _seed_pricing(*, merchant: Merchant, stdout) -> None:
    if not MerchantShipping.objects.filter(merchant=merchant).exists():
        MerchantShipping.objects.create(
            merchant=merchant,
            flat_fee=to_decimal(SHIPPING["flat_fee"]),
            free_shipping_threshold=to_decimal(SHIPPING["free_shipping_threshold"]),
        )
    for slug, rate in TAX_RATES.items():
        category = Category.objects.filter(slug=slug).first()
        if category is not None and not CategoryTaxRate.objects.filter(category=category).exists():
            CategoryTaxRate.objects.create(category=category, rate=to_decimal(rate))


def _seed_shopper(*, stdout) -> User:
    email = User.objects.normalize_email(settings.DEMO_SHOPPER_EMAIL or "shopper@example.com")
    user = User.objects.filter(email=email).first()
    if user is not None:
        stdout.write(f"Demo shopper exists: {email} (password unchanged).")
        return user
    password = settings.DEMO_SHOPPER_PASSWORD or secrets.token_urlsafe(12)
    user = User.objects.create_user(email=email, password=password, full_name="Asha Rao", phone=ADDRESS["phone"])
    stdout.write(f"Demo shopper created: {email} / {password}")
    return user


def _seed_address(*, shopper: User) -> None:
    if not Address.objects.filter(user=shopper).exists():
        address_create(user=shopper, data={**ADDRESS, "is_default": True})


def _variants(*, merchant: Merchant) -> list[ProductVariant]:
    """One variant per product (the first by id), of public products with stock to spare, in slug order."""
    rows = (
        ProductVariant.objects.filter(
            product__merchant=merchant,
            product__status=ProductStatus.ACTIVE,
            currency=default_currency(),
            stock_on_hand__gte=F("stock_allocated") + SPARE_STOCK,
        )
        .select_related("product")
        .order_by("product__slug", "id")
    )
    picked: dict[int, ProductVariant] = {}
    for variant in rows:
        picked.setdefault(variant.product_id, variant)
        if len(picked) >= sum(lines for _, lines, _ in ORDERS) + CART_LINES:
            break
    return list(picked.values())


def _seed_orders(*, shopper: User, variants: list[ProductVariant]) -> int:
    if Order.objects.filter(user=shopper).exists():
        return 0
    remaining = iter(variants)
    for number, (status, lines, quantity) in enumerate(ORDERS, start=1):
        for _ in range(lines):
            cart_line_add(user=shopper, sku=next(remaining).sku, quantity=quantity)
        cart_read(user=shopper)
        order = order_place(user=shopper, address_id=_default_address_id(shopper))
        _advance(order=order, status=status, number=number)
    return len(ORDERS)


def _advance(*, order: Order, status: str, number: int) -> None:
    """Move a freshly placed order on to ``status`` through the transition services."""
    if status == "pending_payment":
        return
    if status == "cancelled":
        order_cancel(order_id=order.pk, reason="Ordered the wrong size.", by_shopper=True)
        return
    order_mark_paid(order_id=order.pk, reference=f"demo-payment-{number}")
    if status in ("fulfilled", "delivered"):
        order_fulfil(order_id=order.pk, carrier=CARRIER, tracking_number=f"DLV{order.number[-6:]}{number:02d}")
    if status == "delivered":
        order_deliver(order_id=order.pk)


def _default_address_id(shopper: User) -> int:
    return int(Address.objects.filter(user=shopper).order_by("-is_default", "id").values_list("id", flat=True)[0])


def _seed_cart(*, shopper: User, variants: list[ProductVariant]) -> bool:
    if Cart.objects.filter(user=shopper, status=CartStatus.OPEN, lines__isnull=False).exists():
        return False
    for variant in variants:
        cart_line_add(user=shopper, sku=variant.sku, quantity=1)
    return True
