"""Reconciliation: open payments left too long are fetched from their gateway (a fake here) and applied."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from commerce.orders.models import OrderStatus
from payments import tasks
from payments.gateways import registry
from payments.gateways.base import EventKind, NormalizedEvent, ProviderUnavailable
from payments.models import Payment, PaymentStatus
from payments.services.reconcile import payments_reconcile
from tests.orders.factories import order_build

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


class FakeGateway:
    """Says what ``answers[provider_order_id]`` holds: a list of events, or an exception to raise."""

    name = "demo"

    def __init__(self, answers):
        self.answers = answers
        self.fetched: list[str] = []

    def fetch(self, *, payment):
        self.fetched.append(payment.provider_order_id)
        answer = self.answers.get(payment.provider_order_id, [])
        if isinstance(answer, Exception):
            raise answer
        return answer


def captured(payment) -> list[NormalizedEvent]:
    return [
        NormalizedEvent(
            kind=EventKind.PAYMENT_CAPTURED,
            event_id=f"fetch_{payment.provider_order_id}",
            raw_type="fetch",
            provider_order_id=payment.provider_order_id,
            provider_payment_id=f"pay_{payment.pk}",
            amount=payment.amount,
            currency=payment.currency,
        )
    ]


def made_at(payment, when):
    Payment.objects.filter(pk=payment.pk).update(created_at=when, updated_at=when)
    payment.refresh_from_db()
    return payment


@pytest.fixture
def fake(monkeypatch):
    gateway = FakeGateway({})
    monkeypatch.setattr(registry, "gateway_for", lambda provider: gateway)
    return gateway


def test_a_payment_left_pending_is_fetched_and_its_capture_applied(pending_order, make_payment, fake):
    payment = made_at(make_payment(pending_order), NOW - timedelta(minutes=20))
    fake.answers[payment.provider_order_id] = captured(payment)

    with time_machine.travel(NOW, tick=False):
        result = payments_reconcile(older_than_minutes=15)

    payment.refresh_from_db()
    pending_order.refresh_from_db()
    assert result.as_dict() == {
        "checked": 1,
        "changed": 1,
        "unchanged": 0,
        "not_ready": 0,
        "unavailable": 0,
        "errors": 0,
    }
    assert (payment.status, payment.captured_amount) == (PaymentStatus.CAPTURED, Decimal("998.00"))
    assert pending_order.status == OrderStatus.PAID


def test_recent_finished_and_very_old_payments_are_left_alone(pending_order, make_payment, fake, tshirt):
    made_at(make_payment(pending_order), NOW - timedelta(minutes=10))  # too recent
    made_at(make_payment(order_build(lines=[(tshirt, 1)]), status=PaymentStatus.FAILED), NOW - timedelta(hours=1))
    made_at(make_payment(order_build(lines=[(tshirt, 1)])), NOW - timedelta(days=4))  # abandoned long ago
    made_at(make_payment(order_build(lines=[(tshirt, 1)]), provider_order_id=""), NOW - timedelta(hours=1))

    with time_machine.travel(NOW, tick=False):
        result = payments_reconcile(older_than_minutes=15)

    assert result.checked == 0
    assert fake.fetched == []


def test_a_provider_down_is_counted_and_the_payment_goes_to_the_back_of_the_line(
    pending_order, make_payment, fake, tshirt
):
    down = made_at(make_payment(pending_order), NOW - timedelta(hours=2))
    quiet = made_at(make_payment(order_build(lines=[(tshirt, 1)])), NOW - timedelta(hours=1))
    fake.answers[down.provider_order_id] = ProviderUnavailable("Stripe could not be reached.")

    with time_machine.travel(NOW, tick=False):
        first = payments_reconcile(older_than_minutes=15, limit=1)
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        second = payments_reconcile(older_than_minutes=15, limit=1)

    down.refresh_from_db()
    assert (first.checked, first.unavailable, first.unchanged) == (1, 1, 1)
    assert (second.checked, second.unavailable, second.unchanged) == (1, 0, 1)
    assert fake.fetched == [down.provider_order_id, quiet.provider_order_id]
    assert (down.status, down.updated_at) == (PaymentStatus.CREATED, NOW)


def test_an_unexpected_error_is_counted_and_the_others_still_run(pending_order, make_payment, fake, tshirt):
    broken = made_at(make_payment(pending_order), NOW - timedelta(hours=2))
    fine = made_at(make_payment(order_build(lines=[(tshirt, 1)])), NOW - timedelta(hours=1))
    fake.answers[broken.provider_order_id] = RuntimeError("unexpected answer")
    fake.answers[fine.provider_order_id] = captured(fine)

    with time_machine.travel(NOW, tick=False):
        result = payments_reconcile()

    fine.refresh_from_db()
    assert (result.checked, result.errors, result.changed) == (2, 1, 1)
    assert fine.status == PaymentStatus.CAPTURED


def test_the_periodic_task_sweeps_the_inbox_then_reconciles(pending_order, make_payment, fake, monkeypatch):
    made_at(make_payment(pending_order), NOW - timedelta(hours=1))
    monkeypatch.setattr(tasks.webhooks, "webhooks_requeue_stale", lambda: 3)

    with time_machine.travel(NOW, tick=False):
        result = tasks.reconcile_payments.apply().get()

    assert result == {
        "webhooks_requeued": 3,
        "checked": 1,
        "changed": 0,
        "unchanged": 1,
        "not_ready": 0,
        "unavailable": 0,
        "errors": 0,
    }


def test_the_beat_schedule_runs_reconciliation_every_five_minutes(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["payments-reconcile"]
    assert entry == {"task": "payments.tasks.reconcile_payments", "schedule": 300.0, "options": {"expires": 300}}
