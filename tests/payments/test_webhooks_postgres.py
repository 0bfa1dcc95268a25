"""The webhook inbox under real parallel transactions (PostgreSQL): identical deliveries at once store one row and
apply once. Workers are threads with their own connections released together by
:func:`tests.orders.test_concurrency.run_together` (with a ``lock_timeout``, so a deadlock fails instead of hanging).
"""

from decimal import Decimal

import pytest

from commerce.orders.models import OrderEvent, OrderEventType, OrderStatus
from payments import tasks
from payments.models import PaymentStatus, WebhookEvent, WebhookStatus
from payments.services.webhooks import webhook_process, webhook_receive
from tests.orders.test_concurrency import error_codes, run_together
from tests.payments.test_webhooks import demo_delivery

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def published(monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(tasks.process_webhook, "apply_async", lambda args, **kw: calls.append(args[0]))
    return calls


def test_two_identical_deliveries_processed_at_once_apply_once(pending_order, make_payment, published):
    payment = make_payment(pending_order)
    body, headers = demo_delivery(payment)

    received = run_together([lambda: webhook_receive(provider="demo", body=body, headers=headers)] * 2)
    assert error_codes(received) == {"ok": 2}
    row = WebhookEvent.objects.get()
    assert sorted(result["value"][1] for result in received) == [False, True]
    assert published == [row.pk]

    # The task delivered twice (a redelivery racing the first run): both run at once on the same row.
    processed = run_together([lambda: webhook_process(webhook_id=row.pk)] * 2)

    assert error_codes(processed) == {"ok": 2}
    assert [result["value"] for result in processed] == [WebhookStatus.PROCESSED] * 2
    row.refresh_from_db()
    payment.refresh_from_db()
    pending_order.refresh_from_db()
    assert (row.status, row.attempts) == (WebhookStatus.PROCESSED, 1)
    assert (payment.status, payment.captured_amount) == (PaymentStatus.CAPTURED, Decimal("998.00"))
    assert pending_order.status == OrderStatus.PAID
    assert OrderEvent.objects.filter(order=pending_order, type=OrderEventType.PAID).count() == 1


def test_two_deliveries_each_received_and_processed_at_once_apply_once(pending_order, make_payment, published):
    payment = make_payment(pending_order)
    body, headers = demo_delivery(payment)

    def deliver_and_process():
        row, _ = webhook_receive(provider="demo", body=body, headers=headers)
        return webhook_process(webhook_id=row.pk)

    results = run_together([deliver_and_process] * 4)

    assert error_codes(results) == {"ok": 4}
    assert {result["value"] for result in results} == {WebhookStatus.PROCESSED}
    row = WebhookEvent.objects.get()
    payment.refresh_from_db()
    assert row.attempts == 1
    assert payment.captured_amount == Decimal("998.00")
    assert OrderEvent.objects.filter(order=pending_order, type=OrderEventType.PAID).count() == 1
