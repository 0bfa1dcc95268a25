"""Spending points at checkout: the points a shopper asks to spend on their cart (``POST/DELETE cart/points``),
the orders adjustment provider that takes them off the cart and holds them at checkout
(:class:`PointsRedemption`), and what follows the order (the hold is spent when it is paid, released when it
expires or is cancelled unpaid, given back in proportion when a paid order is refunded).

How many points a cart uses (:func:`points_usable`, the one rule): the fewest of

* the points the shopper asked for (``CartPoints``),
* the member's available points,
* the points worth at most ``programme.max_redeem_percent`` of the amount due on the lines (after the coupon;
  shipping is never paid in points), and
* the points worth at most the amount due (the discount never exceeds it),

and nothing at all below ``programme.min_redeem_points``. The discount is ``quantize(points * point_value)``
(half up); where rounding up would cross the share cap, one point fewer is used, so the cap always holds.
Only carts in ``DEFAULT_CURRENCY`` (the currency ``point_value`` is in) can use points. When fewer points are
usable than asked, the adjustment's label names the smaller number ("300 points"): the cart's ``warnings`` are
the orders app's own list and a provider cannot add to it.

Lock order (the app's rule): the cause row first (the cart in ``cart_points_set``; the order's ``PointsHold`` in
the follow-ups; checkout has locked the cart and written the order before ``apply``), then the points account
through :func:`loyalty.services.ledger.points_account_lock`. Two checkouts of one member therefore queue on the
account row, and the second re-checks ``available`` after the first's hold: the same points are never held twice.

Ledger keys (one row per cause, the ledger's unique index is the last guard): ``order-hold:<order id>``,
``order-spend:<order id>``, ``order-release:<order id>``, ``order-points-return:<order id>:<returned after>``.
Every follow-up is idempotent: running it again finds the hold in its final state and does nothing.
"""

import logging
from decimal import ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction

from accounts.models import User
from commerce.core.errors import Conflict, InvalidInput
from commerce.core.money import quantize
from commerce.orders.adjustments import AdjustmentQuote
from commerce.orders.models import CartLine, OrderStatus, PaymentStatus
from commerce.orders.services.cart import cart_get_open

from ..models import CartPoints, HoldStatus, PointsAccount, PointsEntryKind, PointsHold, Programme
from .ledger import points_account_lock, points_post
from .programme import programme_get

if TYPE_CHECKING:
    from commerce.orders.models import Cart, Order

logger = logging.getLogger(__name__)

SOURCE = "loyalty_points"
#: The most points one request may name: the ``CartPoints.points`` column's range (PostgreSQL ``integer``).
MAX_CART_POINTS = 2_147_483_647


def points_label(points: int) -> str:
    return "1 point" if points == 1 else f"{points:,} points"


def points_worth(*, points: int, programme: Programme, currency: str) -> Decimal:
    """What ``points`` take off an order: ``points * point_value`` rounded half up to the currency."""
    return quantize(Decimal(points) * programme.point_value, currency)


def points_usable(*, asked: int, available: int, amount_due: Decimal, programme: Programme, currency: str) -> int:
    """How many of ``asked`` points a cart with ``amount_due`` on its lines uses (see the module docstring);
    0 when points cannot be used."""
    if asked <= 0 or available <= 0 or amount_due <= 0:
        return 0
    cap = amount_due * programme.max_redeem_percent / Decimal(100)
    cap = min(cap, amount_due)
    by_cap = int((cap / programme.point_value).to_integral_value(rounding=ROUND_FLOOR))
    points = max(min(asked, available, by_cap), 0)
    # Rounding half up may lift the amount a paisa over the cap; a point fewer keeps it within.
    while points > 0 and points_worth(points=points, programme=programme, currency=currency) > cap:
        points -= 1
    if points < max(programme.min_redeem_points, 1):
        return 0
    return points


def _insufficient(available: int, asked: int) -> Conflict:
    return Conflict(
        f"You have {available:,} points available; you asked for {asked:,}.",
        code="insufficient_points",
        extra={"available": available},
    )


def _clean_points(points: object) -> int:
    message = f"Enter a whole number of points from 1 to {MAX_CART_POINTS}."
    if isinstance(points, bool) or not isinstance(points, int) or not 1 <= points <= MAX_CART_POINTS:
        raise InvalidInput(message, fields={"points": [message]})
    return points


def _available(user_id: int) -> int:
    """The member's available points (0 without an account; reading never creates one)."""
    row = PointsAccount.objects.filter(user_id=user_id).values_list("available", flat=True).first()
    return int(row or 0)


def cart_points_set(*, user: User, points: int) -> None:
    """``POST cart/points``: spend ``points`` on the open cart (replacing what it asked before).

    400 ``fields.points`` unless a whole number from 1 (and at least ``programme.min_redeem_points``); 409
    ``cart_empty`` without a cart or lines (as the coupon), ``points_not_applicable`` for a cart priced in
    another currency than ``DEFAULT_CURRENCY``, ``insufficient_points`` (with ``available``) for more than the
    member's available points. The cart row is locked while it changes, like every cart change. Asking for
    more than the share cap allows is not an error: the cart uses what it can (see the module docstring).
    """
    points = _clean_points(points)
    programme = programme_get()
    if points < programme.min_redeem_points:
        message = f"Spend at least {programme.min_redeem_points:,} points at a time."
        raise InvalidInput(message, fields={"points": [message]})
    with transaction.atomic():
        cart = cart_get_open(user=user, lock=True)
        line = CartLine.objects.filter(cart=cart).select_related("variant").first() if cart is not None else None
        if cart is None or line is None:
            raise Conflict("Your cart is empty; add something before using points.", code="cart_empty")
        if line.variant.currency != settings.DEFAULT_CURRENCY:
            raise Conflict(f"Points pay only for carts in {settings.DEFAULT_CURRENCY}.", code="points_not_applicable")
        available = _available(user.pk)
        if points > available:
            raise _insufficient(available, points)
        CartPoints.objects.update_or_create(cart=cart, defaults={"points": points})


def cart_points_clear(*, user: User) -> None:
    """``DELETE cart/points``: spend no points on the open cart. Idempotent (no cart, or no points: nothing)."""
    with transaction.atomic():
        cart = cart_get_open(user=user, lock=True)
        if cart is not None:
            CartPoints.objects.filter(cart=cart).delete()


class PointsRedemption:
    """The orders adjustment provider that takes points off a cart (see :mod:`commerce.orders.adjustments`),
    registered in :meth:`loyalty.apps.LoyaltyConfig.ready`."""

    source = SOURCE

    def quote(self, *, cart: "Cart", amount_due: Decimal, currency: str) -> AdjustmentQuote | None:
        """The discount of the cart's points now: ``data={"points": n}``, label "n points". Reads only: one
        query for the cart's points and the member's balance together, and the programme's row when the cart
        has points."""
        if cart.pk is None or currency != settings.DEFAULT_CURRENCY:
            return None
        row = (
            CartPoints.objects.filter(cart_id=cart.pk)
            .values_list("points", "cart__user__points_account__available")
            .first()
        )
        if row is None:
            return None
        asked, available = row[0], int(row[1] or 0)
        programme = programme_get()
        points = points_usable(
            asked=asked, available=available, amount_due=amount_due, programme=programme, currency=currency
        )
        if points <= 0:
            return None
        return AdjustmentQuote(
            source=SOURCE,
            label=points_label(points),
            amount=points_worth(points=points, programme=programme, currency=currency),
            data={"points": points},
        )

    def apply(self, *, order: "Order", quote: AdjustmentQuote) -> None:
        """Inside checkout's transaction: hold the quoted points for ``order`` (a ``hold`` entry and a
        :class:`~loyalty.models.PointsHold`), or 409 ``insufficient_points`` (the whole checkout rolls back)."""
        points = quote.data.get("points")
        if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
            raise Conflict("These points cannot be used any more.", code="insufficient_points")
        if order.currency != settings.DEFAULT_CURRENCY:
            raise Conflict(f"Points pay only for orders in {settings.DEFAULT_CURRENCY}.", code="points_not_applicable")
        account = points_account_lock(user_id=order.user_id)
        if account.available < points:
            raise _insufficient(account.available, points)
        points_post(
            account=account,
            kind=PointsEntryKind.HOLD,
            points=-points,
            held_points=points,
            key=f"order-hold:{order.pk}",
            order=order,
            reason=f"Held for order {order.number}",
        )
        PointsHold.objects.create(
            order=order, account=account, points=points, amount=quote.amount, currency=order.currency
        )


# --- after checkout: the order's hold follows the order ----------------------------------------------------------


def _locked_hold(order_id: int) -> PointsHold | None:
    """The order's hold, locked (the cause row, before the account), with its order; None if it has none."""
    return PointsHold.objects.select_for_update(of=("self",)).select_related("order").filter(order_id=order_id).first()


def _spend(hold: PointsHold) -> None:
    account = points_account_lock(user_id=hold.order.user_id)
    points_post(
        account=account,
        kind=PointsEntryKind.SPEND,
        held_points=-hold.points,
        key=f"order-spend:{hold.order_id}",
        order=hold.order,
        reason=f"Spent on order {hold.order.number}",
    )
    hold.status = HoldStatus.SPENT
    hold.save(update_fields=["status", "updated_at"])


def points_hold_spend(*, order_id: int) -> None:
    """The order was paid: its held points are spent (``spend`` entry, hold ``spent``). Idempotent; nothing for an
    order without points, or one not paid (logged)."""
    with transaction.atomic():
        hold = _locked_hold(order_id)
        if hold is None or hold.status == HoldStatus.SPENT:
            return
        if hold.status == HoldStatus.RELEASED or hold.order.payment_status == PaymentStatus.UNPAID:
            logger.warning("Points of order %s not spent: hold %s, order %s", order_id, hold.status, hold.order.status)
            return
        _spend(hold)


def points_hold_release(*, order_id: int) -> None:
    """The order expired or was cancelled unpaid: its held points are available again (``release`` entry, hold
    ``released``). Idempotent; a paid order's points are never released (its refund gives them back)."""
    with transaction.atomic():
        hold = _locked_hold(order_id)
        if hold is None or hold.status != HoldStatus.HELD:
            return
        order = hold.order
        if order.payment_status != PaymentStatus.UNPAID or order.status not in (
            OrderStatus.CANCELLED,
            OrderStatus.EXPIRED,
        ):
            logger.warning(
                "Points of order %s not released: order %s, %s", order_id, order.status, order.payment_status
            )
            return
        account = points_account_lock(user_id=order.user_id)
        points_post(
            account=account,
            kind=PointsEntryKind.RELEASE,
            points=hold.points,
            held_points=-hold.points,
            key=f"order-release:{order_id}",
            order=order,
            reason=f"Order {order.number} {order.status}",
        )
        hold.status = HoldStatus.RELEASED
        hold.save(update_fields=["status", "updated_at"])


def points_returnable(*, hold: PointsHold) -> int:
    """How many of the hold's spent points the order's refunds give back in all: the refunded share of what was
    paid, ``floor(points * min(refunded, total) / total)``. An order that cost nothing (all in points, free
    shipping) gives everything back once cancelled."""
    order = hold.order
    if order.total <= 0:
        return hold.points if order.status == OrderStatus.CANCELLED else 0
    share = min(order.refunded_amount, order.total) / order.total
    return int((Decimal(hold.points) * share).to_integral_value(rounding=ROUND_FLOOR))


def points_hold_refunded(*, order_id: int) -> None:
    """A paid order was refunded (in part or whole): give back the refunded share of its spent points as a
    ``return`` entry (a new lot, not qualifying), minus what earlier refunds gave back. Idempotent: the key names
    the running total returned, and running it again finds nothing more due. A hold still ``held`` on a paid
    order (the payment's follow-up has not run yet) is spent first."""
    with transaction.atomic():
        hold = _locked_hold(order_id)
        if hold is None or hold.status == HoldStatus.RELEASED:
            return
        if hold.status == HoldStatus.HELD:
            if hold.order.payment_status == PaymentStatus.UNPAID:
                return
            _spend(hold)
        due = points_returnable(hold=hold) - hold.returned
        if due <= 0:
            return
        returned = hold.returned + due
        account = points_account_lock(user_id=hold.order.user_id)
        points_post(
            account=account,
            kind=PointsEntryKind.RETURN,
            points=due,
            key=f"order-points-return:{order_id}:{returned}",
            order=hold.order,
            reason=f"Refund of order {hold.order.number}",
        )
        hold.returned = returned
        hold.save(update_fields=["returned", "updated_at"])
