"""``payment_events_apply``: every kind of normalised event, duplicates and reordering converging, amount and
currency mismatches flagged and never paid, late and double payments, refunds before their capture."""

from decimal import Decimal

import pytest
from django.db import transaction

from accounts.models import AuditEntry
from commerce.orders.models import OrderEvent, OrderEventType, OrderStatus
from commerce.orders.models import PaymentStatus as OrderPaymentStatus
from payments.gateways.base import EventKind, NormalizedEvent
from payments.models import PaymentStatus, Refund, RefundStatus
from payments.services.apply import EventNotReady, payment_events_apply
from tests.orders.factories import order_build

pytestmark = pytest.mark.django_db


def event(payment, kind, *, event_id="evt_1", amount="998.00", currency="INR", **fields) -> NormalizedEvent:
    return NormalizedEvent(
        kind=kind,
        event_id=event_id,
        raw_type=str(kind),
        provider_order_id=fields.pop("provider_order_id", payment.provider_order_id),
        amount=None if amount is None else Decimal(amount),
        currency=currency,
        **fields,
    )


def captured(payment, **fields) -> NormalizedEvent:
    fields.setdefault("provider_payment_id", "pay_1")
    return event(payment, EventKind.PAYMENT_CAPTURED, **fields)


def refunded(payment, *, refund_id="re_1", amount="998.00", **fields) -> NormalizedEvent:
    return event(payment, EventKind.REFUND_SUCCEEDED, provider_refund_id=refund_id, amount=amount, **fields)


def apply(payment, *events) -> None:
    payment_events_apply(provider=payment.provider, events=list(events))


def flags(order) -> list[str]:
    return list(OrderEvent.objects.filter(order=order, type=OrderEventType.FLAGGED).values_list("note", flat=True))


@pytest.fixture
def payment(pending_order, make_payment):
    return make_payment(pending_order, provider="demo")


# --- captures ---------------------------------------------------------------------------------------------


def test_a_capture_of_the_orders_amount_marks_the_payment_captured_and_the_order_paid(payment, pending_order, tshirt):
    apply(payment, captured(payment, method="upi", vpa_handle="okhdfc"))

    payment.refresh_from_db()
    pending_order.refresh_from_db()
    tshirt.refresh_from_db()
    assert payment.status == PaymentStatus.CAPTURED
    assert payment.captured_amount == Decimal("998.00")
    assert payment.provider_payment_id == "pay_1"
    assert (payment.method, payment.vpa_handle) == ("upi", "okhdfc")
    assert pending_order.status == OrderStatus.PAID
    assert pending_order.payment_status == OrderPaymentStatus.PAID
    assert (tshirt.stock_on_hand, tshirt.stock_allocated) == (8, 0)
    paid = OrderEvent.objects.get(order=pending_order, type=OrderEventType.PAID)
    assert paid.data == {"reference": "pay_1"}
    audit = AuditEntry.objects.get(action="payment.captured")
    assert audit.target_id == str(payment.pk)
    assert audit.actor_label == "demo (provider event)"
    assert audit.before == {"status": "created", "captured_amount": "0.00"}
    assert audit.after == {
        "status": "captured",
        "captured_amount": "998.00",
        "currency": "INR",
        "reference": "pay_1",
        "event_id": "evt_1",
    }


def test_one_capture_delivered_five_times_captures_once(payment, pending_order, tshirt):
    for n in range(5):
        apply(payment, captured(payment, event_id=f"evt_{n}"))

    payment.refresh_from_db()
    tshirt.refresh_from_db()
    assert payment.captured_amount == Decimal("998.00")
    assert OrderEvent.objects.filter(order=pending_order, type=OrderEventType.PAID).count() == 1
    assert AuditEntry.objects.filter(action="payment.captured").count() == 1
    assert (tshirt.stock_on_hand, tshirt.stock_allocated) == (8, 0)


def test_an_unknown_method_is_recorded_as_other(payment):
    apply(payment, captured(payment, method="crypto"))

    payment.refresh_from_db()
    assert payment.method == "other"


@pytest.mark.parametrize(
    "order_of_events",
    [
        ("authorized", "captured"),
        ("captured", "authorized"),
        ("failed", "captured"),
        ("captured", "failed"),
        ("captured", "cancelled"),
        ("authorized", "failed", "captured", "authorized", "failed"),
    ],
)
def test_authorisations_failures_and_cancellations_never_undo_a_capture(payment, pending_order, order_of_events):
    kinds = {
        "authorized": EventKind.PAYMENT_AUTHORIZED,
        "failed": EventKind.PAYMENT_FAILED,
        "cancelled": EventKind.PAYMENT_CANCELLED,
    }
    for n, name in enumerate(order_of_events):
        if name == "captured":
            apply(payment, captured(payment, event_id=f"evt_{n}"))
        else:
            apply(payment, event(payment, kinds[name], event_id=f"evt_{n}", provider_payment_id="pay_1"))

    payment.refresh_from_db()
    pending_order.refresh_from_db()
    assert payment.status == PaymentStatus.CAPTURED
    assert payment.captured_amount == Decimal("998.00")
    assert pending_order.status == OrderStatus.PAID


def test_an_authorisation_records_the_method_and_the_provider_payment(payment, pending_order):
    apply(payment, event(payment, EventKind.PAYMENT_AUTHORIZED, provider_payment_id="pay_9", method="card"))

    payment.refresh_from_db()
    pending_order.refresh_from_db()
    assert payment.status == PaymentStatus.AUTHORIZED
    assert (payment.provider_payment_id, payment.method) == ("pay_9", "card")
    assert payment.captured_amount == Decimal("0.00")
    assert pending_order.status == OrderStatus.PENDING_PAYMENT


def test_a_failure_fails_an_open_payment_with_the_providers_reason(payment, pending_order):
    apply(payment, event(payment, EventKind.PAYMENT_FAILED, error="Card declined.", provider_payment_id="pay_2"))

    payment.refresh_from_db()
    pending_order.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
    assert payment.last_error == "Card declined."
    assert payment.provider_payment_id == "pay_2"
    assert pending_order.status == OrderStatus.PENDING_PAYMENT


def test_a_retry_that_succeeds_after_a_failed_attempt_records_the_successful_provider_payment(payment, pending_order):
    apply(payment, event(payment, EventKind.PAYMENT_FAILED, provider_payment_id="pay_failed"))
    apply(payment, captured(payment, provider_payment_id="pay_ok", event_id="evt_2"))

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CAPTURED
    assert payment.provider_payment_id == "pay_ok"


def test_a_cancellation_cancels_an_open_payment(payment):
    apply(payment, event(payment, EventKind.PAYMENT_CANCELLED, amount=None))

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED


def test_events_are_found_by_the_provider_payment_id_too(payment, pending_order):
    payment.provider_payment_id = "pay_known"
    payment.save(update_fields=["provider_payment_id"])

    apply(payment, captured(payment, provider_order_id="", provider_payment_id="pay_known"))

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CAPTURED


def test_an_event_of_no_payment_of_ours_and_ignored_events_change_nothing(payment, pending_order):
    apply(
        payment,
        captured(payment, provider_order_id="someone_elses", provider_payment_id="pay_x"),
        event(payment, EventKind.IGNORED, amount=None),
    )

    payment.refresh_from_db()
    pending_order.refresh_from_db()
    assert payment.status == PaymentStatus.CREATED
    assert pending_order.status == OrderStatus.PENDING_PAYMENT


# --- mismatches, late and double payments ------------------------------------------------------------------


def test_a_capture_of_less_than_the_order_flags_it_once_and_never_marks_it_paid(payment, pending_order):
    apply(payment, captured(payment, amount="500.00"))
    apply(payment, captured(payment, amount="500.00", event_id="evt_2"))

    payment.refresh_from_db()
    pending_order.refresh_from_db()
    assert pending_order.status == OrderStatus.PENDING_PAYMENT
    assert pending_order.payment_status == OrderPaymentStatus.UNPAID
    assert pending_order.needs_attention is True
    assert payment.status == PaymentStatus.CAPTURED
    assert payment.captured_amount == Decimal("500.00")
    message = (
        f"demo payment pay_1 captured 500.00 INR but order {pending_order.number} is 998.00 INR: not marked paid, "
        "check and refund."
    )
    assert payment.last_error == message
    assert flags(pending_order) == [message]


def test_a_capture_in_another_currency_flags_the_order_and_records_no_money(payment, pending_order):
    apply(payment, captured(payment, currency="USD"))

    payment.refresh_from_db()
    pending_order.refresh_from_db()
    assert pending_order.status == OrderStatus.PENDING_PAYMENT
    assert pending_order.needs_attention is True
    assert payment.captured_amount == Decimal("0.00")
    assert payment.status == PaymentStatus.CREATED
    assert len(flags(pending_order)) == 1


def test_a_capture_of_more_than_the_order_is_flagged_and_not_paid(payment, pending_order):
    apply(payment, captured(payment, amount="1998.00"))

    payment.refresh_from_db()
    pending_order.refresh_from_db()
    assert pending_order.status == OrderStatus.PENDING_PAYMENT
    assert payment.captured_amount == Decimal("0.00")
    assert flags(pending_order)[0].startswith("demo payment pay_1 captured 1998.00 INR but order")


def test_the_currency_is_compared_without_case(payment, pending_order):
    apply(payment, captured(payment, currency="inr"))

    pending_order.refresh_from_db()
    assert pending_order.status == OrderStatus.PAID


@pytest.mark.parametrize("status", [OrderStatus.EXPIRED, OrderStatus.CANCELLED])
def test_a_late_payment_is_captured_leaves_the_order_flagged_and_is_refunded_in_full(
    shopper, tshirt, make_payment, django_capture_on_commit_callbacks, eager_celery, status
):
    order = order_build(user=shopper, lines=[(tshirt, 1)], status=status)
    payment = make_payment(order, provider="demo")

    with django_capture_on_commit_callbacks(execute=True):
        apply(payment, captured(payment, amount="499.00"))

    payment.refresh_from_db()
    order.refresh_from_db()
    assert order.status == status
    assert order.payment_status == OrderPaymentStatus.UNPAID
    assert order.needs_attention is True
    flag = OrderEvent.objects.get(order=order, type=OrderEventType.FLAGGED)
    assert flag.data == {"reference": "pay_1", "late_payment": True, "status": status}
    assert payment.status == PaymentStatus.CAPTURED
    assert payment.captured_amount == Decimal("499.00")
    assert payment.last_error == f"Late payment: order {order.number} was {status}; refunded."
    # The queued full refund ran (Celery eager): the demo gateway refunds at once.
    refund = Refund.objects.get(payment=payment)
    assert (refund.amount, refund.status) == (Decimal("499.00"), RefundStatus.SUCCEEDED)
    assert payment.refunded_amount == Decimal("499.00")


def test_a_late_payment_applied_twice_queues_one_refund(
    shopper, tshirt, make_payment, django_capture_on_commit_callbacks
):
    order = order_build(user=shopper, lines=[(tshirt, 1)], status=OrderStatus.EXPIRED)
    payment = make_payment(order, provider="demo")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        apply(payment, captured(payment, amount="499.00"))
        apply(payment, captured(payment, amount="499.00", event_id="evt_2"))

    assert len(callbacks) == 1
    assert OrderEvent.objects.filter(order=order, type=OrderEventType.FLAGGED).count() == 1


def test_a_second_payment_captured_for_a_paid_order_is_flagged(payment, pending_order, make_payment):
    apply(payment, captured(payment))
    second = make_payment(pending_order, provider="demo")

    apply(second, captured(second, provider_payment_id="pay_2", event_id="evt_2"))

    second.refresh_from_db()
    pending_order.refresh_from_db()
    assert second.status == PaymentStatus.CAPTURED
    assert pending_order.status == OrderStatus.PAID
    assert OrderEvent.objects.filter(order=pending_order, type=OrderEventType.PAID).count() == 1
    assert flags(pending_order) == ["A second payment (demo pay_2) captured for an order already paid: refund it."]


# --- refunds and disputes -------------------------------------------------------------------------------------


def test_a_refund_made_at_the_provider_is_recorded_on_the_payment_and_the_order(payment, pending_order):
    apply(payment, captured(payment))

    apply(payment, refunded(payment, amount="300.00", event_id="evt_r1"))

    payment.refresh_from_db()
    pending_order.refresh_from_db()
    refund = Refund.objects.get()
    assert (refund.amount, refund.status, refund.provider_refund_id) == (
        Decimal("300.00"),
        RefundStatus.SUCCEEDED,
        "re_1",
    )
    assert refund.reason == "Refunded at the provider."
    assert payment.refunded_amount == Decimal("300.00")
    assert pending_order.payment_status == OrderPaymentStatus.PARTIALLY_REFUNDED
    assert pending_order.refunded_amount == Decimal("300.00")
    audit = AuditEntry.objects.get(action="payment.refunded")
    assert audit.after["refunded_amount"] == "300.00"
    assert audit.after["reference"] == "re_1"


def test_a_refund_event_delivered_twice_refunds_once(payment, pending_order):
    apply(payment, captured(payment))

    apply(payment, refunded(payment, event_id="evt_r1"))
    apply(payment, refunded(payment, event_id="evt_r2"))

    payment.refresh_from_db()
    pending_order.refresh_from_db()
    assert Refund.objects.count() == 1
    assert payment.refunded_amount == Decimal("998.00")
    assert pending_order.payment_status == OrderPaymentStatus.REFUNDED
    assert OrderEvent.objects.filter(order=pending_order, type=OrderEventType.REFUNDED).count() == 1
    assert AuditEntry.objects.filter(action="payment.refunded").count() == 1


def test_a_refund_seen_before_its_capture_is_not_ready_and_converges_once_the_capture_is_in(payment, pending_order):
    with pytest.raises(EventNotReady) as raised:
        apply(payment, refunded(payment))

    assert raised.value.code == "event_not_ready"
    assert Refund.objects.count() == 0

    apply(payment, captured(payment))
    apply(payment, refunded(payment))

    payment.refresh_from_db()
    pending_order.refresh_from_db()
    assert payment.captured_amount == payment.refunded_amount == Decimal("998.00")
    assert pending_order.payment_status == OrderPaymentStatus.REFUNDED


def test_a_list_of_events_applies_all_or_nothing(payment, pending_order):
    with pytest.raises(EventNotReady), transaction.atomic():
        apply(payment, event(payment, EventKind.PAYMENT_AUTHORIZED, provider_payment_id="pay_1"), refunded(payment))

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CREATED


def test_a_refund_larger_than_what_is_captured_waits(payment):
    apply(payment, captured(payment, amount="500.00"))

    with pytest.raises(EventNotReady):
        apply(payment, refunded(payment, amount="600.00"))

    assert Refund.objects.count() == 0


def test_a_refund_event_settles_our_pending_refund_waiting_for_its_id(payment, pending_order):
    apply(payment, captured(payment))
    ours = Refund.objects.create(
        payment=payment,
        amount=Decimal("100.00"),
        currency="INR",
        reason="Damaged",
        provider="demo",
        idempotency_key="rf-1",
    )

    apply(payment, refunded(payment, amount="100.00", refund_id="re_ours"))

    ours.refresh_from_db()
    payment.refresh_from_db()
    assert Refund.objects.count() == 1
    assert (ours.status, ours.provider_refund_id) == (RefundStatus.SUCCEEDED, "re_ours")
    assert payment.refunded_amount == Decimal("100.00")


def test_a_refund_event_for_a_refund_we_know_by_id(payment, pending_order):
    apply(payment, captured(payment))
    ours = Refund.objects.create(
        payment=payment,
        amount=Decimal("100.00"),
        currency="INR",
        reason="Damaged",
        provider="demo",
        idempotency_key="rf-1",
        provider_refund_id="re_known",
    )

    apply(payment, refunded(payment, amount="100.00", refund_id="re_known"))

    ours.refresh_from_db()
    pending_order.refresh_from_db()
    assert ours.status == RefundStatus.SUCCEEDED
    assert pending_order.refunded_amount == Decimal("100.00")


def test_a_failed_refund_event_fails_the_pending_refund(payment):
    apply(payment, captured(payment))
    ours = Refund.objects.create(
        payment=payment,
        amount=Decimal("100.00"),
        currency="INR",
        reason="Damaged",
        provider="demo",
        idempotency_key="rf-1",
        provider_refund_id="re_bad",
    )

    apply(
        payment,
        event(payment, EventKind.REFUND_FAILED, provider_refund_id="re_bad", amount="100.00", error="Account closed."),
    )

    ours.refresh_from_db()
    payment.refresh_from_db()
    assert (ours.status, ours.last_error) == (RefundStatus.FAILED, "Account closed.")
    assert payment.refunded_amount == Decimal("0.00")


def test_a_refund_failing_after_it_succeeded_is_flagged(payment, pending_order):
    apply(payment, captured(payment))
    apply(payment, refunded(payment, amount="100.00", refund_id="re_1"))

    apply(payment, event(payment, EventKind.REFUND_FAILED, provider_refund_id="re_1", amount="100.00"))

    payment.refresh_from_db()
    assert payment.refunded_amount == Decimal("100.00")
    assert flags(pending_order) == ["demo reports refund re_1 failed after it succeeded: check it."]


def test_a_refund_of_a_late_payment_is_kept_on_the_payment_only(shopper, tshirt, make_payment):
    order = order_build(user=shopper, lines=[(tshirt, 1)], status=OrderStatus.EXPIRED)
    payment = make_payment(order, provider="demo")
    apply(payment, captured(payment, amount="499.00"))  # the queued refund runs only on commit: not here

    apply(payment, refunded(payment, amount="499.00"))

    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.refunded_amount == Decimal("499.00")
    assert order.payment_status == OrderPaymentStatus.UNPAID
    assert order.refunded_amount == Decimal("0.00")


def test_a_dispute_flags_the_order(payment, pending_order):
    apply(payment, captured(payment))

    apply(payment, event(payment, EventKind.DISPUTE_OPENED, error="fraudulent", amount="998.00"))

    pending_order.refresh_from_db()
    assert pending_order.needs_attention is True
    assert flags(pending_order) == ["demo dispute opened on payment pay_1: fraudulent."]
