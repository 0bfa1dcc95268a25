"""Refunds racing on PostgreSQL: concurrent requests never refund more than was captured, even while the earlier
ones are still at the provider (pending refunds count as spent), and a full refund run twice at once refunds once.

Workers are threads with their own connections, released together (:func:`tests.orders.test_concurrency.
run_together`, which sets a ``lock_timeout`` so a deadlock fails instead of hanging). Rows are committed for real.
"""

import threading
import time
from decimal import Decimal

import pytest

from commerce.orders.models import PaymentStatus
from payments.gateways.base import RefundResult
from payments.models import Refund, RefundStatus
from payments.services import refunds
from payments.services.refunds import order_refund_in_full, refund_create
from tests.orders.test_concurrency import error_codes, run_together

from .test_refunds import captured_payment, paid_order

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


class SlowGateway:
    """Answers after a pause, so every request overlaps the provider calls of the others."""

    name = "demo"

    def __init__(self) -> None:
        self.sent: list[tuple[Decimal, str]] = []
        self._lock = threading.Lock()

    def refund(self, *, payment, refund):
        with self._lock:
            self.sent.append((refund.amount, refund.idempotency_key))
        time.sleep(0.2)
        return RefundResult(provider_refund_id=f"re_{refund.idempotency_key}", succeeded=True)


@pytest.fixture
def slow_gateway(monkeypatch):
    gateway = SlowGateway()
    monkeypatch.setattr(refunds, "gateway_for", lambda provider: gateway)
    return gateway


def test_eight_concurrent_refunds_never_exceed_the_capture(slow_gateway):
    order = paid_order()  # 998.00
    payment = captured_payment(order)

    def ask():
        return refund_create(payment_id=payment.pk, amount=Decimal("200.00"), reason="Racing refund")

    results = run_together([ask] * 8)

    assert error_codes(results) == {"ok": 4, "refund_exceeds_captured": 4}
    assert len(slow_gateway.sent) == 4
    assert len({key for _, key in slow_gateway.sent}) == 4
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.refunded_amount == Decimal("800.00")
    assert Refund.objects.filter(status=RefundStatus.SUCCEEDED).count() == 4
    assert (order.refunded_amount, order.payment_status) == (Decimal("800.00"), PaymentStatus.PARTIALLY_REFUNDED)
    refusals = [result["error"] for result in results if "error" in result]
    assert {error.as_dict()["refundable"]["amount"] for error in refusals} == {"198.00"}


def test_concurrent_full_refunds_and_a_partial_one_refund_the_capture_once(slow_gateway):
    order = paid_order()
    payment = captured_payment(order)

    results = run_together(
        [lambda: order_refund_in_full(order_id=order.pk, reason="Cancelled")] * 3
        + [lambda: refund_create(payment_id=payment.pk, amount=Decimal("998.00"), reason="Staff refund")]
    )

    codes = error_codes(results)
    assert sum(codes.values()) == 4
    assert set(codes) <= {"ok", "refund_exceeds_captured"}
    assert Refund.objects.count() == 1
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.refunded_amount == Decimal("998.00")
    assert (order.refunded_amount, order.payment_status) == (Decimal("998.00"), PaymentStatus.REFUNDED)
