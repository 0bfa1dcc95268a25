"""Order numbers: ``ORD-`` and six characters a shopper can read out on the phone, e.g. ``ORD-7K3M9Q``.

* **Unambiguous**: the alphabet leaves out ``0 O 1 I L`` (and ``U``, so fewer accidental words): 30 characters,
  so six of them give 30**6 = 729,000,000 numbers.
* **Not guessable**: each character comes from :mod:`secrets`, so one order's number says nothing about the
  next one's (no sequence, no timestamp, nothing to count the shop's orders by).
* **Unique**: the ``unique`` constraint on ``Order.number`` is the last guard. :func:`order_number_insert`
  inserts the order inside a savepoint and draws a new number when the constraint refuses one, so a collision
  (one chance in 729 million per existing order) costs a retry, never the checkout.
"""

import secrets
from collections.abc import Callable

from django.db import IntegrityError, transaction

from ..models import Order

PREFIX = "ORD-"
ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 6
MAX_ATTEMPTS = 8


def order_number_generate(*, choice: Callable[[str], str] = secrets.choice) -> str:
    """A fresh random order number (``choice`` is replaceable in tests to force a collision)."""
    return PREFIX + "".join(choice(ALPHABET) for _ in range(LENGTH))


def order_number_normalize(number: str) -> str:
    """A number as a shopper may type it (``ord-7k3m9q``, with blanks) in its stored form."""
    return number.strip().upper()


def order_number_insert(*, order: Order, generate: Callable[[], str] = order_number_generate) -> Order:
    """Give ``order`` (unsaved) a fresh number and insert it; on a number collision try another.

    Each attempt runs in a savepoint so the surrounding checkout transaction survives a refused insert. Any
    other integrity error (a CHECK constraint) is not a collision and is raised at once. After
    :data:`MAX_ATTEMPTS` collisions in a row (the number space would have to be nearly full) the last error is
    raised: a 500 is right then, an operator must widen the numbers.
    """
    for attempt in range(MAX_ATTEMPTS):
        order.number = generate()
        try:
            with transaction.atomic():
                order.save(force_insert=True)
        except IntegrityError:
            order.pk = None
            order._state.adding = True
            if attempt == MAX_ATTEMPTS - 1 or Order.objects.filter(number=order.number).exists() is False:
                raise
            continue
        return order
    raise AssertionError("unreachable")  # pragma: no cover
