"""The cart service (commerce.orders.services.cart): race-safe creation, locking, validation at the service edge."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction

from commerce.core.errors import Conflict, InvalidInput, NotFoundError
from commerce.orders.models import Cart, CartLine, CartStatus
from commerce.orders.pricing import cart_quote
from commerce.orders.services import cart as services
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_reading_without_a_cart_answers_an_empty_unsaved_one_without_writing(shopper, django_assert_num_queries):
    with django_assert_num_queries(3):  # savepoint, the open cart (none), release
        quote = services.cart_read(user=shopper)

    assert (quote.cart.pk, quote.lines, quote.total, quote.currency) == (None, [], Decimal("0.00"), "INR")
    assert not Cart.objects.exists()


def test_mark_seen_writes_only_when_the_quote_changed(shopper, tshirt, django_assert_num_queries):
    quote = services.cart_line_add(user=shopper, sku="TSHIRT-M", quantity=1)
    cart = Cart.objects.get()
    assert (cart.quoted_total, cart.quote_fingerprint) == (Decimal("499.00"), quote.fingerprint())

    with django_assert_num_queries(0):
        services.cart_mark_seen(cart=cart, quote=quote)
    empty = cart_quote(cart=cart, user=shopper, lines=[])
    with django_assert_num_queries(1):
        services.cart_mark_seen(cart=cart, quote=empty)

    cart.refresh_from_db()
    assert (cart.quoted_total, cart.quote_fingerprint) == (Decimal("0.00"), empty.fingerprint())


def test_mark_seen_of_an_unsaved_cart_records_nothing(shopper, django_assert_num_queries):
    cart = Cart(user=shopper)
    with django_assert_num_queries(0):
        services.cart_mark_seen(cart=cart, quote=cart_quote(cart=cart, user=shopper, lines=[]))
    assert not Cart.objects.exists()


def test_a_concurrent_first_add_joins_the_cart_that_won_the_create(shopper, tshirt, monkeypatch):
    """The other request created the cart between this one's read and its insert: the insert fails on the
    one-open-cart index, and this request re-reads and adds to the winner's cart."""
    winner = Cart.objects.create(user=shopper, merchant=tshirt.product.merchant)
    CartLine.objects.create(cart=winner, variant=tshirt, quantity=1)
    real = services.cart_get_open
    calls = []

    def stale_first_read(**kwargs):
        calls.append(kwargs)
        return None if len(calls) == 1 else real(**kwargs)

    monkeypatch.setattr(services, "cart_get_open", stale_first_read)

    quote = services.cart_line_add(user=shopper, sku="TSHIRT-M", quantity=2)

    assert len(calls) == 2
    assert quote.cart.pk == winner.pk
    assert list(Cart.objects.values_list("pk", flat=True)) == [winner.pk]
    assert list(winner.lines.values_list("quantity", flat=True)) == [3]


def test_a_converted_cart_is_not_the_open_cart_and_a_new_add_opens_another(shopper, tshirt):
    services.cart_line_add(user=shopper, sku="TSHIRT-M", quantity=1)
    first = Cart.objects.get()
    Cart.objects.filter(pk=first.pk).update(status=CartStatus.CONVERTED)

    assert services.cart_get_open(user=shopper) is None
    quote = services.cart_line_add(user=shopper, sku="TSHIRT-M", quantity=2)

    assert quote.cart.pk != first.pk
    assert [(line.variant.sku, line.quantity) for line in quote.lines] == [("TSHIRT-M", 2)]
    assert list(first.lines.values_list("quantity", flat=True)) == [1]


@pytest.mark.parametrize("quantity", [0, 101, True, "2", 2.0, None])
def test_the_service_refuses_bad_quantities_itself(shopper, tshirt, quantity):
    with pytest.raises(InvalidInput) as error:
        services.cart_line_add(user=shopper, sku="TSHIRT-M", quantity=quantity)
    assert error.value.fields == {"quantity": ["Enter a whole number from 1 to 100."]}
    assert not Cart.objects.exists()


@pytest.mark.parametrize("sku", ["", None, 12, "  "])
def test_the_service_refuses_a_missing_sku(shopper, sku):
    with pytest.raises(InvalidInput) as error:
        services.cart_line_add(user=shopper, sku=sku, quantity=1)
    assert error.value.fields == {"sku": ["Enter a SKU."]}


def test_a_failed_add_rolls_back_the_cart_it_created(shopper, make_variant):
    make_variant(sku="NONE-LEFT", stock=0)
    with pytest.raises(Conflict):
        services.cart_line_add(user=shopper, sku="NONE-LEFT", quantity=1)
    assert not Cart.objects.exists()


def test_lines_of_another_users_cart_are_not_found(shopper, tshirt):
    services.cart_line_add(user=UserFactory(), sku="TSHIRT-M", quantity=1)
    theirs = CartLine.objects.get()
    services.cart_line_add(user=shopper, sku="TSHIRT-M", quantity=1)

    with pytest.raises(NotFoundError):
        services.cart_line_update(user=shopper, line_id=theirs.pk, quantity=2)
    with pytest.raises(NotFoundError):
        services.cart_line_remove(user=shopper, line_id=theirs.pk)
    assert CartLine.objects.get(pk=theirs.pk).quantity == 1


def test_applying_a_coupon_needs_a_code(shopper, tshirt):
    services.cart_line_add(user=shopper, sku="TSHIRT-M", quantity=1)
    for code in ("", "   ", None):
        with pytest.raises(InvalidInput) as error:
            services.cart_coupon_apply(user=shopper, code=code)
        assert error.value.fields == {"code": ["Enter a coupon code."]}


# --- PostgreSQL: real parallel transactions ------------------------------------------------------------------


def _in_thread(target):
    """Run ``target`` in a thread with its own database connection; returns (thread, result dict)."""
    result: dict = {}

    def run():
        try:
            result["value"] = target()
        except Exception as exc:  # handed to the test thread
            result["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def _add_while_another_add_holds_the_cart(user, first_sku, second_sku):
    """The first add stays uncommitted (holding the cart lock, or the new cart's index entry) while the second
    one starts; the second must wait for it, then count on top of it."""
    added, release = threading.Event(), threading.Event()

    def first_add():
        with transaction.atomic():
            services.cart_line_add(user=user, sku=first_sku, quantity=2)
            added.set()
            release.wait(10)

    holder, held = _in_thread(first_add)
    assert added.wait(10)
    second, result = _in_thread(lambda: services.cart_line_add(user=user, sku=second_sku, quantity=3))
    second.join(0.5)
    waited = second.is_alive()
    release.set()
    holder.join(15)
    second.join(15)
    assert "error" not in held and "error" not in result
    return waited


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_tabs_adding_the_same_sku_at_once_both_count(shopper, tshirt):
    services.cart_line_add(user=shopper, sku="TSHIRT-M", quantity=1)

    assert _add_while_another_add_holds_the_cart(shopper, "TSHIRT-M", "TSHIRT-M")  # waited for the cart lock

    assert list(CartLine.objects.values_list("quantity", flat=True)) == [6]
    cart = Cart.objects.get()
    assert cart.quoted_total == Decimal("2994.00")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_first_adds_at_once_make_one_cart_holding_both(shopper, tshirt, make_variant):
    make_variant(sku="MUG-1", price="250.00")

    assert _add_while_another_add_holds_the_cart(shopper, "TSHIRT-M", "MUG-1")  # waited on the unique index

    cart = Cart.objects.get()
    assert sorted(cart.lines.values_list("variant__sku", "quantity")) == [("MUG-1", 3), ("TSHIRT-M", 2)]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_locking_a_cart_does_not_lock_its_merchant(shopper, tshirt):
    """Carts of one merchant never wait on each other: the lock is ``FOR UPDATE OF`` the cart row only."""
    services.cart_line_add(user=shopper, sku="TSHIRT-M", quantity=1)
    other = UserFactory()
    locked, release = threading.Event(), threading.Event()

    def hold_the_shoppers_cart():
        with transaction.atomic():
            services.cart_get_open(user=shopper, lock=True)
            locked.set()
            release.wait(10)

    def add_for_another_shopper():
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
            return len(services.cart_line_add(user=other, sku="TSHIRT-M", quantity=1).lines)

    holder, held = _in_thread(hold_the_shoppers_cart)
    try:
        assert locked.wait(10)
        adder, result = _in_thread(add_for_another_shopper)
        adder.join(15)
        assert result == {"value": 1}
    finally:
        release.set()
        holder.join(15)
    assert "error" not in held
