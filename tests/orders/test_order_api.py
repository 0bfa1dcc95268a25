"""The shopper's orders: ``GET orders``, ``GET orders/{number}``, ``POST orders/{number}/cancel`` (shape, scoping, bad
input, query budgets)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from commerce.catalog.models import ProductVariant
from commerce.orders.models import Order, OrderEvent, OrderEventType, OrderLine, OrderStatus
from tests.factories import UserFactory
from tests.orders.factories import SHIPPING_ADDRESS, order_build

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def money(amount):
    return {"amount": amount, "currency": "INR"}


def stock(variant):
    return ProductVariant.objects.values_list("stock_on_hand", "stock_allocated").get(pk=variant.pk)


# --- GET orders ---------------------------------------------------------------------------------------------------


def test_the_list_holds_my_orders_newest_first(shopper, shopper_client, tshirt, make_variant):
    cap = make_variant(sku="CAP-1", price="150.00")
    older = order_build(user=shopper, lines=[(tshirt, 1)], placed_at=NOW - timedelta(days=2), number="ORD-OLDER2")
    newer = order_build(
        user=shopper, lines=[(tshirt, 2), (cap, 3)], status=OrderStatus.PAID, placed_at=NOW - timedelta(hours=1)
    )
    order_build(user=UserFactory(), lines=[(tshirt, 1)])  # someone else's

    response = shopper_client.get("/api/v1/orders")

    assert response.status_code == 200
    assert response.json() == {
        "count": 2,
        "next": None,
        "previous": None,
        "results": [
            {
                "number": newer.number,
                "status": "paid",
                "payment_status": "paid",
                "merchant": {"slug": "threads", "name": "Threads"},
                "items": 5,
                "total": money("1448.00"),
                "placed_at": "2026-03-02T09:00:00Z",
                "expires_at": None,
            },
            {
                "number": older.number,
                "status": "pending_payment",
                "payment_status": "unpaid",
                "merchant": {"slug": "threads", "name": "Threads"},
                "items": 1,
                "total": money("499.00"),
                "placed_at": "2026-02-28T10:00:00Z",
                "expires_at": "2026-02-28T10:30:00Z",
            },
        ],
    }


def test_the_list_filters_by_status(shopper, shopper_client, tshirt):
    order_build(user=shopper, lines=[(tshirt, 1)])
    paid = order_build(user=shopper, lines=[(tshirt, 1)], status=OrderStatus.PAID)

    response = shopper_client.get("/api/v1/orders", {"status": "paid"})

    assert [row["number"] for row in response.json()["results"]] == [paid.number]
    assert shopper_client.get("/api/v1/orders", {"status": "expired"}).json()["count"] == 0


@pytest.mark.parametrize("status", ["shipped", "PAID", "paid\u0000", "x" * 500, "pending_payment "])
def test_an_unknown_status_is_400(shopper_client, status):
    response = shopper_client.get("/api/v1/orders", {"status": status})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["fields"]) == ["status"]


@pytest.mark.parametrize("query", [{"page": "0"}, {"page": "abc"}, {"page_size": "101"}, {"page_size": "-1"}])
def test_bad_paging_is_400(shopper_client, query):
    assert shopper_client.get("/api/v1/orders", query).status_code == 400


def test_the_list_is_paginated(shopper, shopper_client, tshirt):
    for day in range(3):
        order_build(user=shopper, lines=[(tshirt, 1)], placed_at=NOW - timedelta(days=day))
    page = shopper_client.get("/api/v1/orders", {"page_size": 2, "page": 2}).json()
    assert page["count"] == 3 and len(page["results"]) == 1


def test_the_list_costs_the_same_queries_for_one_order_and_for_many(
    shopper, shopper_client, tshirt, make_variant, django_assert_num_queries
):
    cap = make_variant(sku="CAP-1")
    order_build(user=shopper, lines=[(tshirt, 1)])
    with django_assert_num_queries(2):  # count, page
        assert len(shopper_client.get("/api/v1/orders").json()["results"]) == 1
    for _ in range(6):
        order_build(user=shopper, lines=[(tshirt, 1), (cap, 1)])
    with django_assert_num_queries(2):
        assert len(shopper_client.get("/api/v1/orders").json()["results"]) == 7


def test_the_list_needs_a_signed_in_shopper(api_client):
    assert api_client.get("/api/v1/orders").status_code == 401


# --- GET orders/{number} ------------------------------------------------------------------------------------------


def test_the_detail_has_lines_totals_address_visible_events_and_tracking(shopper, shopper_client, tshirt):
    ProductVariant.objects.filter(pk=tshirt.pk).update(options={"size": "M"})
    tshirt.refresh_from_db()
    order = order_build(user=shopper, lines=[(tshirt, 2)], status=OrderStatus.FULFILLED, shipping="49.00")
    Order.objects.filter(pk=order.pk).update(carrier="BlueDart", tracking_number="BD123456789IN")
    with time_machine.travel(NOW + timedelta(hours=3), tick=False):
        OrderEvent.objects.create(
            order=order, type=OrderEventType.FULFILLED, from_status="paid", to_status="fulfilled", note="Shipped."
        )
        OrderEvent.objects.create(order=order, type=OrderEventType.NOTE, note="Staff only.", shopper_visible=False)

    response = shopper_client.get(f"/api/v1/orders/{order.number}")

    assert response.status_code == 200
    assert response.json() == {
        "number": order.number,
        "status": "fulfilled",
        "payment_status": "paid",
        "merchant": {"slug": "threads", "name": "Threads"},
        "lines": [
            {
                "sku": "TSHIRT-M",
                "product": {"slug": tshirt.product.slug, "title": "Cotton T-shirt"},
                "options": {"size": "M"},
                "quantity": 2,
                "unit_price": money("499.00"),
                "line_total": money("998.00"),
                "discount": money("0.00"),
                "tax_rate": "18.00",
                "tax": money("152.24"),
                "total": money("998.00"),
            }
        ],
        "subtotal": money("998.00"),
        "discount": money("0.00"),
        "coupon": None,
        "adjustments": [],
        "adjustments_total": money("0.00"),
        "shipping": money("49.00"),
        "tax": money("152.24"),
        "total": money("1047.00"),
        "refunded": money("0.00"),
        "shipping_address": SHIPPING_ADDRESS,
        "events": [
            {"type": "placed", "at": "2026-03-02T10:00:00Z", "note": ""},
            {"type": "fulfilled", "at": "2026-03-02T13:00:00Z", "note": "Shipped."},
        ],
        "tracking": {"carrier": "BlueDart", "number": "BD123456789IN"},
        "placed_at": "2026-03-02T10:00:00Z",
        "expires_at": None,
        "paid_at": "2026-03-02T10:00:00Z",
    }


def test_the_number_may_be_typed_in_lower_case(shopper, shopper_client, tshirt):
    order = order_build(user=shopper, lines=[(tshirt, 1)], number="ORD-7K3M9Q")
    assert shopper_client.get("/api/v1/orders/ord-7k3m9q").json()["number"] == order.number


def test_another_users_order_is_404_like_an_unknown_one(shopper_client, tshirt):
    theirs = order_build(user=UserFactory(), lines=[(tshirt, 1)])
    mine_unknown = shopper_client.get("/api/v1/orders/ORD-ZZZZZZ")
    response = shopper_client.get(f"/api/v1/orders/{theirs.number}")
    assert response.status_code == mine_unknown.status_code == 404
    assert response.json() == mine_unknown.json() == {"code": "not_found", "detail": "No such order."}


@pytest.mark.parametrize("number", ["x" * 300, "ORD-\u00c9\u00c9\u00c9", "%00", "ORD-7K3M9Q\u200b", " "])
def test_odd_numbers_are_404(shopper_client, number):
    assert shopper_client.get(f"/api/v1/orders/{number}").status_code == 404
    assert shopper_client.post(f"/api/v1/orders/{number}/cancel", {}, format="json").status_code == 404


def test_the_detail_costs_the_same_queries_for_one_line_and_for_ten(
    shopper, shopper_client, make_variant, django_assert_num_queries
):
    variants = [make_variant(sku=f"SKU-{index}") for index in range(10)]
    one = order_build(user=shopper, lines=[(variants[0], 1)])
    ten = order_build(user=shopper, lines=[(variant, 1) for variant in variants])
    for order in (one, ten):
        with django_assert_num_queries(4):  # order with merchant, lines, adjustments, events
            assert shopper_client.get(f"/api/v1/orders/{order.number}").status_code == 200


# --- POST orders/{number}/cancel --------------------------------------------------------------------------------


def test_cancelling_an_unpaid_order_releases_its_stock_and_answers_the_order(shopper, shopper_client, tshirt):
    order = order_build(user=shopper, lines=[(tshirt, 3)])
    assert stock(tshirt) == (10, 3)

    response = shopper_client.post(
        f"/api/v1/orders/{order.number}/cancel", {"reason": "Ordered the wrong size."}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["number"], body["status"], body["payment_status"]) == (order.number, "cancelled", "unpaid")
    assert body["events"][-1] == {"type": "cancelled", "at": "2026-03-02T10:00:00Z", "note": "Ordered the wrong size."}
    assert stock(tshirt) == (10, 0)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELLED


def test_cancelling_without_a_body_is_fine(shopper, shopper_client, tshirt):
    order = order_build(user=shopper, lines=[(tshirt, 1)])
    response = shopper_client.post(f"/api/v1/orders/{order.number}/cancel")
    assert response.status_code == 200
    assert response.json()["events"][-1]["note"] == "Cancelled at your request."


def test_cancelling_another_users_order_is_404_and_changes_nothing(shopper_client, tshirt):
    theirs = order_build(user=UserFactory(), lines=[(tshirt, 1)])
    response = shopper_client.post(f"/api/v1/orders/{theirs.number}/cancel", {}, format="json")
    assert response.status_code == 404
    assert Order.objects.get(pk=theirs.pk).status == OrderStatus.PENDING_PAYMENT and stock(tshirt) == (10, 1)


def test_a_shipped_order_cannot_be_cancelled(shopper, shopper_client, tshirt):
    order = order_build(user=shopper, lines=[(tshirt, 1)], status=OrderStatus.FULFILLED)
    response = shopper_client.post(f"/api/v1/orders/{order.number}/cancel", {}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    assert Order.objects.get(pk=order.pk).status == OrderStatus.FULFILLED


@pytest.mark.parametrize("body", [{"reason": "x" * 501}, {"reason": 42}, {"reason": ["a"]}, {"reason": None}, [1]])
def test_a_bad_reason_is_400_and_changes_nothing(shopper, shopper_client, tshirt, body):
    order = order_build(user=shopper, lines=[(tshirt, 1)])
    response = shopper_client.post(f"/api/v1/orders/{order.number}/cancel", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING_PAYMENT


def test_order_lines_keep_what_was_sold_when_the_catalog_changes(shopper, shopper_client, tshirt):
    order = order_build(user=shopper, lines=[(tshirt, 1)])
    ProductVariant.objects.filter(pk=tshirt.pk).update(price=Decimal("999.00"), sku="RENAMED")
    line = shopper_client.get(f"/api/v1/orders/{order.number}").json()["lines"][0]
    assert (line["sku"], line["unit_price"]) == ("TSHIRT-M", money("499.00"))
    assert OrderLine.objects.get().sku == "TSHIRT-M"
