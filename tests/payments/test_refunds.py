"""Refunds (payments.services.refunds): the arithmetic, the refusals, partial then full, the provider refusing or
down, the order's figures, the audit row and the full refund of an order.

The demo gateway (no network) where the provider's answer is simply "done"; elsewhere :class:`FakeGateway`
stands in for the registry's adapter, so a test decides what the provider answers and sees what was sent.
"""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from accounts.models import AuditEntry
from commerce.core.errors import DomainError
from commerce.orders.models import Order, OrderEvent, OrderEventType, OrderStatus, PaymentStatus
from payments.gateways.base import ProviderRefused, ProviderUnavailable, RefundResult
from payments.models import Payment, Refund, RefundStatus
from payments.models import PaymentStatus as PayStatus
from payments.services import refunds
from payments.services.refunds import order_refund_in_full, refund_create, refund_settle, refunds_retry_pending
from tests.catalog.factories import ProductVariantFactory
from tests.factories import StaffFactory
from tests.orders.factories import order_build

pytestmark = pytest.mark.django_db


class FakeGateway:
    """A provider whose answer the test sets: ``succeeded``, ``pending``, ``refused`` or ``down``."""

    name = "demo"

    def __init__(self, answer: str = "succeeded") -> None:
        self.answer = answer
        self.sent: list[tuple[int, Decimal, str, str]] = []

    def refund(self, *, payment, refund):
        self.sent.append((payment.pk, refund.amount, refund.currency, refund.idempotency_key))
        if self.answer == "down":
            raise ProviderUnavailable("Connection timed out.")
        if self.answer == "refused":
            raise ProviderRefused("Charge ch_1 has already been refunded.")
        if self.answer == "pending":
            return RefundResult(provider_refund_id=f"rfnd_{refund.pk}", succeeded=False, pending=True)
        return RefundResult(provider_refund_id=f"re_{refund.pk}", succeeded=True)


@pytest.fixture
def fake_gateway(monkeypatch):
    gateway = FakeGateway()
    monkeypatch.setattr(refunds, "gateway_for", lambda provider: gateway)
    return gateway


def paid_order(*, status=OrderStatus.PAID, price="499.00", quantity=2) -> Order:
    variant = ProductVariantFactory(price=Decimal(price), stock_on_hand=10)
    return order_build(lines=[(variant, quantity)], status=status)


def captured_payment(order: Order, *, captured: str | None = None, provider: str = "demo") -> Payment:
    return Payment.objects.create(
        order=order,
        user=order.user,
        provider=provider,
        status=PayStatus.CAPTURED,
        amount=order.total,
        currency=order.currency,
        captured_amount=order.total if captured is None else Decimal(captured),
        provider_order_id=f"demo_{uuid.uuid4().hex}",
        idempotency_key=uuid.uuid4().hex,
    )


def error_of(call) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value


# --- partial, then full, with the demo gateway -----------------------------------------------------------------


def test_a_partial_refund_then_the_rest_refunds_exactly_what_was_captured():
    order = paid_order()
    payment = captured_payment(order)
    assert order.total == Decimal("998.00")

    first = refund_create(payment_id=payment.pk, amount=Decimal("300.00"), reason="One shirt returned")

    assert first.status == RefundStatus.SUCCEEDED
    assert first.provider_refund_id == f"demo_re_{first.idempotency_key}"
    assert (first.amount, first.currency, first.reason, first.provider) == (
        Decimal("300.00"),
        "INR",
        "One shirt returned",
        "demo",
    )
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.refunded_amount == Decimal("300.00")
    assert (order.refunded_amount, order.payment_status) == (Decimal("300.00"), PaymentStatus.PARTIALLY_REFUNDED)

    second = refund_create(payment_id=payment.pk, amount="698.00", reason="  The other one too  ")

    assert second.status == RefundStatus.SUCCEEDED
    assert second.reason == "The other one too"
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.refunded_amount == Decimal("998.00")
    assert (order.refunded_amount, order.payment_status) == (Decimal("998.00"), PaymentStatus.REFUNDED)
    events = OrderEvent.objects.filter(order=order, type=OrderEventType.REFUNDED).order_by("pk")
    assert [(event.data["amount"], event.data["reference"]) for event in events] == [
        ("300.00", first.provider_refund_id),
        ("698.00", second.provider_refund_id),
    ]

    error = error_of(lambda: refund_create(payment_id=payment.pk, amount="0.01", reason="Once more"))
    assert (error.status, error.code) == (409, "refund_exceeds_captured")
    assert error.as_dict()["refundable"] == {"amount": "0.00", "currency": "INR"}
    assert Refund.objects.filter(payment=payment).count() == 2


def test_each_refund_leaves_an_audit_row_with_who_how_much_and_why(fake_gateway):
    staff = StaffFactory(email="finance@example.com")
    payment = captured_payment(paid_order())

    refund = refund_create(payment_id=payment.pk, amount="120.50", reason="Damaged box", actor=staff)

    entry = AuditEntry.objects.get(action="payment.refund_requested")
    assert (entry.actor, entry.actor_label, entry.target_type, entry.target_id) == (
        staff,
        "finance@example.com",
        "payments.refund",
        str(refund.pk),
    )
    assert entry.after == {
        "payment": payment.pk,
        "order": payment.order.number,
        "provider": "demo",
        "amount": "120.50",
        "currency": "INR",
        "reason": "Damaged box",
    }
    assert refund.requested_by == staff
    assert fake_gateway.sent == [(payment.pk, Decimal("120.50"), "INR", refund.idempotency_key)]


# --- refusals --------------------------------------------------------------------------------------------------


def test_pending_refunds_count_against_what_is_left(fake_gateway):
    payment = captured_payment(paid_order())
    fake_gateway.answer = "pending"
    refund_create(payment_id=payment.pk, amount="900.00", reason="Most of it")
    fake_gateway.answer = "succeeded"

    error = error_of(lambda: refund_create(payment_id=payment.pk, amount="98.01", reason="Too much"))

    assert (error.status, error.code) == (409, "refund_exceeds_captured")
    assert error.detail == f"At most 98.00 INR of payment {payment.pk} can still be refunded."
    assert error.as_dict()["refundable"] == {"amount": "98.00", "currency": "INR"}
    assert refund_create(payment_id=payment.pk, amount="98.00", reason="The rest").status == RefundStatus.SUCCEEDED
    assert len(fake_gateway.sent) == 2


def test_only_what_was_captured_can_be_refunded(fake_gateway):
    payment = captured_payment(paid_order(), captured="500.00")

    error = error_of(lambda: refund_create(payment_id=payment.pk, amount="500.01", reason="More than captured"))

    assert error.code == "refund_exceeds_captured"
    assert error.as_dict()["refundable"] == {"amount": "500.00", "currency": "INR"}
    assert fake_gateway.sent == []


def test_a_payment_with_nothing_captured_cannot_be_refunded(fake_gateway):
    order = paid_order(status=OrderStatus.PENDING_PAYMENT)
    payment = Payment.objects.create(
        order=order,
        user=order.user,
        provider="demo",
        amount=order.total,
        currency=order.currency,
        idempotency_key=uuid.uuid4().hex,
    )

    error = error_of(lambda: refund_create(payment_id=payment.pk, amount="1.00", reason="Nothing there"))

    assert (error.status, error.code) == (409, "refund_exceeds_captured")
    assert error.detail == f"Payment {payment.pk} has captured nothing to refund."
    assert Refund.objects.count() == 0


@pytest.mark.parametrize(
    ("amount", "reason", "field"),
    [
        ("0", "Reason", "amount"),
        ("0.00", "Reason", "amount"),
        ("-5.00", "Reason", "amount"),
        ("10.005", "Reason", "amount"),
        (10.5, "Reason", "amount"),
        ("ten", "Reason", "amount"),
        ("NaN", "Reason", "amount"),
        ("Infinity", "Reason", "amount"),
        (None, "Reason", "amount"),
        (True, "Reason", "amount"),
        ("99999999999.00", "Reason", "amount"),
        ("10.00", "", "reason"),
        ("10.00", "   ", "reason"),
        ("10.00", None, "reason"),
        ("10.00", "x" * 301, "reason"),
        ("10.00", "Refund\u202eevil", "reason"),
        ("10.00", "nul\x00byte", "reason"),
    ],
)
def test_bad_amounts_and_reasons_are_400_and_nothing_is_written(fake_gateway, amount, reason, field):
    payment = captured_payment(paid_order())

    error = error_of(lambda: refund_create(payment_id=payment.pk, amount=amount, reason=reason))

    assert error.status == 400
    assert error.code == "invalid"
    assert list(error.fields) == [field]
    assert Refund.objects.count() == 0
    assert fake_gateway.sent == []


def test_a_reason_of_300_characters_is_accepted(fake_gateway):
    payment = captured_payment(paid_order())

    assert refund_create(payment_id=payment.pk, amount="1.00", reason="y" * 300).reason == "y" * 300


@pytest.mark.parametrize("payment_id", [999_999, "1", None, True])
def test_an_unknown_payment_is_404(fake_gateway, payment_id):
    error = error_of(lambda: refund_create(payment_id=payment_id, amount="1.00", reason="Who?"))

    assert (error.status, error.code) == (404, "not_found")


def test_a_provider_no_longer_configured_is_400_and_nothing_is_written(settings):
    payment = captured_payment(paid_order())
    settings.PAYMENTS_DEMO_ENABLED = False

    error = error_of(lambda: refund_create(payment_id=payment.pk, amount="1.00", reason="Demo is off"))

    assert (error.status, error.code) == (400, "provider_unavailable")
    assert Refund.objects.count() == 0


# --- the provider refusing, pending, down -------------------------------------------------------------------------


def test_a_refused_refund_is_recorded_failed_and_its_amount_is_free_again(fake_gateway):
    order = paid_order()
    payment = captured_payment(order)
    fake_gateway.answer = "refused"

    error = error_of(lambda: refund_create(payment_id=payment.pk, amount="998.00", reason="All of it"))

    refund = Refund.objects.get()
    assert (error.status, error.code) == (400, "provider_refused")
    assert error.detail == "demo refused the refund: Charge ch_1 has already been refunded.."
    assert error.as_dict()["refund_id"] == refund.pk
    assert (refund.status, refund.last_error) == (RefundStatus.FAILED, "Charge ch_1 has already been refunded.")
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.refunded_amount == Decimal("0.00")
    assert (order.refunded_amount, order.payment_status) == (Decimal("0.00"), PaymentStatus.PAID)

    fake_gateway.answer = "succeeded"
    again = refund_create(payment_id=payment.pk, amount="998.00", reason="All of it")

    assert again.status == RefundStatus.SUCCEEDED
    assert again.idempotency_key != refund.idempotency_key
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.REFUNDED


def test_a_provider_answer_of_failure_without_an_exception_is_recorded_failed(monkeypatch):
    class Declines(FakeGateway):
        def refund(self, *, payment, refund):
            return RefundResult(provider_refund_id="rfnd_9", succeeded=False, error="Insufficient balance")

    monkeypatch.setattr(refunds, "gateway_for", lambda provider: Declines())
    payment = captured_payment(paid_order())

    error = error_of(lambda: refund_create(payment_id=payment.pk, amount="10.00", reason="Try"))

    assert error.code == "provider_refused"
    refund = Refund.objects.get()
    assert (refund.status, refund.provider_refund_id, refund.last_error) == (
        RefundStatus.FAILED,
        "rfnd_9",
        "Insufficient balance",
    )


def test_a_provider_down_keeps_the_refund_pending_503_and_the_sweep_sends_it_again_with_its_key(fake_gateway):
    order = paid_order()
    payment = captured_payment(order)
    fake_gateway.answer = "down"

    error = error_of(lambda: refund_create(payment_id=payment.pk, amount="400.00", reason="Late delivery"))

    refund = Refund.objects.get()
    assert (error.status, error.code) == (503, "provider_unavailable")
    assert error.as_dict()["refund_id"] == refund.pk
    assert (refund.status, refund.last_error) == (RefundStatus.PENDING, "Provider unavailable: Connection timed out.")
    # Its amount stays reserved: asking again cannot refund it twice.
    again = error_of(lambda: refund_create(payment_id=payment.pk, amount="598.01", reason="Again"))
    assert again.code == "refund_exceeds_captured"

    fake_gateway.answer = "succeeded"
    assert refunds_retry_pending() == 0  # too recent: the first call may still be on its way
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        assert refunds_retry_pending() == 1

    assert [sent[3] for sent in fake_gateway.sent] == [refund.idempotency_key] * 2
    refund.refresh_from_db()
    payment.refresh_from_db()
    order.refresh_from_db()
    assert (refund.status, refund.provider_refund_id, refund.last_error) == (
        RefundStatus.SUCCEEDED,
        f"re_{refund.pk}",
        "",
    )
    assert payment.refunded_amount == Decimal("400.00")
    assert (order.refunded_amount, order.payment_status) == (Decimal("400.00"), PaymentStatus.PARTIALLY_REFUNDED)
    with time_machine.travel(timezone.now() + timedelta(minutes=30)):
        assert refunds_retry_pending() == 0


def test_a_refund_pending_at_the_provider_keeps_its_id_and_is_recorded_once_when_settled(fake_gateway):
    order = paid_order()
    payment = captured_payment(order)
    fake_gateway.answer = "pending"

    refund = refund_create(payment_id=payment.pk, amount="250.00", reason="UPI refund")

    assert (refund.status, refund.provider_refund_id) == (RefundStatus.PENDING, f"rfnd_{refund.pk}")
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        assert refunds_retry_pending() == 0  # accepted by the provider: its event settles it
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.PAID

    for _ in range(2):
        settled = refund_settle(refund_id=refund.pk, outcome="succeeded", provider_refund_id=f"rfnd_{refund.pk}")
        assert settled.status == RefundStatus.SUCCEEDED
    refund_settle(refund_id=refund.pk, outcome="failed", error="too late")  # settled: nothing changes

    refund.refresh_from_db()
    payment.refresh_from_db()
    order.refresh_from_db()
    assert (refund.status, refund.last_error) == (RefundStatus.SUCCEEDED, "")
    assert payment.refunded_amount == Decimal("250.00")
    assert order.refunded_amount == Decimal("250.00")
    assert OrderEvent.objects.filter(order=order, type=OrderEventType.REFUNDED).count() == 1


def test_settling_with_an_id_another_refund_row_holds_counts_the_money_once(fake_gateway):
    payment = captured_payment(paid_order())
    fake_gateway.answer = "down"
    error_of(lambda: refund_create(payment_id=payment.pk, amount="100.00", reason="Ours"))
    ours = Refund.objects.get()
    theirs = Refund.objects.create(
        payment=payment,
        amount=Decimal("100.00"),
        currency="INR",
        reason="Refunded at the provider.",
        status=RefundStatus.SUCCEEDED,
        provider="demo",
        provider_refund_id="re_shared",
        idempotency_key="evt_shared",
    )

    settled = refund_settle(refund_id=ours.pk, outcome="succeeded", provider_refund_id="re_shared")

    assert (settled.status, settled.last_error) == (
        RefundStatus.FAILED,
        f"Recorded by the provider's event as refund {theirs.pk}.",
    )


def test_a_refund_of_a_late_payment_leaves_the_unpaid_order_as_it_is(fake_gateway):
    order = paid_order(status=OrderStatus.EXPIRED)
    payment = captured_payment(order)

    refund = refund_create(payment_id=payment.pk, amount="998.00", reason="Paid after it expired")

    assert refund.status == RefundStatus.SUCCEEDED
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.refunded_amount == Decimal("998.00")
    assert (order.payment_status, order.refunded_amount) == (PaymentStatus.UNPAID, Decimal("0.00"))


def test_a_second_payment_of_a_paid_order_refunded_after_the_first_flags_the_order(fake_gateway):
    order = paid_order()
    first = captured_payment(order)
    second = captured_payment(order)
    refund_create(payment_id=first.pk, amount="500.00", reason="Half returned")

    refund = refund_create(payment_id=second.pk, amount="998.00", reason="Paid twice")

    assert refund.status == RefundStatus.SUCCEEDED
    second.refresh_from_db()
    order.refresh_from_db()
    assert second.refunded_amount == Decimal("998.00")
    assert (order.refunded_amount, order.needs_attention) == (Decimal("500.00"), True)
    flag = OrderEvent.objects.get(order=order, type=OrderEventType.FLAGGED)
    assert flag.note.startswith(f"demo refund re_{refund.pk} could not be recorded on the order:")


# --- the full refund of an order -----------------------------------------------------------------------------


def test_an_order_is_refunded_in_full_across_its_captured_payments_once(fake_gateway):
    order = paid_order()
    first = captured_payment(order, captured="600.00")
    second = captured_payment(order, captured="398.00")
    Payment.objects.create(  # never captured: nothing to give back
        order=order, user=order.user, provider="demo", amount=order.total, currency="INR", idempotency_key="open-1"
    )
    refund_create(payment_id=first.pk, amount="100.00", reason="Earlier partial refund")

    made = order_refund_in_full(order_id=order.pk, reason="Order cancelled")

    assert [(refund.payment_id, refund.amount, refund.status) for refund in made] == [
        (first.pk, Decimal("500.00"), RefundStatus.SUCCEEDED),
        (second.pk, Decimal("398.00"), RefundStatus.SUCCEEDED),
    ]
    order.refresh_from_db()
    assert (order.refunded_amount, order.payment_status) == (Decimal("998.00"), PaymentStatus.REFUNDED)
    assert order_refund_in_full(order_id=order.pk, reason="Order cancelled") == []
    assert len(fake_gateway.sent) == 3


def test_a_full_refund_refused_by_the_provider_flags_the_order_and_goes_on(fake_gateway):
    order = paid_order()
    payment = captured_payment(order)
    fake_gateway.answer = "refused"

    made = order_refund_in_full(order_id=order.pk, reason="Order cancelled")

    assert [(refund.payment_id, refund.status) for refund in made] == [(payment.pk, RefundStatus.FAILED)]
    order.refresh_from_db()
    assert order.needs_attention is True
    flag = OrderEvent.objects.get(order=order, type=OrderEventType.FLAGGED)
    assert flag.note == (
        f"The refund of 998.00 INR (refund {made[0].pk}) was refused: Charge ch_1 has already been refunded."
    )


def test_a_full_refund_with_the_provider_down_leaves_it_pending_for_the_sweep(fake_gateway):
    order = paid_order()
    captured_payment(order)
    fake_gateway.answer = "down"

    made = order_refund_in_full(order_id=order.pk, reason="Order cancelled")

    assert [refund.status for refund in made] == [RefundStatus.PENDING]
    assert order_refund_in_full(order_id=order.pk, reason="Order cancelled") == []  # reserved, not asked twice
    fake_gateway.answer = "succeeded"
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        assert refunds_retry_pending() == 1
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.REFUNDED


def test_a_full_refund_of_an_unknown_order_is_404_and_needs_a_reason(fake_gateway):
    assert error_of(lambda: order_refund_in_full(order_id=987_654, reason="Gone")).status == 404
    order = paid_order()
    assert error_of(lambda: order_refund_in_full(order_id=order.pk, reason=" ")).fields == {
        "reason": ["This field is required."]
    }


def test_an_unexpected_adapter_error_leaves_the_refund_pending_as_a_503(monkeypatch):
    class Broken(FakeGateway):
        def refund(self, *, payment, refund):
            raise KeyError("amount_refunded")

    monkeypatch.setattr(refunds, "gateway_for", lambda provider: Broken())
    payment = captured_payment(paid_order())

    error = error_of(lambda: refund_create(payment_id=payment.pk, amount="10.00", reason="Try"))

    assert (error.status, error.code) == (503, "provider_unavailable")
    refund = Refund.objects.get()
    assert (refund.status, refund.last_error) == (
        RefundStatus.PENDING,
        "Provider unavailable: KeyError: 'amount_refunded'",
    )
