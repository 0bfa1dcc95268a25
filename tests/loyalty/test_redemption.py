"""Spending points at checkout (``loyalty.services.redemption``): the quote's rules (share cap, availability,
minimum, rounding, currency), checkout through the real ``order_place`` (the order total drops, the adjustment row,
the hold), and the hold following the order: paid -> spent, expired or cancelled unpaid -> released, refunded ->
returned in proportion; every follow-up idempotent."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import transaction

from commerce.core.errors import Conflict
from commerce.orders.adjustments import AdjustmentQuote
from commerce.orders.models import Cart, CartLine, CartStatus, Order, OrderAdjustment, OrderStatus
from commerce.orders.pricing import cart_quote
from commerce.orders.services.checkout import order_place
from commerce.orders.services.expiry import order_expire
from commerce.orders.services.transitions import order_cancel, order_mark_paid, order_record_refund
from loyalty.models import (
    Achievement,
    CartPoints,
    EarningRule,
    HoldStatus,
    PointsAccount,
    PointsEntry,
    PointsHold,
    PointsLot,
)
from loyalty.services.programme import programme_get
from loyalty.services.redemption import (
    PointsRedemption,
    points_hold_refunded,
    points_hold_release,
    points_hold_spend,
    points_usable,
)
from tests.loyalty.conftest import points_fund
from tests.orders.factories import SHIPPING_ADDRESS

# Tasks run in-process, also with a broker set (the event tests follow the receivers into the tasks).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def programme():
    """The defaults: a point is worth 0.25, at most 50% of an order in points, no minimum."""
    programme = programme_get()
    assert (programme.point_value, programme.max_redeem_percent, programme.min_redeem_points) == (
        Decimal("0.2500"),
        Decimal("50.00"),
        0,
    )
    return programme


def cart_with(user, lines, *, points=None):
    cart = Cart.objects.create(user=user, merchant=lines[0][0].product.merchant)
    for variant, quantity in lines:
        CartLine.objects.create(cart=cart, variant=variant, quantity=quantity)
    if points is not None:
        CartPoints.objects.create(cart=cart, points=points)
    return cart


def balances(user):
    return PointsAccount.objects.values_list("available", "pending", "held").get(user=user)


def entries(user):
    return list(
        PointsEntry.objects.filter(account__user=user)
        .exclude(kind="adjustment")
        .order_by("id")
        .values_list("kind", "points", "held_points", "key")
    )


def place(user):
    cart = Cart.objects.get(user=user, status=CartStatus.OPEN)
    quote = cart_quote(cart=cart, user=user)
    Cart.objects.filter(pk=cart.pk).update(quoted_total=quote.total, quote_fingerprint=quote.fingerprint())
    return order_place(user=user, shipping_address=SHIPPING_ADDRESS)


# --- the rule -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asked", "available", "due", "expected"),
    [
        (500, 1000, "998.00", 500),  # asked is the least
        (500, 300, "998.00", 300),  # available is the least
        (5000, 5000, "998.00", 1996),  # 50% of 998.00 = 499.00 = 1,996 points
        (5000, 5000, "0.25", 0),  # 50% of 0.25 is 0.125: not one point's worth
        (0, 5000, "998.00", 0),
        (500, 0, "998.00", 0),
        (500, 1000, "0.00", 0),
    ],
)
def test_points_usable_is_the_least_of_asked_available_and_the_share_cap(programme, asked, available, due, expected):
    assert (
        points_usable(asked=asked, available=available, amount_due=Decimal(due), programme=programme, currency="INR")
        == expected
    )


def test_rounding_half_up_never_lifts_the_discount_over_the_share_cap(programme):
    programme.point_value = Decimal("0.3333")
    # The cap is 49.995 (50% of 99.99); 150 points are worth 49.995 exactly, which rounds up to 50.00: one fewer.
    usable = points_usable(asked=1000, available=1000, amount_due=Decimal("99.99"), programme=programme, currency="INR")
    assert usable == 149
    assert Decimal(149) * programme.point_value == Decimal("49.6617")


def test_at_most_the_amount_due_even_with_a_cap_of_100_percent(programme):
    programme.max_redeem_percent = Decimal("100")
    usable = points_usable(
        asked=10_000, available=10_000, amount_due=Decimal("120.00"), programme=programme, currency="INR"
    )
    assert usable == 480


def test_below_the_minimum_no_points_are_used(programme):
    programme.min_redeem_points = 100
    assert points_usable(asked=99, available=1000, amount_due=Decimal("998"), programme=programme, currency="INR") == 0
    assert (
        points_usable(asked=100, available=1000, amount_due=Decimal("998"), programme=programme, currency="INR") == 100
    )


# --- the provider as the cart sees it ---------------------------------------------------------------------------


def test_the_cart_takes_the_points_off_its_total(programme, shopper, tshirt):
    points_fund(user=shopper, points=1000)
    cart = cart_with(shopper, [(tshirt, 2)], points=500)

    quote = cart_quote(cart=cart, user=shopper)

    assert quote.adjustments == [
        AdjustmentQuote(source="loyalty_points", label="500 points", amount=Decimal("125.00"), data={"points": 500})
    ]
    assert (quote.subtotal, quote.shipping, quote.total) == (Decimal("998.00"), Decimal("0.00"), Decimal("873.00"))


def test_fewer_points_available_than_asked_shows_the_smaller_number(programme, shopper, tshirt):
    points_fund(user=shopper, points=301)
    cart = cart_with(shopper, [(tshirt, 2)], points=500)

    (adjustment,) = cart_quote(cart=cart, user=shopper).adjustments

    assert (adjustment.label, adjustment.amount, adjustment.data) == ("301 points", Decimal("75.25"), {"points": 301})


def test_the_share_cap_counts_after_the_coupon_and_never_pays_shipping(programme, shopper, make_variant):
    from tests.offers.factories import OfferFactory

    mug = make_variant(sku="MUG", price="120.00")
    OfferFactory(merchant=mug.product.merchant, code="TWENTY", discount_type="fixed", discount_value=Decimal("20.00"))
    points_fund(user=shopper, points=10_000)
    cart = cart_with(shopper, [(mug, 1)], points=10_000)
    Cart.objects.filter(pk=cart.pk).update(coupon_code="TWENTY")
    cart.refresh_from_db()

    quote = cart_quote(cart=cart, user=shopper)

    # 120.00 - 20.00 coupon = 100.00 due on the lines; half of it in points; shipping (49.00) is paid in money.
    assert [(a.label, a.amount) for a in quote.adjustments] == [("200 points", Decimal("50.00"))]
    assert (quote.discount, quote.shipping, quote.total) == (Decimal("20.00"), Decimal("49.00"), Decimal("99.00"))


def test_one_point_is_labelled_in_the_singular(programme, shopper, tshirt):
    points_fund(user=shopper, points=1)
    cart = cart_with(shopper, [(tshirt, 1)], points=1)
    assert [a.label for a in cart_quote(cart=cart, user=shopper).adjustments] == ["1 point"]


def test_nothing_is_taken_off_without_points_asked_an_account_or_below_the_minimum(programme, shopper, tshirt):
    cart = cart_with(shopper, [(tshirt, 2)])
    assert cart_quote(cart=cart, user=shopper).adjustments == []  # nothing asked

    CartPoints.objects.create(cart=cart, points=500)
    assert cart_quote(cart=cart, user=shopper).adjustments == []  # no account, so no points

    points_fund(user=shopper, points=1000)
    programme.min_redeem_points = 600
    programme.save()
    assert cart_quote(cart=cart, user=shopper).adjustments == []  # 500 is below the minimum


def test_points_pay_only_in_the_default_currency(programme, shopper, tshirt):
    points_fund(user=shopper, points=1000)
    cart = cart_with(shopper, [(tshirt, 2)], points=500)
    provider = PointsRedemption()

    assert provider.quote(cart=cart, amount_due=Decimal("998.00"), currency="USD") is None
    assert provider.quote(cart=Cart(user=shopper), amount_due=Decimal("998.00"), currency="INR") is None


def test_quoting_reads_two_queries_and_writes_nothing(programme, shopper, tshirt, django_assert_num_queries):
    points_fund(user=shopper, points=1000)
    cart = cart_with(shopper, [(tshirt, 2)], points=500)
    with django_assert_num_queries(2):  # the cart's points with the balance, the programme
        PointsRedemption().quote(cart=cart, amount_due=Decimal("998.00"), currency="INR")
    CartPoints.objects.filter(cart=cart).delete()
    with django_assert_num_queries(1):  # a cart without points: one read
        PointsRedemption().quote(cart=cart, amount_due=Decimal("998.00"), currency="INR")


# --- checkout -------------------------------------------------------------------------------------------------


def test_checkout_holds_the_points_and_the_order_costs_less(programme, shopper, tshirt):
    points_fund(user=shopper, points=1000)
    cart = cart_with(shopper, [(tshirt, 2)], points=500)

    order = place(shopper)

    assert (order.subtotal, order.adjustments_total, order.total) == (
        Decimal("998.00"),
        Decimal("125.00"),
        Decimal("873.00"),
    )
    assert list(OrderAdjustment.objects.values_list("order_id", "source", "label", "amount", "data")) == [
        (order.pk, "loyalty_points", "500 points", Decimal("125.00"), {"points": 500})
    ]
    hold = PointsHold.objects.get()
    assert (hold.order_id, hold.points, hold.amount, hold.currency, hold.status, hold.returned) == (
        order.pk,
        500,
        Decimal("125.00"),
        "INR",
        HoldStatus.HELD,
        0,
    )
    assert balances(shopper) == (500, 0, 500)
    assert entries(shopper) == [("hold", -500, 500, f"order-hold:{order.pk}")]
    # The cart is closed with its points; a new cart starts without any.
    assert Cart.objects.get(pk=cart.pk).status == CartStatus.CONVERTED
    assert CartPoints.objects.get().cart_id == cart.pk


def test_apply_refuses_points_spent_since_the_quote_and_writes_nothing(programme, shopper, tshirt, paid_order):
    points_fund(user=shopper, points=300)
    order = paid_order(status=OrderStatus.PENDING_PAYMENT)
    quote = AdjustmentQuote(source="loyalty_points", label="500 points", amount=Decimal("125.00"), data={"points": 500})

    with pytest.raises(Conflict) as caught, transaction.atomic():
        PointsRedemption().apply(order=order, quote=quote)

    assert (caught.value.code, caught.value.extra) == ("insufficient_points", {"available": 300})
    assert balances(shopper) == (300, 0, 0)
    assert PointsHold.objects.count() == 0 and entries(shopper) == []


@pytest.mark.parametrize("points", [0, -5, "500", True, None])
def test_apply_refuses_a_quote_without_a_whole_number_of_points(programme, shopper, paid_order, points):
    points_fund(user=shopper, points=1000)
    order = paid_order(status=OrderStatus.PENDING_PAYMENT)
    quote = AdjustmentQuote(source="loyalty_points", label="?", amount=Decimal("1.00"), data={"points": points})
    with pytest.raises(Conflict) as caught, transaction.atomic():
        PointsRedemption().apply(order=order, quote=quote)
    assert caught.value.code == "insufficient_points"
    assert balances(shopper) == (1000, 0, 0)


# --- the hold follows the order -------------------------------------------------------------------------------


@pytest.fixture
def held_order(programme, shopper, tshirt):
    """An order placed with 500 of the shopper's 1,000 points (125.00 off 998.00: total 873.00)."""
    points_fund(user=shopper, points=1000)
    cart_with(shopper, [(tshirt, 2)], points=500)
    return place(shopper)


def test_paying_spends_the_hold_once(shopper, held_order):
    order_mark_paid(order_id=held_order.pk)

    points_hold_spend(order_id=held_order.pk)
    points_hold_spend(order_id=held_order.pk)

    assert PointsHold.objects.get().status == HoldStatus.SPENT
    assert balances(shopper) == (500, 0, 0)
    assert entries(shopper) == [
        ("hold", -500, 500, f"order-hold:{held_order.pk}"),
        ("spend", 0, -500, f"order-spend:{held_order.pk}"),
    ]
    # The spent points came out of the oldest lot; available + held is still what the lots hold.
    assert sum(PointsLot.objects.values_list("remaining", flat=True)) == 500


def test_an_unpaid_order_is_never_spent(shopper, held_order):
    points_hold_spend(order_id=held_order.pk)
    assert PointsHold.objects.get().status == HoldStatus.HELD
    assert balances(shopper) == (500, 0, 500)


def test_an_expired_order_releases_its_points_once(shopper, held_order):
    assert order_expire(order_id=held_order.pk, now=NOW + timedelta(hours=2)) is not None

    points_hold_release(order_id=held_order.pk)
    points_hold_release(order_id=held_order.pk)

    assert PointsHold.objects.get().status == HoldStatus.RELEASED
    assert balances(shopper) == (1000, 0, 0)
    assert entries(shopper)[1:] == [("release", 500, -500, f"order-release:{held_order.pk}")]
    # Released late, spent never: a payment follow-up arriving after the release changes nothing.
    points_hold_spend(order_id=held_order.pk)
    assert balances(shopper) == (1000, 0, 0)


def test_an_order_cancelled_unpaid_releases_its_points(shopper, held_order):
    order_cancel(order_id=held_order.pk, by_shopper=True)
    points_hold_release(order_id=held_order.pk)
    assert PointsHold.objects.get().status == HoldStatus.RELEASED
    assert balances(shopper) == (1000, 0, 0)


def test_a_pending_or_paid_order_is_never_released(shopper, held_order):
    points_hold_release(order_id=held_order.pk)  # still awaiting payment
    assert PointsHold.objects.get().status == HoldStatus.HELD

    order_mark_paid(order_id=held_order.pk)
    order_cancel(order_id=held_order.pk)  # paid then cancelled: the refund gives the points back, not a release
    points_hold_release(order_id=held_order.pk)
    assert PointsHold.objects.get().status == HoldStatus.HELD
    assert balances(shopper) == (500, 0, 500)


def test_refunds_give_the_spent_points_back_in_proportion_and_once(shopper, held_order):
    order_mark_paid(order_id=held_order.pk)
    points_hold_spend(order_id=held_order.pk)

    order_record_refund(order_id=held_order.pk, amount=Decimal("300.00"))
    points_hold_refunded(order_id=held_order.pk)
    points_hold_refunded(order_id=held_order.pk)
    # floor(500 * 300 / 873) = 171
    assert PointsHold.objects.get().returned == 171
    assert balances(shopper) == (671, 0, 0)

    order_record_refund(order_id=held_order.pk, amount=Decimal("573.00"))
    points_hold_refunded(order_id=held_order.pk)

    hold = PointsHold.objects.get()
    assert (hold.status, hold.returned) == (HoldStatus.SPENT, 500)
    assert balances(shopper) == (1000, 0, 0)
    assert entries(shopper)[2:] == [
        ("return", 171, 0, f"order-points-return:{held_order.pk}:171"),
        ("return", 329, 0, f"order-points-return:{held_order.pk}:500"),
    ]
    returned = PointsEntry.objects.filter(kind="return")
    assert not any(returned.values_list("qualifying", flat=True))
    # Each return is a new lot, expiring expiry_months from now.
    assert sorted(PointsLot.objects.filter(entry__kind="return").values_list("points", flat=True)) == [171, 329]


def test_a_refund_before_the_payment_follow_up_spends_first(shopper, held_order):
    order_mark_paid(order_id=held_order.pk)
    order_record_refund(order_id=held_order.pk, amount=Decimal("873.00"))

    points_hold_refunded(order_id=held_order.pk)
    points_hold_spend(order_id=held_order.pk)  # the late payment follow-up: already spent

    assert [kind for kind, *_ in entries(shopper)] == ["hold", "spend", "return"]
    assert balances(shopper) == (1000, 0, 0)


def test_follow_ups_of_an_order_without_points_do_nothing(shopper, paid_order):
    order = paid_order()
    points_hold_spend(order_id=order.pk)
    points_hold_release(order_id=order.pk)
    points_hold_refunded(order_id=order.pk)
    assert PointsHold.objects.count() == 0 and PointsEntry.objects.count() == 0


def test_the_order_events_drive_the_hold(shopper, held_order, django_capture_on_commit_callbacks):
    """End to end through the domain events: paid -> spend, refunded -> return (receivers and tasks, eager)."""
    Achievement.objects.update(is_active=False)  # keep the balances to the points of this order
    EarningRule.objects.update(is_active=False)

    with django_capture_on_commit_callbacks(execute=True):
        order_mark_paid(order_id=held_order.pk)
    assert PointsHold.objects.get().status == HoldStatus.SPENT

    with django_capture_on_commit_callbacks(execute=True):
        order_record_refund(order_id=held_order.pk, amount=Decimal("436.50"))
    assert PointsHold.objects.get().returned == 250
    assert balances(shopper) == (750, 0, 0)


def test_an_expiry_event_releases_the_hold(shopper, held_order, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        order_expire(order_id=held_order.pk, now=NOW + timedelta(hours=2))
    assert PointsHold.objects.get().status == HoldStatus.RELEASED
    assert Order.objects.get(pk=held_order.pk).status == OrderStatus.EXPIRED
    assert balances(shopper) == (1000, 0, 0)
