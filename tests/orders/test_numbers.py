"""Order numbers (``services.numbers``): readable, random, unique with a retry on collision."""

import re
from itertools import cycle

import pytest
from django.db import IntegrityError, transaction

from commerce.orders.models import Order
from commerce.orders.services.numbers import (
    ALPHABET,
    MAX_ATTEMPTS,
    order_number_generate,
    order_number_insert,
    order_number_normalize,
)
from tests.orders.factories import order_build

NUMBER = re.compile(r"ORD-[23456789ABCDEFGHJKMNPQRSTVWXYZ]{6}")


def test_numbers_are_ord_and_six_characters_without_look_alikes():
    numbers = {order_number_generate() for _ in range(2000)}

    assert all(NUMBER.fullmatch(number) for number in numbers)
    assert not set("01ILOU") & set(ALPHABET)
    assert len(ALPHABET) == 30
    # Random, not sequential: 2,000 draws from 729 million numbers practically never repeat.
    assert len(numbers) >= 1999


def test_each_character_comes_from_the_choice_function():
    picks = cycle("7K3M9Q")
    assert order_number_generate(choice=lambda alphabet: next(picks)) == "ORD-7K3M9Q"


def test_a_typed_number_is_normalised():
    assert order_number_normalize(" ord-7k3m9q ") == "ORD-7K3M9Q"


def _unsaved_copy(order: Order) -> Order:
    copy = Order.objects.get(pk=order.pk)
    copy.pk = None
    copy._state.adding = True
    return copy


@pytest.mark.django_db
def test_a_colliding_number_is_drawn_again_inside_the_same_transaction(shopper, tshirt):
    taken = order_build(user=shopper, lines=[(tshirt, 1)], number="ORD-AAAAAA")
    numbers = iter(["ORD-AAAAAA", "ORD-BBBBBB"])

    with transaction.atomic():
        order = order_number_insert(order=_unsaved_copy(taken), generate=lambda: next(numbers))
        # The transaction survived the refused insert: it can still write.
        assert Order.objects.filter(pk=order.pk).exists()

    assert order.number == "ORD-BBBBBB"
    assert sorted(Order.objects.values_list("number", flat=True)) == ["ORD-AAAAAA", "ORD-BBBBBB"]


@pytest.mark.django_db
def test_after_the_last_attempt_the_collision_is_raised(shopper, tshirt):
    taken = order_build(user=shopper, lines=[(tshirt, 1)], number="ORD-AAAAAA")
    attempts = []

    def always_taken():
        attempts.append(1)
        return "ORD-AAAAAA"

    with pytest.raises(IntegrityError):
        order_number_insert(order=_unsaved_copy(taken), generate=always_taken)
    assert len(attempts) == MAX_ATTEMPTS
    assert Order.objects.count() == 1


@pytest.mark.django_db
def test_an_integrity_error_that_is_not_a_collision_is_raised_at_once(shopper, tshirt):
    order = _unsaved_copy(order_build(user=shopper, lines=[(tshirt, 1)]))
    order.total = order.total + 1  # breaks orders_order_total_adds_up
    attempts = []

    def fresh():
        attempts.append(1)
        return f"ORD-CCCCC{len(attempts)}"

    with pytest.raises(IntegrityError):
        order_number_insert(order=order, generate=fresh)
    assert len(attempts) == 1
