"""Checkout under real parallel transactions (PostgreSQL): never oversell, never double-use a coupon, one order
per ``Idempotency-Key``, stock consistent when expiry races payment or a new checkout, no deadlocks.

Every test starts its workers together on a :class:`threading.Barrier`; each worker is a thread with its own
database connection (closed when it ends), calling the services, or the API through its own client, exactly as
two web workers would. Rows are committed for real (``transaction=True``), so the locks and the database
constraints are the ones production relies on. Each worker sets ``lock_timeout``: a lock wait that never ends
fails the test instead of hanging it, and a deadlock would surface as PostgreSQL's ``deadlock detected``.
"""

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone
from rest_framework.test import APIClient

from commerce.catalog.models import ProductVariant
from commerce.offers.models import OfferRedemption
from commerce.orders.models import Cart, CartLine, CartStatus, Order, OrderLine, OrderStatus
from commerce.orders.services.cart import cart_coupon_apply, cart_line_add, cart_read
from commerce.orders.services.checkout import order_place
from commerce.orders.services.expiry import order_expire, orders_expire_due
from commerce.orders.services.transitions import order_mark_paid
from tests.concurrency import error_codes, run_together
from tests.factories import UserFactory
from tests.offers.factories import OfferFactory
from tests.orders.factories import SHIPPING_ADDRESS

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def fill_cart(user, lines, *, coupon: str = "") -> Cart:
    """``user``'s open cart with ``lines`` (``[(variant, quantity)]``, added in that order) and ``coupon``, read
    once as ``GET cart`` does (the quote the shopper saw, which checkout holds them to)."""
    for variant, quantity in lines:
        cart_line_add(user=user, sku=variant.sku, quantity=quantity)
    if coupon:
        cart_coupon_apply(user=user, code=coupon)
    cart_read(user=user)
    return Cart.objects.get(user=user, status=CartStatus.OPEN)


def checkout(user) -> Callable[[], Order]:
    return lambda: order_place(user=user, shipping_address=dict(SHIPPING_ADDRESS))


def stock(variant) -> tuple[int, int]:
    """``(on hand, allocated)`` as committed."""
    return tuple(ProductVariant.objects.values_list("stock_on_hand", "stock_allocated").get(pk=variant.pk))


def pending_quantity(variant) -> int:
    """Units of ``variant`` in live unpaid orders: what its allocation must equal."""
    rows = OrderLine.objects.filter(variant=variant, order__status=OrderStatus.PENDING_PAYMENT)
    return rows.aggregate(total=Sum("quantity"))["total"] or 0


def sold_quantity(variant) -> int:
    """Units of ``variant`` in paid (or later) orders that kept them: what left the stock on hand."""
    kept = [OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.DELIVERED]
    rows = OrderLine.objects.filter(variant=variant, order__status__in=kept)
    return rows.aggregate(total=Sum("quantity"))["total"] or 0


# --- the last units ------------------------------------------------------------------------------------------


def test_fifty_shoppers_racing_for_the_last_ten_units_make_exactly_ten_orders(make_variant):
    variant = make_variant(sku="LAST-10", price="299.00", stock=10)
    shoppers = [UserFactory() for _ in range(50)]
    carts = [fill_cart(shopper, [(variant, 1)]) for shopper in shoppers]

    results = run_together([checkout(shopper) for shopper in shoppers])

    assert error_codes(results) == {"ok": 10, "insufficient_stock": 40}
    assert stock(variant) == (10, 10)
    assert Order.objects.count() == 10
    assert pending_quantity(variant) == 10
    winners = {result["value"].user_id for result in results if "value" in result}
    assert len(winners) == 10
    # The losers keep their cart as it was; the winners' carts are closed.
    statuses = dict(Cart.objects.filter(pk__in=[cart.pk for cart in carts]).values_list("user_id", "status"))
    assert {user for user, status in statuses.items() if status == CartStatus.CONVERTED} == winners
    assert CartLine.objects.filter(cart__status=CartStatus.OPEN).count() == 40


def test_the_short_checkouts_name_the_sku_and_allocate_nothing(make_variant):
    variant = make_variant(sku="LAST-3", price="299.00", stock=3)
    other = make_variant(sku="PLENTY", price="99.00", stock=1000)
    shoppers = [UserFactory() for _ in range(8)]
    for shopper in shoppers:
        fill_cart(shopper, [(other, 2), (variant, 1)])

    results = run_together([checkout(shopper) for shopper in shoppers])

    assert error_codes(results) == {"ok": 3, "insufficient_stock": 5}
    refused = [result["error"] for result in results if "error" in result]
    assert {error.status for error in refused} == {409}
    assert {tuple(error.fields) for error in refused} == {("LAST-3",)}
    # All or nothing: the plentiful line of a refused checkout was not allocated either.
    assert stock(variant) == (3, 3)
    assert stock(other) == (1000, 6)


def test_the_last_units_through_the_api_answer_201_or_the_documented_409(make_variant):
    variant = make_variant(sku="LAST-4", price="150.00", stock=4)
    shoppers = [UserFactory() for _ in range(12)]
    for shopper in shoppers:
        fill_cart(shopper, [(variant, 1)])

    def post(shopper):
        def run():
            client = APIClient()
            client.force_authenticate(shopper)
            body = {"shipping_address": dict(SHIPPING_ADDRESS)}
            response = client.post("/api/v1/checkout", body, format="json", HTTP_IDEMPOTENCY_KEY=f"k-{shopper.pk}")
            return response.status_code, response.json()

        return run

    results = run_together([post(shopper) for shopper in shoppers])

    responses = [result["value"] for result in results]
    assert Counter(status for status, _ in responses) == {201: 4, 409: 8}
    refusals = [body for status, body in responses if status == 409]
    assert all(body["code"] == "insufficient_stock" for body in refusals)
    assert all(body["fields"] == {"LAST-4": ["SKU LAST-4 is out of stock."]} for body in refusals)
    placed = sorted(body["number"] for status, body in responses if status == 201)
    assert placed == sorted(Order.objects.values_list("number", flat=True))
    assert stock(variant) == (4, 4)


# --- the coupon's last uses ----------------------------------------------------------------------------------


def test_a_coupon_limited_to_five_uses_is_used_exactly_five_times_by_twenty_checkouts(make_variant, merchant):
    """Each shopper buys another product, so the checkouts do not queue on one variant's lock: they meet only
    at the coupon, whose row ``coupon_redeem`` locks and re-checks."""
    offer = OfferFactory(merchant=merchant, code="FIVEONLY", usage_limit=5, discount_value=Decimal("10.00"))
    shoppers = [UserFactory() for _ in range(20)]
    variants = [make_variant(sku=f"MUG-{n}", price="500.00", stock=10) for n in range(20)]
    for shopper, variant in zip(shoppers, variants, strict=True):
        fill_cart(shopper, [(variant, 2)], coupon="FIVEONLY")

    results = run_together([checkout(shopper) for shopper in shoppers])

    outcomes = error_codes(results)
    assert outcomes["ok"] == 5
    assert sum(outcomes.values()) == 20
    # Used up while the checkout priced the cart (its coupon dropped: the total changed) or at the locked row.
    assert set(outcomes) - {"ok"} <= {"coupon_used_up", "cart_changed"}
    assert {result["error"].status for result in results if "error" in result} == {409}
    offer.refresh_from_db()
    assert offer.times_used == 5
    assert OfferRedemption.objects.filter(offer=offer).count() == 5
    assert OfferRedemption.objects.unreleased().filter(offer=offer).count() == 5
    orders = Order.objects.all()
    assert orders.count() == 5
    assert set(orders.values_list("discount", flat=True)) == {Decimal("100.00")}
    assert set(orders.values_list("coupon_code", flat=True)) == {"FIVEONLY"}
    # Only the five orders hold stock: nothing was allocated for a refused checkout.
    allocated = {variant.sku: stock(variant)[1] for variant in variants}
    bought = set(OrderLine.objects.values_list("sku", flat=True))
    assert {sku: units for sku, units in allocated.items() if units} == dict.fromkeys(bought, 2)
    assert len(bought) == 5


# --- one order per idempotency key ---------------------------------------------------------------------------


def test_the_same_idempotency_key_sent_ten_times_at_once_makes_one_order(shopper, tshirt):
    fill_cart(shopper, [(tshirt, 2)])
    body = {"shipping_address": dict(SHIPPING_ADDRESS)}

    def post():
        client = APIClient()
        client.force_authenticate(shopper)
        response = client.post("/api/v1/checkout", body, format="json", HTTP_IDEMPOTENCY_KEY="buy-two-shirts")
        return response.status_code, response.json()

    results = run_together([post for _ in range(10)])

    assert [result.get("error") for result in results] == [None] * 10
    responses = [result["value"] for result in results]
    assert {status for status, _ in responses} == {201}
    assert all(body == responses[0][1] for _, body in responses)
    order = Order.objects.get()
    assert responses[0][1]["number"] == order.number
    assert stock(tshirt) == (10, 2)


# --- expiry racing payment and checkout ----------------------------------------------------------------------


def test_expiry_racing_the_payment_of_the_same_order_leaves_stock_consistent(make_variant):
    """Run many rounds: either the payment or the expiry wins each one, never both, never neither."""
    variant = make_variant(sku="RACE-PAY", price="250.00", stock=100)
    placed = []
    for _ in range(6):
        shopper = UserFactory()
        fill_cart(shopper, [(variant, 3)])
        placed.append(order_place(user=shopper, shipping_address=dict(SHIPPING_ADDRESS)))
    assert stock(variant) == (100, 18)

    later = timezone.now() + timedelta(minutes=31)
    outcomes: Counter = Counter()
    for order in placed:
        expired, paid = run_together(
            [
                lambda order=order: order_expire(order_id=order.pk, now=later),
                lambda order=order: order_mark_paid(order_id=order.pk, reference=f"pay-{order.pk}"),
            ]
        )
        status = Order.objects.values_list("status", flat=True).get(pk=order.pk)
        outcomes[status] += 1
        if status == OrderStatus.PAID:
            assert expired == {"value": None}
            assert paid["value"].status == OrderStatus.PAID
        else:
            assert status == OrderStatus.EXPIRED
            assert expired["value"].status == OrderStatus.EXPIRED
            assert paid["error"].code == "invalid_transition"
        assert order.events.filter(type__in=["paid", "expired"]).count() == 1

    assert sum(outcomes.values()) == 6
    on_hand, allocated = stock(variant)
    assert allocated == pending_quantity(variant) == 0
    assert on_hand == 100 - sold_quantity(variant) == 100 - 3 * outcomes[OrderStatus.PAID]


def test_expiry_racing_a_new_checkout_for_the_same_units_leaves_stock_consistent(make_variant):
    """The expiring order holds the last units; a new shopper wants them at the same moment. The checkout gets
    them only if the expiry committed first; either way the allocation equals the live orders' quantities."""
    variant = make_variant(sku="RACE-NEW", price="250.00", stock=2)
    outcomes: Counter = Counter()
    for _ in range(5):
        first, second = UserFactory(), UserFactory()
        fill_cart(first, [(variant, 2)])
        fill_cart(second, [(variant, 2)])  # while the units are still free
        stale = order_place(user=first, shipping_address=dict(SHIPPING_ADDRESS))
        later = timezone.now() + timedelta(minutes=31)

        expiry, placing = run_together([lambda later=later: orders_expire_due(now=later), checkout(second)])

        assert expiry == {"value": 1}
        assert Order.objects.values_list("status", flat=True).get(pk=stale.pk) == OrderStatus.EXPIRED
        outcome = error_codes([placing])
        outcomes.update(outcome)
        assert outcome in ({"ok": 1}, {"insufficient_stock": 1})
        on_hand, allocated = stock(variant)
        assert on_hand == 2
        assert allocated == pending_quantity(variant) == (2 if "ok" in outcome else 0)
        # Free the units for the next round: the new order expires too.
        assert orders_expire_due(now=later + timedelta(minutes=31)) == (1 if "ok" in outcome else 0)
        assert stock(variant) == (2, 0)
    assert sum(outcomes.values()) == 5


# --- no deadlocks ----------------------------------------------------------------------------------------------


def test_carts_sharing_variants_in_opposite_orders_never_deadlock(make_variant):
    """Round after round, shoppers fill their carts at the same time, half adding X then Y, half Y then X, and
    check out at once. Every writer locks in primary-key order, so every round completes within the lock
    timeout and no transaction is chosen as a deadlock victim."""
    x = make_variant(sku="SHARED-X", price="100.00", stock=1000)
    y = make_variant(sku="SHARED-Y", price="200.00", stock=1000)
    shoppers = [UserFactory() for _ in range(4)]
    rounds = 8

    def shop_and_check_out(shopper, lines):
        def run():
            fill_cart(shopper, lines)
            return order_place(user=shopper, shipping_address=dict(SHIPPING_ADDRESS))

        return run

    for _ in range(rounds):
        results = run_together(
            [
                shop_and_check_out(shopper, [(x, 1), (y, 2)] if index % 2 == 0 else [(y, 2), (x, 1)])
                for index, shopper in enumerate(shoppers)
            ]
        )

        assert error_codes(results) == {"ok": len(shoppers)}
    orders = rounds * len(shoppers)
    assert Order.objects.count() == orders
    assert stock(x) == (1000, orders)
    assert stock(y) == (1000, 2 * orders)
    first_skus = Counter(
        CartLine.objects.filter(cart__user__in=shoppers)
        .order_by("cart", "id")
        .distinct("cart")
        .values_list("variant__sku", flat=True)
    )
    assert first_skus == {"SHARED-X": orders // 2, "SHARED-Y": orders // 2}
