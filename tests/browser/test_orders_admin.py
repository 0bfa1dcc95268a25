"""Orders in the back office, in the browser: a merchant's staff member signs in, sees only their merchant's orders,
marks one fulfilled with a carrier and tracking number, and opens the sales overview."""

import re
from decimal import Decimal

import pytest

from accounts.roles import MERCHANT_STAFF
from commerce.orders.models import Order, OrderStatus
from tests.catalog.factories import (
    CategoryFactory,
    MerchantFactory,
    MerchantMembershipFactory,
    ProductFactory,
    ProductVariantFactory,
)
from tests.orders.factories import order_build

from .conftest import changelist_checkbox, run_action, submit

pytestmark = [pytest.mark.browser]


def variant_of(merchant, *, sku: str, title: str, price: str):
    product = ProductFactory(merchant=merchant, category=CategoryFactory(), title=title)
    return ProductVariantFactory(product=product, sku=sku, price=Decimal(price), stock_on_hand=20)


@pytest.fixture
def shops(browser_db):
    mine = MerchantFactory(name="Kettle Corner", slug="kettle-corner")
    theirs = MerchantFactory(name="Teapot Palace", slug="teapot-palace")
    kettle = variant_of(mine, sku="KETTLE-1L", title="Copper Whistling Kettle", price="1499.00")
    teapot = variant_of(theirs, sku="TEAPOT-1", title="Porcelain Teapot", price="899.00")
    return {
        "mine": mine,
        "paid": order_build(lines=[(kettle, 2)], status=OrderStatus.PAID, number="ORD-KET001"),
        "pending": order_build(lines=[(kettle, 1)], number="ORD-KET002"),
        "theirs": order_build(lines=[(teapot, 1)], status=OrderStatus.PAID, number="ORD-TEA001"),
    }


def order_links(page) -> set[str]:
    links = page.locator("a[href^='/admin/orders/order/'][href$='/change/']")
    return {link.inner_text().strip() for link in links.all()}


def test_merchant_staff_fulfil_their_order_and_open_the_sales_overview(page, make_staff, sign_in, shops):
    user, device = make_staff("staff@kettle-corner.example.com", roles=(MERCHANT_STAFF,))
    MerchantMembershipFactory(merchant=shops["mine"], user=user)
    sign_in(user, device)

    page.goto("/admin/orders/order/")
    assert order_links(page) == {"ORD-KET001", "ORD-KET002"}
    assert page.get_by_text("ORD-TEA001").count() == 0
    assert page.goto(f"/admin/orders/order/{shops['theirs'].pk}/change/").status == 404

    page.goto("/admin/orders/order/")
    changelist_checkbox(page, shops["paid"].pk).check()
    run_action(page, "Mark fulfilled (carrier and tracking number)…")
    assert page.locator("[data-order='ORD-KET001']").is_visible()
    page.get_by_label("Carrier").fill("Blue Dart")
    page.get_by_label("Tracking number").fill("BD998877665IN")
    submit(page, page.get_by_role("button", name="Mark the order fulfilled"))

    assert page.get_by_text("Marked fulfilled: ORD-KET001.").is_visible()
    order = Order.objects.get(pk=shops["paid"].pk)
    assert (order.status, order.carrier, order.tracking_number) == ("fulfilled", "Blue Dart", "BD998877665IN")

    submit(page, page.get_by_role("link", name=re.compile("Sales overview")))
    assert page.url.endswith("/admin/orders/salesoverview/")
    assert page.locator("svg[data-sales-chart]").is_visible()
    assert page.locator("[data-total='Orders']").inner_text() == "2"
    assert page.locator("[data-total='Revenue']").inner_text() == "2998.00 INR"
    assert page.get_by_text("Copper Whistling Kettle").first.is_visible()
    assert page.get_by_text("Porcelain Teapot").count() == 0
