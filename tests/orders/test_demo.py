"""The orders' demo data (``commerce/orders/demo.py``) on a small catalog: a shopper with an address, orders in
every state made through checkout and the transitions, an open cart, shipping and tax rows; idempotent."""

from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.apps import apps
from django.core.management.base import OutputWrapper

from accounts.models import User
from commerce.catalog.models import ProductVariant
from commerce.orders import demo
from commerce.orders.models import (
    Address,
    Cart,
    CartStatus,
    CategoryTaxRate,
    MerchantShipping,
    Order,
    OrderStatus,
    PaymentStatus,
)
from tests.catalog.factories import CategoryFactory, MerchantFactory, ProductFactory, ProductVariantFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 5, 4, 14, 30, tzinfo=UTC)


@pytest.fixture
def catalog():
    """Urban Threads with ten shirts (20 units each) under Fashion > Men's Clothing, and a Books root."""
    merchant = MerchantFactory(name="Urban Threads", slug="urban-threads")
    fashion = CategoryFactory(name="Fashion", slug="fashion")
    shirts = CategoryFactory(name="Men's Clothing", slug="mens-clothing", parent=fashion)
    CategoryFactory(name="Books", slug="books")
    variants = []
    for n in range(10):
        product = ProductFactory(merchant=merchant, category=shirts, slug=f"shirt-{n}", title=f"Linen shirt {n}")
        variants.append(
            ProductVariantFactory(product=product, sku=f"SHIRT-{n}", price=Decimal("600.00"), stock_on_hand=20)
        )
    return variants


PASSWORD = "shopper-pass-123!"


def seed(settings, password=PASSWORD) -> str:
    settings.DEMO_SHOPPER_PASSWORD = password
    out = StringIO()
    with time_machine.travel(NOW, tick=False):
        demo.seed(stdout=OutputWrapper(out))  # as seed_demo passes it: one line per write
    return out.getvalue()


def test_the_demo_shopper_is_created_with_the_configured_password_and_an_address(catalog, settings):
    out = seed(settings)

    shopper = User.objects.get(email="shopper@example.com")
    assert shopper.check_password("shopper-pass-123!")
    assert "Demo shopper created: shopper@example.com / shopper-pass-123!" in out
    address = Address.objects.get(user=shopper)
    assert address.is_default
    assert (address.city, address.postal_code, address.phone) == ("Bengaluru", "560025", "+919812345678")


def test_without_a_configured_password_one_is_generated_and_printed(catalog, settings):
    out = seed(settings, password="")

    line = next(line for line in out.splitlines() if line.startswith("Demo shopper created:"))
    password = line.rsplit(" / ", 1)[1]
    assert len(password) >= 16
    assert User.objects.get(email="shopper@example.com").check_password(password)


def test_the_shopper_has_an_order_in_every_state_made_through_the_services(catalog, settings):
    seed(settings)

    shopper = User.objects.get(email="shopper@example.com")
    orders = list(Order.objects.filter(user=shopper).order_by("id").prefetch_related("lines", "events"))
    assert [order.status for order in orders] == [
        OrderStatus.DELIVERED,
        OrderStatus.FULFILLED,
        OrderStatus.PAID,
        OrderStatus.CANCELLED,
        OrderStatus.PENDING_PAYMENT,
    ]
    assert [order.payment_status for order in orders] == [
        PaymentStatus.PAID,
        PaymentStatus.PAID,
        PaymentStatus.PAID,
        PaymentStatus.UNPAID,
        PaymentStatus.UNPAID,
    ]
    assert [[line.sku for line in order.lines.all()] for order in orders] == [
        ["SHIRT-0", "SHIRT-1"],
        ["SHIRT-2"],
        ["SHIRT-3"],
        ["SHIRT-4"],
        ["SHIRT-5", "SHIRT-6"],
    ]
    assert [[event.type for event in order.events.all()] for order in orders] == [
        ["placed", "paid", "fulfilled", "delivered"],
        ["placed", "paid", "fulfilled"],
        ["placed", "paid"],
        ["placed", "cancelled"],
        ["placed"],
    ]
    delivered, fulfilled = orders[0], orders[1]
    assert fulfilled.carrier == "Delhivery"
    assert fulfilled.tracking_number.startswith("DLV")
    assert delivered.tracking_number != fulfilled.tracking_number
    assert all(order.shipping_address["city"] == "Bengaluru" for order in orders)


def test_orders_are_priced_with_the_seeded_shipping_and_tax(catalog, settings):
    seed(settings)

    merchant = catalog[0].product.merchant
    shipping = MerchantShipping.objects.get(merchant=merchant)
    assert (shipping.flat_fee, shipping.free_shipping_threshold) == (Decimal("79.00"), Decimal("999.00"))
    rates = dict(CategoryTaxRate.objects.values_list("category__slug", "rate"))
    assert rates == {"fashion": Decimal("12.00"), "books": Decimal("0.00")}
    orders = Order.objects.filter(user__email="shopper@example.com").order_by("id")
    # Two shirts (1200.00) ship free; one shirt (600.00) pays the flat fee. Tax: 12 % contained in the shirts,
    # the default rate in the shipping fee.
    assert [(order.subtotal, order.shipping, order.total) for order in orders] == [
        (Decimal("1200.00"), Decimal("0.00"), Decimal("1200.00")),
        (Decimal("1200.00"), Decimal("0.00"), Decimal("1200.00")),
        (Decimal("600.00"), Decimal("79.00"), Decimal("679.00")),
        (Decimal("600.00"), Decimal("79.00"), Decimal("679.00")),
        (Decimal("1200.00"), Decimal("0.00"), Decimal("1200.00")),
    ]
    assert orders[0].tax == Decimal("128.58")  # 600 * 12/112 = 64.29 per line
    assert orders[2].tax == Decimal("64.29") + Decimal("12.05")  # 79 * 18/118 = 12.05


def test_stock_follows_the_orders_states(catalog, settings):
    seed(settings)

    figures = dict(ProductVariant.objects.values_list("sku", "stock_on_hand"))
    allocated = dict(ProductVariant.objects.values_list("sku", "stock_allocated"))
    # Delivered (1 + 1), fulfilled (2) and paid (1) left the stock; cancelled gave its unit back; pending holds its.
    assert [figures[f"SHIRT-{n}"] for n in range(10)] == [19, 19, 18, 19, 20, 20, 20, 20, 20, 20]
    assert [allocated[f"SHIRT-{n}"] for n in range(10)] == [0, 0, 0, 0, 0, 1, 1, 0, 0, 0]


def test_the_shopper_has_an_open_cart_with_two_lines(catalog, settings):
    seed(settings)

    cart = Cart.objects.get(user__email="shopper@example.com", status=CartStatus.OPEN)
    assert list(cart.lines.order_by("id").values_list("variant__sku", "quantity")) == [("SHIRT-7", 1), ("SHIRT-8", 1)]


def test_a_second_seed_changes_nothing(catalog, settings):
    seed(settings)
    before = {model._meta.label: model.objects.count() for model in apps.get_models()}
    stock = list(ProductVariant.objects.order_by("id").values_list("stock_on_hand", "stock_allocated"))
    password = User.objects.get(email="shopper@example.com").password

    out = seed(settings)

    assert {model._meta.label: model.objects.count() for model in apps.get_models()} == before
    assert list(ProductVariant.objects.order_by("id").values_list("stock_on_hand", "stock_allocated")) == stock
    assert User.objects.get(email="shopper@example.com").password == password
    assert "Demo shopper exists: shopper@example.com" in out
    assert "Orders: demo orders exist." in out


def test_without_the_merchant_nothing_is_seeded(settings):
    out = seed(settings)

    assert "Orders: no active merchant 'urban-threads', no demo orders." in out
    assert not User.objects.filter(email="shopper@example.com").exists()
    assert Order.objects.count() == 0
