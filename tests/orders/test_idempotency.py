"""``Idempotency-Key`` on ``POST checkout``: replay of the first response, 409 for a key reused with another body, keys
per user, errors not remembered, the purge task, and (PostgreSQL) ten concurrent requests with one key."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from rest_framework.test import APIClient

from commerce.core.errors import InvalidInput
from commerce.orders.models import Cart, CartLine, IdempotencyRecord, Order, OrderStatus
from commerce.orders.pricing import cart_quote
from commerce.orders.services.idempotency import (
    idempotency_key_clean,
    idempotency_records_purge,
    idempotency_request_hash,
)
from commerce.orders.services.transitions import order_cancel
from commerce.orders.tasks import purge_idempotency_records
from tests.factories import UserFactory
from tests.orders.factories import SHIPPING_ADDRESS, order_build

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
URL = "/api/v1/checkout"
BODY = {"shipping_address": SHIPPING_ADDRESS}


def fill_cart(user, lines):
    cart = Cart.objects.create(user=user, merchant=lines[0][0].product.merchant)
    for variant, quantity in lines:
        CartLine.objects.create(cart=cart, variant=variant, quantity=quantity)
    quote = cart_quote(cart=cart, user=user)
    Cart.objects.filter(pk=cart.pk).update(quoted_total=quote.total, quote_fingerprint=quote.fingerprint())
    return cart


def client_of(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def post(client, body=BODY, key="buy-1"):
    return client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.fixture(autouse=True)
def frozen(request):
    if request.node.get_closest_marker("postgres"):  # threads wait on real time
        yield
        return
    with time_machine.travel(NOW, tick=False):
        yield


def test_the_same_key_and_body_replay_the_first_response_without_a_second_order(shopper, shopper_client, tshirt):
    fill_cart(shopper, [(tshirt, 2)])
    first = post(shopper_client)
    fill_cart(shopper, [(tshirt, 1)])  # a new cart: a second order would be possible

    again = post(shopper_client)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert Order.objects.count() == 1
    record = IdempotencyRecord.objects.get()
    assert (record.user, record.scope, record.key, record.status_code) == (shopper, "checkout", "buy-1", 201)
    assert record.order == Order.objects.get() and record.response_body == first.json()


def test_the_replay_is_the_first_response_even_after_the_order_moved_on(shopper, shopper_client, tshirt):
    fill_cart(shopper, [(tshirt, 1)])
    first = post(shopper_client)
    order_cancel(order_id=Order.objects.get().pk, actor=shopper, by_shopper=True)

    again = post(shopper_client)

    assert again.json() == first.json()
    assert again.json()["status"] == "pending_payment"
    assert Order.objects.get().status == OrderStatus.CANCELLED


def test_a_body_with_other_spacing_or_key_order_is_the_same_request(shopper, shopper_client, tshirt):
    fill_cart(shopper, [(tshirt, 1)])
    first = post(shopper_client)
    address = ",  ".join(f'"{key}": "{value}"' for key, value in reversed(list(SHIPPING_ADDRESS.items())))
    reordered = '{ "shipping_address" : {' + address + "} }"

    again = shopper_client.post(URL, reordered, content_type="application/json", HTTP_IDEMPOTENCY_KEY="buy-1")

    assert again.status_code == 201 and again.json() == first.json()


def test_the_same_key_with_another_body_is_409_and_places_nothing(shopper, shopper_client, tshirt):
    fill_cart(shopper, [(tshirt, 1)])
    post(shopper_client)
    fill_cart(shopper, [(tshirt, 1)])

    response = post(shopper_client, {"shipping_address": {**SHIPPING_ADDRESS, "line2": "Flat 4C"}})

    assert response.status_code == 409
    assert response.json() == {
        "code": "idempotency_key_reused",
        "detail": "This Idempotency-Key was already used for a different request; use a new key for a new request.",
    }
    assert Order.objects.count() == 1 and IdempotencyRecord.objects.count() == 1


def test_keys_are_per_user(shopper, shopper_client, tshirt):
    other = UserFactory()
    fill_cart(shopper, [(tshirt, 1)])
    fill_cart(other, [(tshirt, 2)])

    mine, theirs = post(shopper_client), post(client_of(other))

    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["number"] != theirs.json()["number"]
    assert sorted(Order.objects.values_list("user_id", flat=True)) == sorted([shopper.pk, other.pk])


def test_an_error_is_not_remembered_so_the_same_key_works_once_the_cart_is_fixed(shopper, shopper_client, tshirt):
    refused = post(shopper_client)
    assert refused.status_code == 409 and refused.json()["code"] == "cart_empty"
    assert IdempotencyRecord.objects.count() == 0

    fill_cart(shopper, [(tshirt, 1)])
    placed = post(shopper_client)

    assert placed.status_code == 201 and Order.objects.count() == 1


def test_a_replay_reads_only_the_record(shopper, shopper_client, tshirt, django_assert_num_queries):
    fill_cart(shopper, [(tshirt, 1)])
    post(shopper_client)
    with django_assert_num_queries(1):
        assert post(shopper_client).status_code == 201


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("6f1c2b9a-0d5e-4c1b-9a7e-3c2d1e0f9a8b", True),
        ("a", True),
        ("~" * 255, True),
        ("with spaces inside", True),
        (None, False),
        ("", False),
        ("  ", False),
        ("x" * 256, False),
        ("caf\u00e9", False),
        ("line\nbreak", False),
        ("nul\x00", False),
        ("del\x7f", False),
    ],
)
def test_keys_are_1_to_255_printable_ascii_characters(value, valid):
    if valid:
        assert idempotency_key_clean(value=value) == value
    else:
        with pytest.raises(InvalidInput) as exc:
            idempotency_key_clean(value=value)
        assert list(exc.value.fields) == ["Idempotency-Key"]


def test_the_request_hash_is_of_the_json_value():
    assert idempotency_request_hash(body={"a": 1, "b": [1, 2]}) == idempotency_request_hash(body={"b": [1, 2], "a": 1})
    assert idempotency_request_hash(body={"a": 1}) != idempotency_request_hash(body={"a": "1"})
    assert len(idempotency_request_hash(body={})) == 64


# --- purge --------------------------------------------------------------------------------------------------------


def _record(user, key, created_at):
    return IdempotencyRecord.objects.create(
        user=user, scope="checkout", key=key, request_hash="h", status_code=201, response_body={}, created_at=created_at
    )


def test_records_older_than_the_ttl_are_purged_by_the_task_and_newer_ones_kept(shopper, settings):
    settings.IDEMPOTENCY_KEY_TTL_HOURS = 24
    _record(shopper, "old", NOW - timedelta(hours=24, seconds=1))
    _record(shopper, "older", NOW - timedelta(days=3))
    _record(shopper, "edge", NOW - timedelta(hours=24))
    _record(shopper, "new", NOW - timedelta(minutes=5))

    assert purge_idempotency_records() == 2
    assert sorted(IdempotencyRecord.objects.values_list("key", flat=True)) == ["edge", "new"]
    assert purge_idempotency_records() == 0


def test_the_purge_works_in_batches(shopper, monkeypatch):
    monkeypatch.setattr("commerce.orders.services.idempotency.PURGE_BATCH_SIZE", 2)
    for index in range(5):
        _record(shopper, f"k{index}", NOW - timedelta(days=2))
    _record(shopper, "keep", NOW)

    assert idempotency_records_purge(now=NOW) == 5
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["keep"]


def test_after_the_purge_the_key_places_a_new_order(shopper, shopper_client, tshirt):
    fill_cart(shopper, [(tshirt, 1)])
    post(shopper_client)
    with time_machine.travel(NOW + timedelta(hours=25), tick=False):
        assert purge_idempotency_records() == 1
        fill_cart(shopper, [(tshirt, 1)])
        assert post(shopper_client).status_code == 201
    assert Order.objects.count() == 2


def test_purging_leaves_the_orders(shopper, tshirt):
    order = order_build(user=shopper, lines=[(tshirt, 1)])
    IdempotencyRecord.objects.create(
        user=shopper,
        scope="checkout",
        key="k",
        request_hash="h",
        status_code=201,
        response_body={},
        order=order,
        created_at=NOW - timedelta(days=2),
    )
    assert idempotency_records_purge(now=NOW) == 1
    assert Order.objects.filter(pk=order.pk).exists()


# --- concurrency (PostgreSQL) -------------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_requests_with_one_key_make_one_order_and_all_answer_it(make_variant):
    shopper = UserFactory()
    variant = make_variant(sku="RACE-1", stock=100)
    fill_cart(shopper, [(variant, 1)])
    barrier = threading.Barrier(10)
    responses = []
    lock = threading.Lock()

    def checkout() -> None:
        try:
            client = client_of(shopper)
            barrier.wait(timeout=10)
            response = post(client, key="same-key")
            with lock:
                responses.append((response.status_code, response.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=checkout) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    order = Order.objects.get()
    assert [status for status, _ in responses] == [201] * 10
    assert all(body == responses[0][1] for _, body in responses)
    assert responses[0][1]["number"] == order.number
    assert IdempotencyRecord.objects.count() == 1
    variant.refresh_from_db()
    assert (variant.stock_on_hand, variant.stock_allocated) == (100, 1)
