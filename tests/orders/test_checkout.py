"""Checkout (``POST checkout``, ``services.checkout.order_place``): the order with exact amounts and snapshots, every
refusal leaving stock, coupon counts and the cart as they were, the adjustment extension point, bad input, and the
query budget."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from commerce.catalog.models import Product, ProductStatus, ProductVariant
from commerce.core.errors import Conflict
from commerce.notifications.models import Notification
from commerce.offers.models import Offer, OfferRedemption
from commerce.orders import events
from commerce.orders.adjustments import AdjustmentQuote, register_adjustment_provider, unregister_adjustment_provider
from commerce.orders.models import (
    Cart,
    CartLine,
    CartStatus,
    IdempotencyRecord,
    Order,
    OrderAdjustment,
    OrderEvent,
    OrderLine,
)
from commerce.orders.pricing import cart_quote
from commerce.orders.services import checkout as checkout_service
from commerce.orders.services.checkout import order_place
from tests.catalog.factories import MerchantFactory
from tests.factories import UserFactory
from tests.offers.factories import OfferFactory
from tests.orders.factories import SHIPPING_ADDRESS, AddressFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
URL = "/api/v1/checkout"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def fill_cart(user, lines, *, coupon_code="", seen=True):
    """An open cart of ``lines`` ([(variant, quantity)]); ``seen``: its quote recorded as shown to the shopper."""
    cart = Cart.objects.create(user=user, merchant=lines[0][0].product.merchant, coupon_code=coupon_code)
    for variant, quantity in lines:
        CartLine.objects.create(cart=cart, variant=variant, quantity=quantity)
    if seen:
        mark_seen(cart, user)
    return cart


def mark_seen(cart, user):
    cart.refresh_from_db()
    quote = cart_quote(cart=cart, user=user)
    Cart.objects.filter(pk=cart.pk).update(quoted_total=quote.total, quote_fingerprint=quote.fingerprint())
    return quote


def post(client, body, key="key-1"):
    return client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def stock(variant):
    return ProductVariant.objects.values_list("stock_on_hand", "stock_allocated").get(pk=variant.pk)


def money(amount):
    return {"amount": amount, "currency": "INR"}


# --- the happy path ---------------------------------------------------------------------------------------------


def test_checkout_places_the_order_with_exact_amounts_line_snapshots_and_closes_the_cart(
    shopper, shopper_client, merchant, make_variant
):
    shirt = make_variant(sku="TSHIRT-M", price="499.00", stock=10, title="Cotton T-shirt")
    ProductVariant.objects.filter(pk=shirt.pk).update(options={"size": "M"})
    cap = make_variant(sku="CAP-1", price="201.00", stock=5, title="Cap")
    offer = OfferFactory(merchant=merchant, code="SAVE10", discount_value=Decimal("10.00"))
    cart = fill_cart(shopper, [(shirt, 2), (cap, 1)], coupon_code="save10")

    response = post(shopper_client, {"shipping_address": SHIPPING_ADDRESS})

    assert response.status_code == 201, response.json()
    body = response.json()
    order = Order.objects.get()
    assert body["number"] == order.number
    assert body["status"] == "pending_payment"
    assert body["payment_status"] == "unpaid"
    assert body["merchant"] == {"slug": "threads", "name": "Threads"}
    assert body["subtotal"] == money("1199.00")
    assert body["discount"] == money("119.90")
    assert body["coupon"] == {"code": "SAVE10", "discount": money("119.90")}
    assert body["adjustments"] == []
    assert body["adjustments_total"] == money("0.00")
    assert body["shipping"] == money("0.00")
    assert body["tax"] == money("164.60")
    assert body["total"] == money("1079.10")
    assert body["refunded"] == money("0.00")
    assert body["shipping_address"] == SHIPPING_ADDRESS
    assert body["tracking"] is None
    assert body["placed_at"] == "2026-03-02T10:00:00Z"
    assert body["expires_at"] == "2026-03-02T10:30:00Z"
    assert body["paid_at"] is None
    assert body["events"] == [{"type": "placed", "at": "2026-03-02T10:00:00Z", "note": "Order placed."}]
    assert body["lines"] == [
        {
            "sku": "TSHIRT-M",
            "product": {"slug": shirt.product.slug, "title": "Cotton T-shirt"},
            "options": {"size": "M"},
            "quantity": 2,
            "unit_price": money("499.00"),
            "line_total": money("998.00"),
            "discount": money("99.80"),
            "tax_rate": "18.00",
            "tax": money("137.01"),
            "total": money("898.20"),
        },
        {
            "sku": "CAP-1",
            "product": {"slug": cap.product.slug, "title": "Cap"},
            "options": {},
            "quantity": 1,
            "unit_price": money("201.00"),
            "line_total": money("201.00"),
            "discount": money("20.10"),
            "tax_rate": "18.00",
            "tax": money("27.59"),
            "total": money("180.90"),
        },
    ]
    # The order row: the snapshot and the payment window.
    assert order.user == shopper and order.merchant == merchant and order.offer == offer
    assert (order.email, order.phone) == ("shopper@example.com", "+919812345678")
    assert order.placed_at == NOW
    assert order.expires_at == NOW + timedelta(minutes=30)
    assert list(OrderLine.objects.values_list("sku", "quantity", "product_slug", "category_id")) == [
        ("TSHIRT-M", 2, shirt.product.slug, shirt.product.category_id),
        ("CAP-1", 1, cap.product.slug, cap.product.category_id),
    ]
    event = OrderEvent.objects.get(order=order)
    assert (event.type, event.from_status, event.to_status, event.actor_id) == (
        "placed",
        "",
        "pending_payment",
        shopper.pk,
    )
    # Stock allocated, coupon used once by this order, cart closed.
    assert stock(shirt) == (10, 2) and stock(cap) == (5, 1)
    offer.refresh_from_db()
    assert offer.times_used == 1
    assert list(OfferRedemption.objects.values_list("order_reference", "amount")) == [(order.number, Decimal("119.90"))]
    cart.refresh_from_db()
    assert cart.status == CartStatus.CONVERTED
    assert Cart.objects.filter(user=shopper, status=CartStatus.OPEN).count() == 0


def test_the_checkout_answer_is_the_order_as_read_back(shopper, shopper_client, merchant, make_variant, fake_points):
    shirt = make_variant(sku="TSHIRT-M", price="499.00")
    cap = make_variant(sku="CAP-1", price="201.00")
    OfferFactory(merchant=merchant, code="TEN")
    fill_cart(shopper, [(shirt, 2), (cap, 1)], coupon_code="TEN")

    placed = post(shopper_client, {"shipping_address": SHIPPING_ADDRESS})

    assert placed.status_code == 201, placed.json()
    assert placed.json()["adjustments"] != [] and placed.json()["coupon"] is not None
    assert shopper_client.get(f"/api/v1/orders/{placed.json()['number']}").json() == placed.json()


def test_checkout_after_reading_the_cart_charges_what_the_cart_showed(shopper_client, tshirt):
    assert (
        shopper_client.post("/api/v1/cart/lines", {"sku": "TSHIRT-M", "quantity": 1}, format="json").status_code == 201
    )
    cart = shopper_client.get("/api/v1/cart").json()

    response = post(shopper_client, {"shipping_address": SHIPPING_ADDRESS})

    assert response.status_code == 201, response.json()
    # 499.00 is at the free-shipping threshold: no fee; the tax is contained in the price.
    assert response.json()["total"] == cart["total"] == money("499.00")
    assert response.json()["tax"] == money("76.12")


def test_a_saved_address_is_copied_onto_the_order(shopper, shopper_client, tshirt):
    address = AddressFactory(user=shopper, name="Ravi Kumar", city="Mysuru", postal_code="570001")
    fill_cart(shopper, [(tshirt, 1)])

    response = post(shopper_client, {"address_id": address.pk})

    assert response.status_code == 201, response.json()
    expected = {**SHIPPING_ADDRESS, "name": "Ravi Kumar", "city": "Mysuru", "postal_code": "570001"}
    assert response.json()["shipping_address"] == expected
    assert Order.objects.get().shipping_address == expected


def test_another_users_address_is_not_found_and_nothing_is_placed(shopper, shopper_client, tshirt):
    theirs = AddressFactory(user=UserFactory())
    fill_cart(shopper, [(tshirt, 1)])

    response = post(shopper_client, {"address_id": theirs.pk})

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert Order.objects.count() == 0 and stock(tshirt) == (10, 0)


def test_placing_publishes_order_placed_tells_the_shopper_and_raises_popularity_after_the_commit(
    shopper, tshirt, django_capture_on_commit_callbacks
):
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    events.order_placed.connect(receiver)
    try:
        fill_cart(shopper, [(tshirt, 3)])
        with django_capture_on_commit_callbacks(execute=True):
            order = order_place(user=shopper, shipping_address=dict(SHIPPING_ADDRESS))
            # Nothing happens before the commit (the callbacks run when this block ends).
            assert received == [] and Notification.objects.count() == 0
            assert Product.objects.get(pk=tshirt.product_id).popularity == 0
    finally:
        events.order_placed.disconnect(receiver)

    assert [(kw["order_id"], kw["number"]) for kw in received] == [(order.pk, order.number)]
    assert Product.objects.get(pk=tshirt.product_id).popularity == 3
    # The message is stored (and sent by a worker, or at once where Celery runs eagerly).
    notification = Notification.objects.get()
    assert (notification.template, notification.user_id, notification.channel) == (
        "orders/placed",
        shopper.pk,
        "email",
    )


# --- refusals: nothing changes -----------------------------------------------------------------------------------


def test_no_cart_or_an_empty_cart_is_409_cart_empty(shopper, shopper_client):
    assert post(shopper_client, {"shipping_address": SHIPPING_ADDRESS}).json() == {
        "code": "cart_empty",
        "detail": "Your cart is empty.",
    }
    Cart.objects.create(user=shopper)
    response = post(shopper_client, {"shipping_address": SHIPPING_ADDRESS}, key="key-2")
    assert response.status_code == 409 and response.json()["code"] == "cart_empty"
    assert Order.objects.count() == 0 and IdempotencyRecord.objects.count() == 0


def test_short_stock_names_every_short_sku_and_allocates_nothing(shopper, shopper_client, merchant, make_variant):
    short = make_variant(sku="SHORT-1", stock=1)
    gone = make_variant(sku="GONE-1", stock=2)
    plenty = make_variant(sku="PLENTY", stock=50)
    offer = OfferFactory(merchant=merchant, code="TEN")
    cart = fill_cart(shopper, [(plenty, 2), (short, 2), (gone, 1)], coupon_code="TEN")
    ProductVariant.objects.filter(pk=gone.pk).update(stock_allocated=2)  # sold to others meanwhile

    response = post(shopper_client, {"shipping_address": SHIPPING_ADDRESS})

    assert response.status_code == 409
    assert response.json() == {
        "code": "insufficient_stock",
        "detail": "Only 1 left of SKU SHORT-1. SKU GONE-1 is out of stock.",
        "fields": {"SHORT-1": ["Only 1 left of SKU SHORT-1."], "GONE-1": ["SKU GONE-1 is out of stock."]},
    }
    assert (stock(short), stock(gone), stock(plenty)) == ((1, 0), (2, 2), (50, 0))
    assert Offer.objects.get(pk=offer.pk).times_used == 0
    assert Cart.objects.get(pk=cart.pk).status == CartStatus.OPEN
    assert list(cart.lines.values_list("variant__sku", "quantity")) == [("PLENTY", 2), ("SHORT-1", 2), ("GONE-1", 1)]
    assert Order.objects.count() == 0


def test_a_line_off_sale_is_409_line_unavailable_per_sku(shopper, shopper_client, make_variant):
    kept = make_variant(sku="KEPT")
    archived = make_variant(sku="ARCHIVED")
    cart = fill_cart(shopper, [(kept, 1), (archived, 1)])
    Product.objects.filter(pk=archived.product_id).update(status=ProductStatus.ARCHIVED)

    response = post(shopper_client, {"shipping_address": SHIPPING_ADDRESS})

    assert response.status_code == 409
    assert response.json() == {
        "code": "line_unavailable",
        "detail": "Not on sale any more: ARCHIVED.",
        "fields": {"ARCHIVED": ["SKU ARCHIVED is no longer on sale; remove it from your cart."]},
    }
    assert stock(kept) == (10, 0) and cart.lines.count() == 2 and Order.objects.count() == 0


def test_a_price_change_since_the_cart_was_seen_is_409_with_the_new_cart_and_a_retry_goes_through(
    shopper, shopper_client, tshirt
):
    cart = fill_cart(shopper, [(tshirt, 2)])
    ProductVariant.objects.filter(pk=tshirt.pk).update(price=Decimal("549.00"))

    response = post(shopper_client, {"shipping_address": SHIPPING_ADDRESS})

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "cart_changed"
    assert body["cart"]["total"] == money("1098.00")
    assert [line["unit_price"] for line in body["cart"]["lines"]] == [money("549.00")]
    assert stock(tshirt) == (10, 0) and Order.objects.count() == 0
    cart.refresh_from_db()
    assert (cart.status, cart.quoted_total) == (CartStatus.OPEN, Decimal("1098.00"))

    retry = post(shopper_client, {"shipping_address": SHIPPING_ADDRESS})

    assert retry.status_code == 201, retry.json()
    assert retry.json()["total"] == money("1098.00")


def test_a_cart_never_shown_is_cart_changed_unless_the_total_is_echoed(shopper, shopper_client, tshirt):
    fill_cart(shopper, [(tshirt, 1)], seen=False)

    assert post(shopper_client, {"shipping_address": SHIPPING_ADDRESS}).json()["code"] == "cart_changed"
    Cart.objects.filter(user=shopper).update(quote_fingerprint="")
    response = post(shopper_client, {"shipping_address": SHIPPING_ADDRESS, "expected_total": "499.00"}, key="k2")
    assert response.status_code == 201, response.json()


@pytest.mark.parametrize(
    ("expected_total", "placed"),
    [
        ("549.00", True),
        ({"amount": "549.00", "currency": "INR"}, True),
        ("499.00", False),
        ({"amount": "549.00", "currency": "USD"}, False),
    ],
)
def test_an_echoed_expected_total_decides_alone(shopper, shopper_client, tshirt, expected_total, placed):
    fill_cart(shopper, [(tshirt, 1)])
    ProductVariant.objects.filter(pk=tshirt.pk).update(price=Decimal("549.00"))

    response = post(shopper_client, {"shipping_address": SHIPPING_ADDRESS, "expected_total": expected_total})

    assert response.status_code == (201 if placed else 409), response.json()
    assert Order.objects.count() == (1 if placed else 0)
    if not placed:
        assert response.json()["code"] == "cart_changed"
        assert stock(tshirt) == (10, 0)


def test_a_coupon_that_stopped_validating_is_cart_changed_and_not_redeemed(shopper, shopper_client, merchant, tshirt):
    offer = OfferFactory(merchant=merchant, code="GONE", ends_at=NOW + timedelta(hours=1))
    fill_cart(shopper, [(tshirt, 2)], coupon_code="GONE")

    with time_machine.travel(NOW + timedelta(hours=2), tick=False):
        response = post(shopper_client, {"shipping_address": SHIPPING_ADDRESS})

    assert response.status_code == 409
    assert response.json()["code"] == "cart_changed"
    assert [w["code"] for w in response.json()["cart"]["warnings"]] == ["coupon_removed"]
    assert Offer.objects.get(pk=offer.pk).times_used == 0 and stock(tshirt) == (10, 0)


def test_a_coupon_used_up_by_someone_else_during_checkout_rolls_everything_back(
    shopper, shopper_client, merchant, tshirt, monkeypatch
):
    offer = OfferFactory(merchant=merchant, code="LAST", usage_limit=1)
    cart = fill_cart(shopper, [(tshirt, 2)], coupon_code="LAST")
    real_redeem = checkout_service.coupon_redeem

    def redeem_after_a_rival(**kwargs):
        # Another shopper's checkout takes the last use between our quote and our redemption.
        real_redeem(offer=offer, user=UserFactory(), order_reference="ORD-RIVAL", amount=Decimal("10.00"))
        return real_redeem(**kwargs)

    monkeypatch.setattr(checkout_service, "coupon_redeem", redeem_after_a_rival)

    response = post(shopper_client, {"shipping_address": SHIPPING_ADDRESS})

    assert response.status_code == 409
    assert response.json() == {"code": "coupon_used_up", "detail": "This coupon has been used up."}
    assert Order.objects.count() == 0 and OrderLine.objects.count() == 0 and OrderEvent.objects.count() == 0
    assert stock(tshirt) == (10, 0)
    assert Offer.objects.get(pk=offer.pk).times_used == 0  # the rival's use rolled back with ours, in the test
    assert Cart.objects.get(pk=cart.pk).status == CartStatus.OPEN
    assert IdempotencyRecord.objects.count() == 0


def test_the_service_records_the_new_quote_as_seen_after_its_rollback(shopper, tshirt):
    cart = fill_cart(shopper, [(tshirt, 1)])
    ProductVariant.objects.filter(pk=tshirt.pk).update(price=Decimal("449.00"))

    with pytest.raises(Conflict) as refused:
        order_place(user=shopper, shipping_address=dict(SHIPPING_ADDRESS))

    assert refused.value.code == "cart_changed"
    assert refused.value.quote.total == Decimal("498.00")  # 449.00 and 49.00 shipping below 499.00
    cart.refresh_from_db()
    assert cart.quoted_total == Decimal("498.00") and stock(tshirt) == (10, 0)
    assert order_place(user=shopper, shipping_address=dict(SHIPPING_ADDRESS)).total == Decimal("498.00")


def test_a_line_of_another_merchant_is_unavailable(shopper, shopper_client, merchant, make_variant):
    mine = make_variant(sku="MINE")
    theirs = make_variant(sku="THEIRS", merchant=MerchantFactory(name="Other", slug="other"))
    cart = fill_cart(shopper, [(mine, 1)])
    CartLine.objects.create(cart=cart, variant=theirs, quantity=1)  # slipped past the cart service
    mark_seen(cart, shopper)

    response = post(shopper_client, {"shipping_address": SHIPPING_ADDRESS})

    assert response.status_code == 409
    assert response.json()["code"] == "line_unavailable"
    assert list(response.json()["fields"]) == ["THEIRS"]
    assert stock(mine) == (10, 0) and stock(theirs) == (10, 0)


# --- the adjustment extension point -------------------------------------------------------------------------------


class FakePoints:
    source = "fake_points"

    def __init__(self, amount="100.00", refuse=False):
        self.amount = Decimal(amount)
        self.refuse = refuse
        self.applied = []

    def quote(self, *, cart, amount_due, currency):
        return AdjustmentQuote(source=self.source, label="Points", amount=self.amount, data={"points": 1000})

    def apply(self, *, order, quote):
        self.applied.append((order.number, quote.amount))
        if self.refuse:
            raise Conflict("Your points were spent meanwhile.", code="points_unavailable")


@pytest.fixture
def fake_points():
    provider = FakePoints()
    register_adjustment_provider(provider)
    yield provider
    unregister_adjustment_provider(FakePoints.source)


def test_each_adjustment_provider_applies_its_reduction_and_its_row_is_written(
    shopper, shopper_client, tshirt, fake_points
):
    fill_cart(shopper, [(tshirt, 2)])

    response = post(shopper_client, {"shipping_address": SHIPPING_ADDRESS})

    assert response.status_code == 201, response.json()
    order = Order.objects.get()
    assert fake_points.applied == [(order.number, Decimal("100.00"))]
    assert list(OrderAdjustment.objects.values_list("order_id", "source", "label", "amount", "data")) == [
        (order.pk, "fake_points", "Points", Decimal("100.00"), {"points": 1000})
    ]
    body = response.json()
    assert body["adjustments"] == [{"source": "fake_points", "label": "Points", "amount": money("100.00")}]
    assert body["adjustments_total"] == money("100.00")
    assert body["total"] == money("898.00")
    assert [line["discount"] for line in body["lines"]] == [money("100.00")]


def test_a_conflict_from_an_adjustment_provider_rolls_the_whole_checkout_back(
    shopper, shopper_client, merchant, tshirt, fake_points
):
    fake_points.refuse = True
    offer = OfferFactory(merchant=merchant, code="TEN")
    cart = fill_cart(shopper, [(tshirt, 2)], coupon_code="TEN")

    response = post(shopper_client, {"shipping_address": SHIPPING_ADDRESS})

    assert response.status_code == 409
    assert response.json() == {"code": "points_unavailable", "detail": "Your points were spent meanwhile."}
    assert len(fake_points.applied) == 1
    assert Order.objects.count() == 0 and OrderAdjustment.objects.count() == 0
    assert stock(tshirt) == (10, 0)
    assert Offer.objects.get(pk=offer.pk).times_used == 0 and OfferRedemption.objects.count() == 0
    assert Cart.objects.get(pk=cart.pk).status == CartStatus.OPEN


# --- bad input ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [None, "", "k" * 256, "clé-1", "tab\tkey", "   "],
    ids=["missing", "empty", "too-long", "non-ascii", "control", "blank"],
)
def test_a_missing_or_malformed_idempotency_key_is_400(shopper, shopper_client, tshirt, key):
    fill_cart(shopper, [(tshirt, 1)])
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}

    response = shopper_client.post(URL, {"shipping_address": SHIPPING_ADDRESS}, format="json", **headers)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["fields"]) == ["Idempotency-Key"]
    assert Order.objects.count() == 0


def test_a_key_of_255_printable_characters_is_accepted(shopper, shopper_client, tshirt):
    fill_cart(shopper, [(tshirt, 1)])
    assert post(shopper_client, {"shipping_address": SHIPPING_ADDRESS}, key="~" * 255).status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "address_id"),
        ({"address_id": 1, "shipping_address": SHIPPING_ADDRESS}, "address_id"),
        ({"address_id": "abc"}, "address_id"),
        ({"address_id": True}, "address_id"),
        ({"address_id": 1.5}, "address_id"),
        ({"address_id": "99999999999999999999999"}, "address_id"),
        ({"address_id": -4}, "address_id"),
        ({"shipping_address": "14 Residency Road"}, "shipping_address"),
        ({"shipping_address": [SHIPPING_ADDRESS]}, "shipping_address"),
        ({"shipping_address": SHIPPING_ADDRESS, "expected_total": "-1.00"}, "expected_total"),
        ({"shipping_address": SHIPPING_ADDRESS, "expected_total": "1e3"}, "expected_total"),
        ({"shipping_address": SHIPPING_ADDRESS, "expected_total": "NaN"}, "expected_total"),
        ({"shipping_address": SHIPPING_ADDRESS, "expected_total": "99999999999999"}, "expected_total"),
        ({"shipping_address": SHIPPING_ADDRESS, "expected_total": "\u0661\u0660\u0660"}, "expected_total"),
        ({"shipping_address": SHIPPING_ADDRESS, "expected_total": True}, "expected_total"),
        ({"shipping_address": SHIPPING_ADDRESS, "expected_total": 549}, "expected_total"),
        (
            {"shipping_address": SHIPPING_ADDRESS, "expected_total": {"amount": 549, "currency": "INR"}},
            "expected_total",
        ),
        (
            {"shipping_address": SHIPPING_ADDRESS, "expected_total": {"amount": "1", "currency": "INR", "x": 1}},
            "expected_total",
        ),
        ({"shipping_address": SHIPPING_ADDRESS, "expected_total": {"amount": "1.00"}}, "expected_total"),
        (
            {"shipping_address": SHIPPING_ADDRESS, "expected_total": {"amount": "1", "currency": "XYZ"}},
            "expected_total",
        ),
    ],
)
def test_bad_bodies_are_400_with_fields_and_change_nothing(shopper, shopper_client, tshirt, body, field):
    fill_cart(shopper, [(tshirt, 1)])

    response = post(shopper_client, body)

    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "invalid"
    assert field in response.json()["fields"]
    assert Order.objects.count() == 0 and IdempotencyRecord.objects.count() == 0 and stock(tshirt) == (10, 0)


def test_a_body_that_is_not_an_object_is_400(shopper_client):
    response = post(shopper_client, [SHIPPING_ADDRESS])
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_a_number_beyond_64_bits_is_refused_by_the_parser(shopper_client):
    response = post(shopper_client, {"address_id": 10**30})
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert Order.objects.count() == 0


def test_a_malformed_address_is_400_with_its_fields_nested(shopper, shopper_client, tshirt):
    fill_cart(shopper, [(tshirt, 1)])
    address = {key: value for key, value in SHIPPING_ADDRESS.items() if key != "city"}

    response = post(shopper_client, {"shipping_address": address})

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["shipping_address"]
    assert "city" in response.json()["fields"]["shipping_address"]
    assert Order.objects.count() == 0 and stock(tshirt) == (10, 0)


def test_checkout_needs_a_signed_in_shopper(api_client):
    response = api_client.post(URL, {"shipping_address": SHIPPING_ADDRESS}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 401


# --- query budget ---------------------------------------------------------------------------------------------------


def _checkout_queries(shopper, variants, key):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(shopper)
    fill_cart(shopper, [(variant, 1) for variant in variants], coupon_code="TEN")
    with CaptureQueriesContext(connection) as queries:
        response = post(client, {"shipping_address": SHIPPING_ADDRESS}, key=key)
    assert response.status_code == 201, response.json()
    return len(queries)


# Idempotency: look-up, claim, store (3); cart lock, lines, variants lock (3); pricing: tax rates, coupon, shipping
# (3); allocation: re-lock, one UPDATE, products (3); order insert; coupon redemption (4); lines, event, cart (3);
# and 10 SAVEPOINT/RELEASE statements; the loyalty points provider's quote (1). The body is rendered from the rows
# just written.
CHECKOUT_QUERIES = 31


def test_checkout_runs_the_same_queries_for_one_line_and_for_ten(make_variant, merchant):
    OfferFactory(merchant=merchant, code="TEN")
    variants = [make_variant(sku=f"SKU-{index}", price="100.00") for index in range(10)]
    one, ten = UserFactory(), UserFactory()

    counts = (_checkout_queries(one, variants[:1], "one"), _checkout_queries(ten, variants, "ten"))
    assert counts == (CHECKOUT_QUERIES, CHECKOUT_QUERIES)
