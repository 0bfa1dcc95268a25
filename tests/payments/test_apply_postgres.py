"""Applying events under real parallel transactions (PostgreSQL): one capture applied by many workers at once
captures once; a capture racing a start of the same order neither deadlocks nor pays twice (both lock the order
first, then the payment); a refund racing its own capture converges once retried.

Workers are threads with their own connections, released together by
:func:`tests.orders.test_concurrency.run_together` (with a ``lock_timeout``: a deadlock or an endless wait fails
the test). Rows are committed for real (``transaction=True``).
"""

from decimal import Decimal

import pytest

from accounts.models import AuditEntry
from commerce.orders.models import Order, OrderEvent, OrderEventType, OrderStatus
from commerce.orders.models import PaymentStatus as OrderPaymentStatus
from payments.gateways.base import EventKind, NormalizedEvent
from payments.models import Payment, PaymentStatus
from payments.services.apply import payment_events_apply
from payments.services.payments import payment_start
from tests.orders.test_concurrency import error_codes, run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def capture(payment, event_id: str) -> NormalizedEvent:
    return NormalizedEvent(
        kind=EventKind.PAYMENT_CAPTURED,
        event_id=event_id,
        raw_type="payment.succeeded",
        provider_order_id=payment.provider_order_id,
        provider_payment_id="pay_1",
        amount=payment.amount,
        currency=payment.currency,
    )


def refund(payment) -> NormalizedEvent:
    return NormalizedEvent(
        kind=EventKind.REFUND_SUCCEEDED,
        event_id="evt_refund",
        raw_type="refund.succeeded",
        provider_order_id=payment.provider_order_id,
        provider_refund_id="re_1",
        amount=Decimal("100.00"),
        currency=payment.currency,
    )


def test_six_workers_applying_one_capture_at_once_capture_once(pending_order, make_payment, tshirt):
    payment = make_payment(pending_order)

    def apply(n: int):
        return lambda: payment_events_apply(provider="demo", events=[capture(payment, f"evt_{n}")])

    results = run_together([apply(n) for n in range(6)])

    assert error_codes(results) == {"ok": 6}
    payment.refresh_from_db()
    pending_order.refresh_from_db()
    tshirt.refresh_from_db()
    assert (payment.status, payment.captured_amount) == (PaymentStatus.CAPTURED, Decimal("998.00"))
    assert pending_order.status == OrderStatus.PAID
    assert OrderEvent.objects.filter(order=pending_order, type=OrderEventType.PAID).count() == 1
    assert AuditEntry.objects.filter(action="payment.captured").count() == 1
    assert (tshirt.stock_on_hand, tshirt.stock_allocated) == (8, 0)


def test_a_capture_racing_starts_of_the_same_order_neither_deadlocks_nor_pays_twice(
    shopper, pending_order, make_payment
):
    payment = make_payment(pending_order, provider_order_id="")
    payment_start(user=shopper, order_number=pending_order.number, provider="demo")  # the provider's id stored
    payment.refresh_from_db()

    workers = [lambda: payment_events_apply(provider="demo", events=[capture(payment, "evt_1")])]
    workers += [lambda: payment_start(user=shopper, order_number=pending_order.number, provider="demo")] * 3
    results = run_together(workers)

    codes = error_codes(results)
    assert "error" not in results[0]
    assert codes["ok"] + codes["invalid_transition"] == 4
    assert set(codes) <= {"ok", "invalid_transition"}
    assert Payment.objects.filter(order=pending_order).count() == 1
    assert Order.objects.get(pk=pending_order.pk).status == OrderStatus.PAID


def test_a_refund_racing_its_capture_converges_once_retried(pending_order, make_payment):
    payment = make_payment(pending_order)

    results = run_together(
        [
            lambda: payment_events_apply(provider="demo", events=[capture(payment, "evt_capture")]),
            lambda: payment_events_apply(provider="demo", events=[refund(payment)]),
        ]
    )

    codes = error_codes(results)
    assert set(codes) <= {"ok", "event_not_ready"}
    if codes["event_not_ready"]:  # the refund went first: the webhook processor retries it
        payment_events_apply(provider="demo", events=[refund(payment)])
    payment.refresh_from_db()
    order = Order.objects.get(pk=pending_order.pk)
    assert (payment.captured_amount, payment.refunded_amount) == (Decimal("998.00"), Decimal("100.00"))
    assert order.payment_status == OrderPaymentStatus.PARTIALLY_REFUNDED
    assert order.refunded_amount == Decimal("100.00")
