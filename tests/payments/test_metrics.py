"""Payments metrics: counters where things happen, database-derived gauges at scrape time, all on /metrics."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from prometheus_client import REGISTRY, CollectorRegistry

from payments import tasks
from payments.metrics import PaymentsCollector
from payments.models import PaymentStatus, WebhookEvent, WebhookStatus
from payments.services.webhooks import webhook_process, webhook_receive
from tests.orders.factories import order_build
from tests.payments.test_webhooks import demo_delivery

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def collected() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry()
    registry.register(PaymentsCollector())
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for family in registry.collect() for s in family.samples}


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    monkeypatch.setattr(tasks.process_webhook, "apply_async", lambda args, **kw: None)


def test_processing_counts_by_status_and_observes_the_lag(
    pending_order, make_payment, django_capture_on_commit_callbacks
):
    payment = make_payment(pending_order)
    body, headers = demo_delivery(payment)
    processed = sample("payments_webhooks_processed_total", provider="demo", status="processed")
    lag_count = sample("payments_webhook_processing_lag_seconds_count", provider="demo")
    within_5s = sample("payments_webhook_processing_lag_seconds_bucket", provider="demo", le="5.0")
    within_2_5s = sample("payments_webhook_processing_lag_seconds_bucket", provider="demo", le="2.5")

    with time_machine.travel(NOW, tick=False):
        row, _ = webhook_receive(provider="demo", body=body, headers=headers)
    with time_machine.travel(NOW + timedelta(seconds=3), tick=False), django_capture_on_commit_callbacks(execute=True):
        webhook_process(webhook_id=row.pk)

    assert sample("payments_webhooks_processed_total", provider="demo", status="processed") == processed + 1
    assert sample("payments_webhook_processing_lag_seconds_count", provider="demo") == lag_count + 1
    assert sample("payments_webhook_processing_lag_seconds_bucket", provider="demo", le="5.0") == within_5s + 1
    assert sample("payments_webhook_processing_lag_seconds_bucket", provider="demo", le="2.5") == within_2_5s


def test_a_retry_is_counted_without_a_lag(pending_order, make_payment, django_capture_on_commit_callbacks):
    payment = make_payment(pending_order)
    body, headers = demo_delivery(payment, type="refund.succeeded", amount=payment.amount, refund_id="re_1")
    retries = sample("payments_webhooks_processed_total", provider="demo", status="retry")
    lag_count = sample("payments_webhook_processing_lag_seconds_count", provider="demo")

    row, _ = webhook_receive(provider="demo", body=body, headers=headers)
    with django_capture_on_commit_callbacks(execute=True):
        webhook_process(webhook_id=row.pk)

    assert sample("payments_webhooks_processed_total", provider="demo", status="retry") == retries + 1
    assert sample("payments_webhook_processing_lag_seconds_count", provider="demo") == lag_count


def test_the_collector_reads_payments_backlog_age_and_failures_from_the_database(pending_order, make_payment, tshirt):
    make_payment(pending_order)
    make_payment(order_build(lines=[(tshirt, 1)]), status=PaymentStatus.CAPTURED, captured_amount="499.00")
    make_payment(order_build(lines=[(tshirt, 1)]), provider="razorpay", status=PaymentStatus.FAILED)
    for n, (status, minutes) in enumerate(
        [(WebhookStatus.RECEIVED, 30), (WebhookStatus.RECEIVED, 5), (WebhookStatus.FAILED, 90), ("processed", 120)]
    ):
        WebhookEvent.objects.create(
            provider="demo", event_id=f"evt_{n}", type="payment.succeeded", body="{}", status=status,
            received_at=NOW - timedelta(minutes=minutes),
        )  # fmt: skip

    with time_machine.travel(NOW, tick=False):
        values = collected()

    assert values[("payments_payments", (("provider", "demo"), ("status", "created")))] == 1
    assert values[("payments_payments", (("provider", "demo"), ("status", "captured")))] == 1
    assert values[("payments_payments", (("provider", "razorpay"), ("status", "failed")))] == 1
    assert values[("payments_webhook_backlog", (("provider", "demo"),))] == 2
    assert values[("payments_webhook_backlog", (("provider", "stripe"),))] == 0
    assert values[("payments_webhook_oldest_age_seconds", (("provider", "demo"),))] == 1800
    assert values[("payments_webhook_oldest_age_seconds", (("provider", "razorpay"),))] == 0
    assert values[("payments_webhook_failed", (("provider", "demo"),))] == 1


def test_the_metrics_page_exports_them(pending_order, make_payment):
    make_payment(pending_order)

    text = Client().get("/metrics").content.decode()

    assert "# TYPE payments_webhooks_received_total counter" in text
    assert "# TYPE payments_webhook_processing_lag_seconds histogram" in text
    assert 'payments_payments{provider="demo",status="created"} 1.0' in text
    assert 'payments_webhook_backlog{provider="stripe"} 0.0' in text


def test_a_database_that_cannot_be_read_yields_no_gauges_instead_of_failing_the_scrape(monkeypatch):
    from payments.models import Payment

    def down(*args, **kwargs):
        raise RuntimeError("connection refused")

    monkeypatch.setattr(Payment.objects, "order_by", down)

    assert collected() == {}


def test_export_metrics_adds_the_gauges_to_the_multiprocess_registry(
    pending_order, make_payment, tmp_path, monkeypatch
):
    """Under gunicorn (PROMETHEUS_MULTIPROC_DIR set) django-prometheus' view loses in-process collectors."""
    from django.test import RequestFactory
    from django_prometheus.exports import ExportToDjangoView

    from payments.metrics import export_metrics

    make_payment(pending_order)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    request = RequestFactory().get("/metrics")

    plain = ExportToDjangoView(request).content.decode()
    ours = export_metrics(request).content.decode()

    assert "payments_payments" not in plain
    assert 'payments_payments{provider="demo",status="created"} 1.0' in ours
    assert 'payments_webhook_backlog{provider="demo"} 0.0' in ours
