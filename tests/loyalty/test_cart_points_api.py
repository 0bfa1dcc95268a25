"""``POST/DELETE cart/points``: the cart answered as ``GET cart`` renders it with the points among its adjustments,
and every refusal: 401, 400 for anything but a whole number in range, 409 ``cart_empty``,
``insufficient_points``, ``points_not_applicable``; query budgets flat in the number of lines."""

import pytest
from rest_framework.test import APIClient

from commerce.orders.models import Cart, CartLine
from loyalty.models import CartPoints
from loyalty.services.programme import programme_get
from tests.loyalty.conftest import points_fund

pytestmark = pytest.mark.django_db

URL = "/api/v1/cart/points"


def money(amount):
    return {"amount": amount, "currency": "INR"}


@pytest.fixture
def cart(shopper, tshirt):
    cart = Cart.objects.create(user=shopper, merchant=tshirt.product.merchant)
    CartLine.objects.create(cart=cart, variant=tshirt, quantity=2)
    return cart


def test_posting_points_answers_the_cart_with_the_points_off_its_total(shopper, shopper_client, cart):
    points_fund(user=shopper, points=1000)

    response = shopper_client.post(URL, {"points": 500}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body == shopper_client.get("/api/v1/cart").json()
    assert body["id"] == cart.pk
    assert body["adjustments"] == [{"source": "loyalty_points", "label": "500 points", "amount": money("125.00")}]
    assert (body["subtotal"], body["shipping"], body["total"]) == (money("998.00"), money("0.00"), money("873.00"))
    assert CartPoints.objects.get().points == 500


def test_posting_again_replaces_the_points_and_the_cart_uses_what_the_share_allows(shopper, shopper_client, cart):
    points_fund(user=shopper, points=5000)
    shopper_client.post(URL, {"points": 500}, format="json")

    body = shopper_client.post(URL, {"points": 5000}, format="json").json()

    # At most 50% of 998.00 = 499.00 = 1,996 points; the cart keeps the 5,000 asked.
    assert body["adjustments"] == [{"source": "loyalty_points", "label": "1,996 points", "amount": money("499.00")}]
    assert body["total"] == money("499.00")
    assert list(CartPoints.objects.values_list("points", flat=True)) == [5000]


def test_deleting_the_points_answers_the_cart_at_full_price_and_is_idempotent(shopper, shopper_client, cart):
    points_fund(user=shopper, points=1000)
    shopper_client.post(URL, {"points": 500}, format="json")

    first = shopper_client.delete(URL)
    second = shopper_client.delete(URL)

    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json()["adjustments"] == [] and first.json()["total"] == money("998.00")
    assert second.json() == first.json()
    assert CartPoints.objects.count() == 0


def test_deleting_without_a_cart_answers_the_empty_cart(shopper_client):
    response = shopper_client.delete(URL)
    assert response.status_code == 200
    assert (response.json()["id"], response.json()["lines"]) == (None, [])
    assert Cart.objects.count() == 0


def test_more_than_available_is_409_insufficient_points_and_keeps_what_the_cart_had(shopper, shopper_client, cart):
    points_fund(user=shopper, points=400)
    shopper_client.post(URL, {"points": 300}, format="json")

    response = shopper_client.post(URL, {"points": 401}, format="json")

    assert response.status_code == 409
    assert response.json() == {
        "code": "insufficient_points",
        "detail": "You have 400 points available; you asked for 401.",
        "available": 400,
    }
    assert CartPoints.objects.get().points == 300


def test_a_member_without_an_account_has_no_points(shopper_client, cart):
    response = shopper_client.post(URL, {"points": 1}, format="json")
    assert (response.status_code, response.json()["code"], response.json()["available"]) == (
        409,
        "insufficient_points",
        0,
    )


def test_no_cart_or_an_empty_one_is_409_cart_empty(shopper, shopper_client):
    points_fund(user=shopper, points=1000)
    assert shopper_client.post(URL, {"points": 100}, format="json").json()["code"] == "cart_empty"

    Cart.objects.create(user=shopper)
    response = shopper_client.post(URL, {"points": 100}, format="json")

    assert response.status_code == 409
    assert response.json() == {"code": "cart_empty", "detail": "Your cart is empty; add something before using points."}
    assert CartPoints.objects.count() == 0


def test_a_cart_in_another_currency_is_409_points_not_applicable(shopper, shopper_client, make_variant):
    points_fund(user=shopper, points=1000)
    variant = make_variant(sku="USD-CAP", price="20.00")
    type(variant).objects.filter(pk=variant.pk).update(currency="USD")
    cart = Cart.objects.create(user=shopper, merchant=variant.product.merchant)
    CartLine.objects.create(cart=cart, variant=variant, quantity=1)

    response = shopper_client.post(URL, {"points": 100}, format="json")

    assert (response.status_code, response.json()["code"]) == (409, "points_not_applicable")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"points": None},
        {"points": "500"},
        {"points": 500.0},
        {"points": 12.5},
        {"points": True},
        {"points": 0},
        {"points": -5},
        {"points": 2_147_483_648},
        {"points": "\uff15\uff10\uff10"},
        {"points": [500]},
    ],
    ids=[
        "missing",
        "null",
        "string",
        "float",
        "fraction",
        "bool",
        "zero",
        "negative",
        "int32+1",
        "fullwidth",
        "list",
    ],
)
def test_anything_but_a_whole_number_in_range_is_400(shopper, shopper_client, cart, body):
    points_fund(user=shopper, points=1000)

    response = shopper_client.post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["fields"]) == ["points"]
    assert CartPoints.objects.count() == 0


def test_a_number_too_large_for_json_is_400_before_it_is_read(shopper_client, cart):
    response = shopper_client.post(URL, '{"points": 1' + "0" * 5000 + "}", content_type="application/json")
    assert (response.status_code, response.json()["code"]) == (400, "parse_error")
    assert CartPoints.objects.count() == 0


def test_fewer_than_the_programme_minimum_is_400(shopper, shopper_client, cart):
    points_fund(user=shopper, points=1000)
    programme = programme_get()
    programme.min_redeem_points = 200
    programme.save()

    response = shopper_client.post(URL, {"points": 199}, format="json")

    assert response.status_code == 400
    assert response.json()["fields"] == {"points": ["Spend at least 200 points at a time."]}


def test_anonymous_is_401(cart):
    client = APIClient()
    assert client.post(URL, {"points": 1}, format="json").status_code == 401
    assert client.delete(URL).status_code == 401


@pytest.mark.parametrize("lines", [1, 8])
def test_query_budgets_do_not_grow_with_the_lines(
    shopper, shopper_client, make_variant, django_assert_num_queries, lines
):
    cart = Cart.objects.create(user=shopper)
    for index in range(lines):
        variant = make_variant(sku=f"SKU-{index}", price="100.00")
        cart.merchant = variant.product.merchant
        CartLine.objects.create(cart=cart, variant=variant, quantity=1)
    cart.save()
    points_fund(user=shopper, points=1000)
    programme_get()
    shopper_client.post(URL, {"points": 100}, format="json")

    # set (10): programme, savepoint, cart lock, first line, balance, the upsert (savepoint, select, update,
    # release), release; then the cart's read (9): savepoint, lock, lines, tax rates, points with balance,
    # programme, shipping, the quote recorded as seen, release.
    with django_assert_num_queries(19):
        assert shopper_client.post(URL, {"points": 200}, format="json").status_code == 200
    # clear (4): savepoint, cart lock, delete, release; the cart's read (8: no points, so no programme).
    with django_assert_num_queries(12):
        assert shopper_client.delete(URL).status_code == 200


def test_the_points_survive_a_cart_change_and_are_requoted(shopper, shopper_client, cart, tshirt):
    points_fund(user=shopper, points=5000)
    shopper_client.post(URL, {"points": 5000}, format="json")

    body = shopper_client.patch(f"/api/v1/cart/lines/{cart.lines.get().pk}", {"quantity": 1}, format="json").json()

    # Half of 499.00 in points; shipping stays free (499.00 reaches the threshold before points).
    assert body["adjustments"] == [{"source": "loyalty_points", "label": "998 points", "amount": money("249.50")}]
    assert (body["shipping"], body["total"]) == (money("0.00"), money("249.50"))
