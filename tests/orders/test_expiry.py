"""Expiry of unpaid orders: the timeout, batches, second runs, one bad order, and races with a payment."""

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection, transaction

from commerce.catalog.models import ProductVariant
from commerce.core.errors import Conflict
from commerce.offers.models import Offer
from commerce.offers.services import coupon_redeem
from commerce.orders import events
from commerce.orders.models import Order, OrderEventType, OrderStatus
from commerce.orders.services.expiry import order_expire, orders_expire_due
from commerce.orders.services.transitions import order_mark_paid
from commerce.orders.tasks import expire_unpaid_orders
from tests.offers.factories import OfferFactory
from tests.orders.factories import order_build

pytestmark = pytest.mark.usefixtures("eager_celery")

PLACED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
DUE = PLACED + timedelta(minutes=30)  # ORDER_PAYMENT_TIMEOUT_MINUTES


@pytest.fixture
def expired_signals():
    calls: list[dict] = []

    def receiver(sender, signal=None, **kwargs):
        calls.append(kwargs)

    events.order_expired.connect(receiver, dispatch_uid="test-expired")
    yield calls
    events.order_expired.disconnect(dispatch_uid="test-expired")


def _stock(variant):
    variant.refresh_from_db()
    return variant.stock_on_hand, variant.stock_allocated


def _statuses(orders):
    return [Order.objects.get(pk=order.pk).status for order in orders]


def test_an_unpaid_order_expires_at_its_timeout_not_before(
    shopper, tshirt, expired_signals, django_capture_on_commit_callbacks, mailoutbox
):
    order = order_build(user=shopper, lines=[(tshirt, 3)], placed_at=PLACED)
    assert order.expires_at == DUE

    with time_machine.travel(DUE - timedelta(seconds=1), tick=False):
        assert orders_expire_due() == 0
    assert _statuses([order]) == ["pending_payment"]
    assert _stock(tshirt) == (10, 3)

    with time_machine.travel(DUE, tick=False), django_capture_on_commit_callbacks(execute=True):
        assert orders_expire_due() == 1

    order.refresh_from_db()
    assert (order.status, order.payment_status, order.cancelled_at) == ("expired", "unpaid", None)
    assert _stock(tshirt) == (10, 0)
    event = order.events.get(type=OrderEventType.EXPIRED)
    assert (event.from_status, event.to_status, event.actor, event.shopper_visible, event.created_at) == (
        "pending_payment",
        "expired",
        None,
        True,
        DUE,
    )
    assert event.note == "Payment was not received in time; the order expired."
    assert event.data == {"expires_at": DUE.isoformat()}
    assert expired_signals == [{"order_id": order.pk, "number": order.number}]
    assert [message.subject for message in mailoutbox] == [f"Order {order.number} expired: payment not received"]


def test_expiry_gives_the_coupon_use_back(shopper, tshirt):
    offer = OfferFactory(merchant=tshirt.product.merchant, code="SAVE10", usage_limit=1)
    order = order_build(user=shopper, lines=[(tshirt, 1)], placed_at=PLACED)
    Order.objects.filter(pk=order.pk).update(offer=offer, coupon_code="SAVE10")
    coupon_redeem(offer=offer, user=shopper, order_reference=order.number, amount=Decimal("49.90"))
    assert Offer.objects.get(pk=offer.pk).times_used == 1

    assert orders_expire_due(now=DUE + timedelta(minutes=1)) == 1

    assert Offer.objects.get(pk=offer.pk).times_used == 0


def test_batches_take_every_due_order_and_a_second_run_finds_none(
    shopper, make_variant, expired_signals, django_capture_on_commit_callbacks
):
    variant = make_variant(sku="CAP", price="199.00", stock=20)
    due = [order_build(user=shopper, lines=[(variant, 1)], placed_at=PLACED + timedelta(seconds=i)) for i in range(5)]
    later = order_build(user=shopper, lines=[(variant, 1)], placed_at=PLACED + timedelta(hours=1))
    paid = order_build(user=shopper, lines=[(variant, 1)], status=OrderStatus.PAID, placed_at=PLACED)
    assert _stock(variant) == (19, 6)
    now = DUE + timedelta(minutes=5)

    with django_capture_on_commit_callbacks(execute=True):
        assert orders_expire_due(now=now, batch_size=2) == 5
        assert orders_expire_due(now=now, batch_size=2) == 0

    assert _statuses(due) == ["expired"] * 5
    assert _statuses([later, paid]) == ["pending_payment", "paid"]
    assert _stock(variant) == (19, 1)
    assert [call["order_id"] for call in expired_signals] == [order.pk for order in due]


def test_a_batch_of_exactly_batch_size_orders_is_finished_by_a_short_last_query(
    shopper, tshirt, django_assert_num_queries
):
    for i in range(2):
        order_build(user=shopper, lines=[(tshirt, 1)], placed_at=PLACED + timedelta(seconds=i))

    assert orders_expire_due(now=DUE + timedelta(seconds=5), batch_size=2) == 2
    with django_assert_num_queries(1):  # nothing due: one read, no transaction
        assert orders_expire_due(now=DUE + timedelta(seconds=5), batch_size=2) == 0


def test_one_order_that_cannot_be_expired_does_not_stop_the_others(shopper, make_variant, caplog):
    broken_variant = make_variant(sku="BROKEN", stock=5)
    fine_variant = make_variant(sku="FINE", stock=5)
    broken = order_build(user=shopper, lines=[(broken_variant, 2)], placed_at=PLACED)
    fine = order_build(user=shopper, lines=[(fine_variant, 2)], placed_at=PLACED + timedelta(seconds=1))
    ProductVariant.objects.filter(pk=broken_variant.pk).update(stock_allocated=0)  # lost its allocation

    assert orders_expire_due(now=DUE + timedelta(minutes=1)) == 1

    assert _statuses([broken, fine]) == ["pending_payment", "expired"]
    assert _stock(broken_variant) == (5, 0)
    assert _stock(fine_variant) == (5, 0)
    assert f"order {broken.pk} could not be expired; the next run tries again" in caplog.text


def test_order_expire_expires_one_due_order_and_leaves_others(shopper, tshirt):
    due = order_build(user=shopper, lines=[(tshirt, 1)], placed_at=PLACED)
    paid = order_build(user=shopper, lines=[(tshirt, 1)], status=OrderStatus.PAID, placed_at=PLACED)
    fresh = order_build(user=shopper, lines=[(tshirt, 1)], placed_at=DUE)
    now = DUE + timedelta(seconds=1)

    assert order_expire(order_id=paid.pk, now=now) is None
    assert order_expire(order_id=fresh.pk, now=now) is None
    assert order_expire(order_id=due.pk + 1000, now=now) is None
    assert order_expire(order_id=due.pk, now=now).status == "expired"
    assert order_expire(order_id=due.pk, now=now) is None
    assert _statuses([due, paid, fresh]) == ["expired", "paid", "pending_payment"]


def test_a_payment_after_expiry_is_refused_and_the_stock_stays_released(shopper, tshirt):
    order = order_build(user=shopper, lines=[(tshirt, 2)], placed_at=PLACED)
    orders_expire_due(now=DUE)

    with pytest.raises(Conflict) as caught:
        order_mark_paid(order_id=order.pk, reference="pay_late")

    assert caught.value.extra["late_payment"] is True
    assert _stock(tshirt) == (10, 0)
    assert Order.objects.get(pk=order.pk).needs_attention is True


def test_a_payment_just_after_expires_at_but_before_the_task_ran_is_accepted(shopper, tshirt):
    order = order_build(user=shopper, lines=[(tshirt, 2)], placed_at=PLACED)

    with time_machine.travel(DUE + timedelta(minutes=2), tick=False):
        order_mark_paid(order_id=order.pk, reference="pay_just_in_time")
        assert orders_expire_due() == 0

    assert _statuses([order]) == ["paid"]
    assert _stock(tshirt) == (8, 0)


@pytest.mark.parametrize("batch_size", [0, -1, True, "10"])
def test_batch_size_must_be_a_positive_whole_number(batch_size, db):
    with pytest.raises(ValueError, match="batch_size"):
        orders_expire_due(batch_size=batch_size)


def test_the_task_expires_due_orders_and_returns_the_count(shopper, tshirt):
    order_build(user=shopper, lines=[(tshirt, 1)], placed_at=PLACED)
    order_build(user=shopper, lines=[(tshirt, 1)], placed_at=PLACED)

    with time_machine.travel(DUE + timedelta(minutes=1), tick=False):
        assert expire_unpaid_orders.apply().get() == 2
        assert expire_unpaid_orders.apply().get() == 0

    assert _stock(tshirt) == (10, 0)


# --- PostgreSQL: real parallel transactions ------------------------------------------------------------------


def _in_thread(target):
    def run():
        try:
            target()
        finally:
            connection.close()  # each thread has its own connection

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_expiry_racing_a_payment_on_one_order_lets_exactly_one_win(shopper, make_variant):
    variant = make_variant(sku="RACE", stock=10)
    orders = []
    outcomes: list[str] = []

    for _ in range(6):  # one due order at a time, so the expiry run sees only the raced one
        variant.refresh_from_db()  # order_build writes the allocation from the instance's figures
        order = order_build(user=shopper, lines=[(variant, 1)], placed_at=PLACED)
        orders.append(order)
        barrier = threading.Barrier(2)
        expired: list[int] = []

        def pay(order=order, barrier=barrier):
            barrier.wait(timeout=10)
            try:
                order_mark_paid(order_id=order.pk, reference=f"pay_{order.pk}")
                outcomes.append("paid")
            except Conflict as exc:
                outcomes.append("late" if exc.extra and exc.extra.get("late_payment") else repr(exc))
            except Exception as exc:  # a deadlock or a lock error would land here and fail the test
                outcomes.append(repr(exc))

        def expire(barrier=barrier, expired=expired):
            barrier.wait(timeout=10)
            expired.append(orders_expire_due(now=DUE + timedelta(minutes=1)))

        threads = [_in_thread(pay), _in_thread(expire)]
        for thread in threads:
            thread.join(timeout=30)
        assert not any(thread.is_alive() for thread in threads)
        status = Order.objects.get(pk=order.pk).status
        # Exactly one wins: paid (the expiry skipped or re-checked it), or expired (the payment came late).
        assert (status, outcomes[-1], expired) in [("paid", "paid", [0]), ("expired", "late", [1])]

    paid = outcomes.count("paid")
    assert _stock(variant) == (10 - paid, 0)
    assert Order.objects.filter(pk__in=[o.pk for o in orders], needs_attention=True).count() == 6 - paid


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_expiry_skips_an_order_a_payment_holds_locked_and_takes_it_next_run(shopper, tshirt):
    order = order_build(user=shopper, lines=[(tshirt, 2)], placed_at=PLACED)
    locked, release = threading.Event(), threading.Event()

    def hold_the_order():
        with transaction.atomic():
            list(Order.objects.select_for_update().filter(pk=order.pk))
            locked.set()
            release.wait(10)

    holder = _in_thread(hold_the_order)
    try:
        assert locked.wait(10)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
            assert orders_expire_due(now=DUE) == 0  # skipped at once, not waited for
    finally:
        release.set()
        holder.join(15)

    assert orders_expire_due(now=DUE) == 1
    assert _statuses([order]) == ["expired"]
    assert _stock(tshirt) == (10, 0)


@pytest.mark.parametrize("line_count", [1, 4])
def test_expiring_an_order_takes_a_fixed_number_of_queries_whatever_its_lines(
    line_count, shopper, make_variant, django_assert_num_queries
):
    variants = [make_variant(sku=f"SKU-{index}", price="100.00", stock=10) for index in range(line_count)]
    order_build(user=shopper, lines=[(variant, 1) for variant in variants], placed_at=PLACED)

    with django_assert_num_queries(12):  # the batch read, then one transaction
        assert orders_expire_due(now=DUE) == 1
