"""The transitions service: the table, stock and coupon after each move, events, domain events, refunds, flags."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from django.db import transaction

from accounts.models import AuditEntry
from commerce.core.errors import Conflict, InvalidInput, NotFoundError
from commerce.offers.models import Offer
from commerce.offers.services import coupon_redeem
from commerce.orders import events
from commerce.orders.models import (
    ORDER_TRANSITIONS,
    Order,
    OrderEvent,
    OrderEventType,
    OrderStatus,
)
from commerce.orders.services.transitions import (
    order_cancel,
    order_deliver,
    order_flag,
    order_fulfil,
    order_mark_paid,
    order_record_refund,
    order_transition,
)
from tests.factories import StaffFactory
from tests.offers.factories import OfferFactory
from tests.orders.factories import order_build

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
pytestmark = pytest.mark.usefixtures("eager_celery")  # messages go out in-process, also with a broker set

ALL_PAIRS = [(a, b) for a in OrderStatus.values for b in OrderStatus.values]
ALLOWED = [(a, b) for a, b in ALL_PAIRS if b in ORDER_TRANSITIONS[a]]
REFUSED = [(a, b) for a, b in ALL_PAIRS if b not in ORDER_TRANSITIONS[a]]


@pytest.fixture
def received():
    """Every domain event sent, as ``(name, kwargs)`` without the signal and sender."""
    calls: list[tuple[str, dict]] = []
    receivers = {}  # strong references: signals hold receivers weakly
    for name, signal in events.ALL_EVENTS.items():

        def receiver(sender, signal=None, _name=name, **kwargs):
            calls.append((_name, kwargs))

        receivers[name] = receiver
        signal.connect(receiver, dispatch_uid=f"test-{name}")
    yield calls
    for name, signal in events.ALL_EVENTS.items():
        signal.disconnect(dispatch_uid=f"test-{name}")


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def staff(db):
    return StaffFactory(email="ops@example.com")


@pytest.fixture
def sweater(make_variant):
    return make_variant(sku="SWEATER-L", price="1299.00", stock=5, title="Wool sweater")


def _stock(variant):
    variant.refresh_from_db()
    return variant.stock_on_hand, variant.stock_allocated


def _with_coupon(order: Order, offer: Offer) -> Order:
    """Attach ``offer`` to ``order`` and redeem it as checkout does (the use is counted)."""
    Order.objects.filter(pk=order.pk).update(offer=offer, coupon_code=offer.code)
    coupon_redeem(offer=offer, user=order.user, order_reference=order.number, amount=Decimal("10.00"))
    order.refresh_from_db()
    return order


def _order_in(status, *, user, lines):
    return order_build(user=user, lines=lines, status=status)


# --- the table ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("from_status", "to_status"), ALLOWED)
def test_every_allowed_transition_moves_the_order_and_writes_one_event(
    from_status, to_status, shopper, tshirt, staff, frozen, django_capture_on_commit_callbacks
):
    order = _order_in(from_status, user=shopper, lines=[(tshirt, 2)])
    data = {"carrier": "Delhivery", "tracking_number": "DL123"} if to_status == OrderStatus.FULFILLED else None

    with django_capture_on_commit_callbacks(execute=True):
        moved = order_transition(order_id=order.pk, to_status=to_status, actor=staff, note="By the test.", data=data)

    order.refresh_from_db()
    assert moved.status == order.status == to_status
    event = OrderEvent.objects.filter(order=order).exclude(type=OrderEventType.PLACED).get()
    assert (event.type, event.from_status, event.to_status, event.actor, event.note, event.shopper_visible) == (
        to_status,
        from_status,
        to_status,
        staff,
        "By the test.",
        True,
    )
    assert event.created_at == NOW
    stamp = {"paid": "paid_at", "fulfilled": "fulfilled_at", "delivered": "delivered_at", "cancelled": "cancelled_at"}
    if to_status in stamp:
        assert getattr(order, stamp[to_status]) == NOW


@pytest.mark.parametrize(("from_status", "to_status"), REFUSED)
def test_every_refused_transition_is_409_naming_both_statuses_and_changes_nothing(
    from_status, to_status, shopper, tshirt, received, django_capture_on_commit_callbacks
):
    order = _order_in(from_status, user=shopper, lines=[(tshirt, 2)])
    before = _stock(tshirt)
    data = {"carrier": "Delhivery", "tracking_number": "DL123"}

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Conflict) as caught:
        order_transition(order_id=order.pk, to_status=to_status, data=data)

    assert caught.value.code == "invalid_transition"
    assert caught.value.as_dict() == {
        "code": "invalid_transition",
        "detail": f"Order {order.number} cannot go from {from_status} to {to_status}.",
        "from_status": from_status,
        "to_status": to_status,
    }
    order.refresh_from_db()
    assert order.status == from_status
    assert _stock(tshirt) == before
    assert list(OrderEvent.objects.filter(order=order).values_list("type", flat=True)) == ["placed"]
    assert received == []


@pytest.mark.parametrize(
    ("from_status", "to_status", "on_hand", "allocated"),
    [
        ("pending_payment", "paid", 8, 0),  # allocation became deduction
        ("pending_payment", "cancelled", 10, 0),  # released
        ("pending_payment", "expired", 10, 0),  # released
        ("paid", "fulfilled", 8, 0),  # already deducted at payment
        ("paid", "cancelled", 10, 0),  # back on hand
        ("fulfilled", "delivered", 8, 0),
    ],
)
def test_stock_figures_after_each_transition(from_status, to_status, on_hand, allocated, shopper, make_variant):
    variant = make_variant(sku="MUG", price="250.00", stock=10)
    order = _order_in(from_status, user=shopper, lines=[(variant, 2)])
    assert _stock(variant) == ((10, 2) if from_status == "pending_payment" else (8, 0))
    data = {"carrier": "BlueDart", "tracking_number": "BD-1"}

    order_transition(order_id=order.pk, to_status=to_status, data=data)

    assert _stock(variant) == (on_hand, allocated)


def test_an_unknown_status_is_400_and_an_unknown_order_404(shopper, tshirt):
    order = _order_in(OrderStatus.PENDING_PAYMENT, user=shopper, lines=[(tshirt, 1)])

    with pytest.raises(InvalidInput) as caught:
        order_transition(order_id=order.pk, to_status="shipped")
    assert caught.value.fields == {"to_status": ["Not a status."]}
    with pytest.raises(NotFoundError):
        order_transition(order_id=order.pk + 1000, to_status=OrderStatus.PAID)
    with pytest.raises(NotFoundError):
        order_mark_paid(order_id="1")  # type: ignore[arg-type]


def test_a_transition_rolled_back_by_its_caller_publishes_and_sends_nothing(
    shopper, tshirt, received, django_capture_on_commit_callbacks, mailoutbox
):
    order = _order_in(OrderStatus.PENDING_PAYMENT, user=shopper, lines=[(tshirt, 2)])

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        order_mark_paid(order_id=order.pk)
        raise RuntimeError("the caller failed")

    assert callbacks == []
    assert received == []
    assert mailoutbox == []
    order.refresh_from_db()
    assert (order.status, order.payment_status) == ("pending_payment", "unpaid")
    assert _stock(tshirt) == (10, 2)


# --- paid ---------------------------------------------------------------------------------------------------


def test_mark_paid_deducts_every_line_in_one_call_and_publishes_paid_once_after_commit(
    shopper, tshirt, sweater, received, frozen, django_capture_on_commit_callbacks
):
    order = _order_in(OrderStatus.PENDING_PAYMENT, user=shopper, lines=[(tshirt, 2), (sweater, 1)])

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        order_mark_paid(order_id=order.pk, reference="pay_123")
        assert received == []  # nothing before commit
    for callback in callbacks:
        callback()

    order.refresh_from_db()
    assert (order.status, order.payment_status, order.paid_at) == ("paid", "paid", NOW)
    assert _stock(tshirt) == (8, 0)
    assert _stock(sweater) == (4, 0)
    assert received == [("paid", {"order_id": order.pk, "number": order.number})]
    event = order.events.get(type="paid")
    assert (event.actor, event.data, event.note) == (None, {"reference": "pay_123"}, "Payment received.")


def test_mark_paid_again_changes_nothing(shopper, tshirt, received, django_capture_on_commit_callbacks, mailoutbox):
    order = _order_in(OrderStatus.PENDING_PAYMENT, user=shopper, lines=[(tshirt, 2)])
    with django_capture_on_commit_callbacks(execute=True):
        order_mark_paid(order_id=order.pk, reference="pay_1")
    received.clear()
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = order_mark_paid(order_id=order.pk, reference="pay_1")

    assert again.status == "paid"
    assert callbacks == []
    assert received == []
    assert _stock(tshirt) == (8, 0)
    assert order.events.filter(type="paid").count() == 1


@pytest.mark.parametrize("status", [OrderStatus.FULFILLED, OrderStatus.DELIVERED])
def test_a_duplicated_payment_of_a_shipped_order_changes_nothing(status, shopper, tshirt):
    order = _order_in(status, user=shopper, lines=[(tshirt, 1)])

    assert order_mark_paid(order_id=order.pk).status == status
    assert order.events.count() == 1
    assert _stock(tshirt) == (9, 0)


@pytest.mark.parametrize("status", [OrderStatus.EXPIRED, OrderStatus.CANCELLED])
def test_a_late_payment_is_refused_and_flags_the_order_for_staff(
    status, shopper, tshirt, received, django_capture_on_commit_callbacks
):
    order = _order_in(status, user=shopper, lines=[(tshirt, 2)])

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Conflict) as caught:
        order_mark_paid(order_id=order.pk, reference="pay_late")

    assert caught.value.as_dict() == {
        "code": "invalid_transition",
        "detail": f"Order {order.number} cannot go from {status} to paid.",
        "from_status": status,
        "to_status": "paid",
        "late_payment": True,
    }
    order.refresh_from_db()
    assert (order.status, order.payment_status, order.needs_attention) == (status, "unpaid", True)
    flag = order.events.get(type=OrderEventType.FLAGGED)
    assert flag.shopper_visible is False
    assert flag.data == {"reference": "pay_late", "late_payment": True, "status": status}
    assert flag.note == f"Payment pay_late arrived after the order was {status}: refund it."
    assert _stock(tshirt) == (10, 0)
    assert received == []


# --- cancel -------------------------------------------------------------------------------------------------


def test_cancelling_an_unpaid_order_releases_stock_and_the_coupon_use(
    shopper, tshirt, received, django_capture_on_commit_callbacks
):
    offer = OfferFactory(merchant=tshirt.product.merchant, code="SAVE10")
    order = _with_coupon(_order_in(OrderStatus.PENDING_PAYMENT, user=shopper, lines=[(tshirt, 3)]), offer)
    assert Offer.objects.get(pk=offer.pk).times_used == 1

    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(order_id=order.pk, actor=shopper, by_shopper=True)

    assert Offer.objects.get(pk=offer.pk).times_used == 0
    assert _stock(tshirt) == (10, 0)
    assert received == [("cancelled", {"order_id": order.pk, "number": order.number, "was_paid": False})]
    event = order.events.get(type="cancelled")
    assert (event.actor, event.note, event.data) == (
        shopper,
        "Cancelled at your request.",
        {"by_shopper": True, "was_paid": False},
    )
    assert not AuditEntry.objects.filter(action="order.cancelled_paid").exists()


def test_staff_cancelling_a_paid_order_restocks_audits_and_asks_payments_to_refund(
    shopper, tshirt, sweater, staff, received, django_capture_on_commit_callbacks
):
    offer = OfferFactory(merchant=tshirt.product.merchant, code="SAVE10")
    order = _with_coupon(_order_in(OrderStatus.PAID, user=shopper, lines=[(tshirt, 2), (sweater, 1)]), offer)

    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(order_id=order.pk, actor=staff, reason="  Warehouse flooded.  ")

    order.refresh_from_db()
    assert (order.status, order.payment_status) == ("cancelled", "paid")  # paid until the refund is recorded
    assert _stock(tshirt) == (10, 0)
    assert _stock(sweater) == (5, 0)
    assert Offer.objects.get(pk=offer.pk).times_used == 0
    assert received == [("cancelled", {"order_id": order.pk, "number": order.number, "was_paid": True})]
    cancelled = order.events.get(type="cancelled")
    assert (cancelled.note, cancelled.shopper_visible, cancelled.actor) == ("Warehouse flooded.", True, staff)
    audit = AuditEntry.objects.get(action="order.cancelled_paid")
    assert (audit.actor, audit.target_id) == (staff, str(order.pk))
    assert audit.before == {"status": "paid", "payment_status": "paid"}
    assert audit.after == {"status": "cancelled", "reason": "Warehouse flooded.", "refund_due": "2297.00"}
    restocks = AuditEntry.objects.filter(action="stock.adjusted").order_by("target_id")
    assert [(entry.target_id, entry.after["stock_on_hand"]) for entry in restocks] == sorted(
        [(str(tshirt.pk), 10), (str(sweater.pk), 5)]
    )


def test_a_shopper_cancelling_a_paid_order_leaves_no_staff_audit_row(shopper, tshirt, received):
    order = _order_in(OrderStatus.PAID, user=shopper, lines=[(tshirt, 1)])

    order_cancel(order_id=order.pk, actor=shopper, by_shopper=True)

    assert Order.objects.get(pk=order.pk).status == "cancelled"
    assert not AuditEntry.objects.filter(action="order.cancelled_paid").exists()


@pytest.mark.parametrize("status", ["fulfilled", "delivered", "cancelled", "expired"])
def test_only_unpaid_or_paid_unshipped_orders_can_be_cancelled(status, shopper, tshirt):
    order = _order_in(status, user=shopper, lines=[(tshirt, 1)])

    with pytest.raises(Conflict) as caught:
        order_cancel(order_id=order.pk, actor=shopper, by_shopper=True)

    assert (caught.value.code, caught.value.extra) == (
        "invalid_transition",
        {"from_status": status, "to_status": "cancelled"},
    )


def test_a_shoppers_reason_is_the_visible_note_and_may_span_lines(shopper, tshirt):
    order = _order_in(OrderStatus.PENDING_PAYMENT, user=shopper, lines=[(tshirt, 1)])

    order_cancel(order_id=order.pk, actor=shopper, reason="Ordered the wrong size.\nWill reorder.", by_shopper=True)

    assert list(order.events.shopper_visible().values_list("type", "note")) == [
        ("placed", ""),
        ("cancelled", "Ordered the wrong size.\nWill reorder."),
    ]


def test_a_cancel_reason_is_length_checked(shopper, tshirt):
    order = _order_in(OrderStatus.PENDING_PAYMENT, user=shopper, lines=[(tshirt, 1)])

    with pytest.raises(InvalidInput) as caught:
        order_cancel(order_id=order.pk, reason="x" * 501)

    assert caught.value.fields == {"reason": ["Ensure this field has no more than 500 characters."]}
    assert Order.objects.get(pk=order.pk).status == "pending_payment"


# --- fulfil and deliver -------------------------------------------------------------------------------------


def test_fulfil_records_carrier_and_tracking_trimmed_and_publishes_them(
    shopper, tshirt, staff, received, frozen, django_capture_on_commit_callbacks
):
    order = _order_in(OrderStatus.PAID, user=shopper, lines=[(tshirt, 1)])

    with django_capture_on_commit_callbacks(execute=True):
        order_fulfil(order_id=order.pk, actor=staff, carrier="  Delhivery ", tracking_number=" DL 1234 ")

    order.refresh_from_db()
    assert (order.status, order.carrier, order.tracking_number, order.fulfilled_at) == (
        "fulfilled",
        "Delhivery",
        "DL 1234",
        NOW,
    )
    assert received == [
        (
            "fulfilled",
            {"order_id": order.pk, "number": order.number, "carrier": "Delhivery", "tracking_number": "DL 1234"},
        )
    ]
    assert order.events.get(type="fulfilled").data == {"carrier": "Delhivery", "tracking_number": "DL 1234"}


@pytest.mark.parametrize(
    ("carrier", "tracking", "fields"),
    [
        ("", "DL1", {"carrier": ["This field is required."]}),
        ("   ", "DL1", {"carrier": ["This field is required."]}),
        ("Delhivery", None, {"tracking_number": ["Must be text."]}),
        ("Delhivery", 12345, {"tracking_number": ["Must be text."]}),
        ("D" * 61, "DL1", {"carrier": ["Ensure this field has no more than 60 characters."]}),
        ("Delhivery", "9" * 81, {"tracking_number": ["Ensure this field has no more than 80 characters."]}),
        ("Delhivery", "DL\x001", {"tracking_number": ["Remove control characters."]}),
        ("Del\u200bhivery", "DL1", {"carrier": ["Remove control characters."]}),
    ],
)
def test_fulfil_refuses_bad_carrier_or_tracking_and_changes_nothing(carrier, tracking, fields, shopper, tshirt):
    order = _order_in(OrderStatus.PAID, user=shopper, lines=[(tshirt, 1)])

    with pytest.raises(InvalidInput) as caught:
        order_fulfil(order_id=order.pk, carrier=carrier, tracking_number=tracking)

    assert caught.value.fields == fields
    order.refresh_from_db()
    assert (order.status, order.carrier, order.tracking_number) == ("paid", "", "")


def test_fulfil_accepts_unicode_carrier_names_at_the_limit(shopper, tshirt):
    order = _order_in(OrderStatus.PAID, user=shopper, lines=[(tshirt, 1)])

    order_fulfil(order_id=order.pk, carrier="डाक सेवा", tracking_number="T" * 80)

    order.refresh_from_db()
    assert (order.carrier, order.tracking_number) == ("डाक सेवा", "T" * 80)


def test_an_unpaid_order_cannot_be_fulfilled(shopper, tshirt):
    order = _order_in(OrderStatus.PENDING_PAYMENT, user=shopper, lines=[(tshirt, 1)])

    with pytest.raises(Conflict) as caught:
        order_fulfil(order_id=order.pk, carrier="Delhivery", tracking_number="DL1")

    assert caught.value.extra == {"from_status": "pending_payment", "to_status": "fulfilled"}
    assert _stock(tshirt) == (10, 1)


def test_deliver_stamps_the_time_and_publishes_delivered(
    shopper, tshirt, received, frozen, django_capture_on_commit_callbacks, mailoutbox
):
    order = _order_in(OrderStatus.FULFILLED, user=shopper, lines=[(tshirt, 1)])

    with django_capture_on_commit_callbacks(execute=True):
        order_deliver(order_id=order.pk)

    order.refresh_from_db()
    assert (order.status, order.delivered_at) == ("delivered", NOW)
    assert received == [("delivered", {"order_id": order.pk, "number": order.number})]
    assert mailoutbox == []  # no message on delivery


# --- refunds ------------------------------------------------------------------------------------------------


def test_refunds_add_up_to_the_total_then_the_order_is_refunded(
    shopper, tshirt, staff, received, django_capture_on_commit_callbacks
):
    order = _order_in(OrderStatus.PAID, user=shopper, lines=[(tshirt, 2)])  # 998.00
    assert order.total == Decimal("998.00")

    with django_capture_on_commit_callbacks(execute=True):
        order_record_refund(order_id=order.pk, amount=Decimal("300.50"), actor=staff, reference="rf_1")
    order.refresh_from_db()
    assert (order.payment_status, order.refunded_amount) == ("partially_refunded", Decimal("300.50"))

    with django_capture_on_commit_callbacks(execute=True):
        order_record_refund(order_id=order.pk, amount=Decimal("697.50"), reference="rf_2")
    order.refresh_from_db()
    assert (order.payment_status, order.refunded_amount, order.status) == ("refunded", Decimal("998.00"), "paid")

    assert received == [
        (
            "refunded",
            {
                "order_id": order.pk,
                "number": order.number,
                "amount": Decimal("300.50"),
                "currency": "INR",
                "refunded_total": Decimal("300.50"),
                "fully_refunded": False,
            },
        ),
        (
            "refunded",
            {
                "order_id": order.pk,
                "number": order.number,
                "amount": Decimal("697.50"),
                "currency": "INR",
                "refunded_total": Decimal("998.00"),
                "fully_refunded": True,
            },
        ),
    ]
    refunds = list(order.events.filter(type="refunded").values_list("from_status", "to_status", "actor", "data"))
    assert refunds == [
        ("paid", "partially_refunded", staff.pk, {"amount": "300.50", "currency": "INR", "reference": "rf_1"}),
        (
            "partially_refunded",
            "refunded",
            None,
            {"amount": "697.50", "currency": "INR", "reference": "rf_2"},
        ),
    ]
    audits = AuditEntry.objects.filter(action="order.refund_recorded").order_by("id")
    assert [(a.actor_id, a.after["refunded_amount"]) for a in audits] == [(staff.pk, "300.50"), (None, "998.00")]

    with pytest.raises(Conflict) as caught:
        order_record_refund(order_id=order.pk, amount=Decimal("0.01"))
    assert (caught.value.code, caught.value.extra) == (
        "invalid_transition",
        {"from_status": "refunded", "to_status": "refunded"},
    )


def test_a_refund_above_what_is_left_is_409_and_changes_nothing(shopper, tshirt):
    order = _order_in(OrderStatus.PAID, user=shopper, lines=[(tshirt, 2)])
    order_record_refund(order_id=order.pk, amount=Decimal("998.00") - Decimal("100.00"))

    with pytest.raises(Conflict) as caught:
        order_record_refund(order_id=order.pk, amount=Decimal("100.01"))

    assert caught.value.as_dict() == {
        "code": "refund_exceeds_paid",
        "detail": f"At most 100.00 INR of order {order.number} can still be refunded.",
        "refundable": {"amount": "100.00", "currency": "INR"},
    }
    order.refresh_from_db()
    assert (order.payment_status, order.refunded_amount) == ("partially_refunded", Decimal("898.00"))


def test_the_same_refund_reference_is_recorded_once(shopper, tshirt, received, django_capture_on_commit_callbacks):
    order = _order_in(OrderStatus.PAID, user=shopper, lines=[(tshirt, 2)])

    with django_capture_on_commit_callbacks(execute=True):
        order_record_refund(order_id=order.pk, amount=Decimal("100.00"), reference="rf_dup")
        order_record_refund(order_id=order.pk, amount=Decimal("100.00"), reference="rf_dup")

    assert Order.objects.get(pk=order.pk).refunded_amount == Decimal("100.00")
    assert [name for name, _ in received] == ["refunded"]


@pytest.mark.parametrize(
    "amount", [Decimal("0"), Decimal("-5.00"), Decimal("1.001"), "abc", 1.5, Decimal("NaN"), Decimal("1e20"), None]
)
def test_a_refund_amount_must_be_a_positive_amount_with_two_places(amount, shopper, tshirt):
    order = _order_in(OrderStatus.PAID, user=shopper, lines=[(tshirt, 1)])

    with pytest.raises(InvalidInput) as caught:
        order_record_refund(order_id=order.pk, amount=amount)

    assert list(caught.value.fields) == ["amount"]
    assert Order.objects.get(pk=order.pk).refunded_amount == Decimal("0.00")


def test_an_unpaid_order_has_nothing_to_refund(shopper, tshirt):
    order = _order_in(OrderStatus.PENDING_PAYMENT, user=shopper, lines=[(tshirt, 1)])

    with pytest.raises(Conflict) as caught:
        order_record_refund(order_id=order.pk, amount=Decimal("1.00"))

    assert caught.value.code == "invalid_transition"
    assert caught.value.extra == {"from_status": "unpaid", "to_status": "refunded"}


def test_a_cancelled_paid_order_can_be_refunded_in_full(shopper, tshirt):
    order = _order_in(OrderStatus.PAID, user=shopper, lines=[(tshirt, 1)])
    order_cancel(order_id=order.pk, by_shopper=True, actor=shopper)

    order_record_refund(order_id=order.pk, amount=Decimal("499.00"), reference="rf_cancel")

    order.refresh_from_db()
    assert (order.status, order.payment_status, order.refunded_amount) == ("cancelled", "refunded", Decimal("499.00"))


# --- flags --------------------------------------------------------------------------------------------------


def test_flag_marks_the_order_for_staff_with_an_event_the_shopper_does_not_see(shopper, tshirt, staff):
    order = _order_in(OrderStatus.PAID, user=shopper, lines=[(tshirt, 1)])

    order_flag(order_id=order.pk, reason=" Chargeback opened. ", actor=staff)
    order_flag(order_id=order.pk, reason="Second dispute.", actor=staff)

    order.refresh_from_db()
    assert (order.needs_attention, order.status) == (True, "paid")
    flags = list(order.events.filter(type="flagged").values_list("note", "actor", "shopper_visible"))
    assert flags == [("Chargeback opened.", staff.pk, False), ("Second dispute.", staff.pk, False)]
    assert list(order.events.shopper_visible().values_list("type", flat=True)) == ["placed"]


@pytest.mark.parametrize("reason", ["", "   ", None, "r" * 501])
def test_flag_needs_a_reason(reason, shopper, tshirt):
    order = _order_in(OrderStatus.PAID, user=shopper, lines=[(tshirt, 1)])

    with pytest.raises(InvalidInput) as caught:
        order_flag(order_id=order.pk, reason=reason)

    assert list(caught.value.fields) == ["reason"]
    assert Order.objects.get(pk=order.pk).needs_attention is False


# --- query budget -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("line_count", [1, 4])
def test_mark_paid_and_cancel_use_a_fixed_number_of_queries_whatever_the_lines(
    line_count, shopper, make_variant, django_assert_num_queries
):
    variants = [make_variant(sku=f"SKU-{index}", price="100.00", stock=10) for index in range(line_count)]
    order = _order_in(OrderStatus.PENDING_PAYMENT, user=shopper, lines=[(variant, 1) for variant in variants])

    with django_assert_num_queries(11):
        order_mark_paid(order_id=order.pk, reference="pay_q")
    second = _order_in(OrderStatus.PENDING_PAYMENT, user=shopper, lines=[(variant, 1) for variant in variants])
    with django_assert_num_queries(11):
        order_cancel(order_id=second.pk, by_shopper=True, actor=shopper)
