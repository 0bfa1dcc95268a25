"""``manage.py replay_webhooks`` and ``webhooks_replay``: reprocess stored webhooks by provider, status and time."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command

from commerce.orders.models import OrderEvent, OrderEventType, OrderStatus
from payments import tasks
from payments.models import PaymentStatus, WebhookEvent, WebhookStatus
from payments.services import apply, webhooks
from payments.services.webhooks import webhook_process, webhook_receive
from tests.payments.test_webhooks import demo_delivery

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@pytest.fixture
def published(monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(tasks.process_webhook, "apply_async", lambda args, **kw: calls.append(args[0]))
    return calls


def failed_capture(payment, monkeypatch, *, at=NOW):
    """A capture webhook for ``payment`` that failed every attempt (while applying was broken)."""
    body, headers = demo_delivery(payment)
    with time_machine.travel(at, tick=False):
        row, _ = webhook_receive(provider="demo", body=body, headers=headers)
    with monkeypatch.context() as patch:
        patch.setattr(apply, "payment_events_apply", lambda **kw: (_ for _ in ()).throw(RuntimeError("db down")))
        for _ in range(webhooks.MAX_ATTEMPTS):
            webhook_process(webhook_id=row.pk)
    row.refresh_from_db()
    assert row.status == WebhookStatus.FAILED
    return row


def run(*args: str) -> str:
    out = StringIO()
    call_command("replay_webhooks", *args, stdout=out)
    return out.getvalue()


def test_replay_reprocesses_failed_webhooks_inline_and_applies_them(
    pending_order, make_payment, monkeypatch, published
):
    payment = make_payment(pending_order)
    row = failed_capture(payment, monkeypatch)

    output = run("--provider", "demo")

    row.refresh_from_db()
    payment.refresh_from_db()
    pending_order.refresh_from_db()
    assert output == "1 webhooks reprocessed\nprocessed: 1\n"
    assert (row.status, row.attempts, row.last_error) == (WebhookStatus.PROCESSED, 1, "")
    assert payment.status == PaymentStatus.CAPTURED
    assert pending_order.status == OrderStatus.PAID
    assert published == []
    # Replaying again finds nothing failed; replaying processed rows changes nothing already applied.
    assert run() == "0 webhooks reprocessed\n"
    assert run("--status", "processed") == "1 webhooks reprocessed\nprocessed: 1\n"
    assert OrderEvent.objects.filter(order=pending_order, type=OrderEventType.PAID).count() == 1


def test_dry_run_only_counts(pending_order, make_payment, monkeypatch, published):
    payment = make_payment(pending_order)
    row = failed_capture(payment, monkeypatch)

    assert run("--dry-run") == "1 webhooks match (dry run: nothing changed)\n"
    row.refresh_from_db()
    assert (row.status, row.attempts) == (WebhookStatus.FAILED, 8)


def test_queue_resets_the_rows_and_publishes_them_after_commit(
    pending_order, make_payment, monkeypatch, published, django_capture_on_commit_callbacks
):
    payment = make_payment(pending_order)
    row = failed_capture(payment, monkeypatch)

    with django_capture_on_commit_callbacks(execute=True):
        output = run("--queue")

    row.refresh_from_db()
    assert output == "1 webhooks reprocessed\nqueued: 1\n"
    assert (row.status, row.attempts, row.next_attempt_at) == (WebhookStatus.RECEIVED, 0, None)
    assert published == [row.pk]


def test_the_time_range_and_provider_select_rows(pending_order, make_payment, monkeypatch, published, tshirt):
    from tests.orders.factories import order_build

    early = failed_capture(make_payment(pending_order), monkeypatch, at=NOW - timedelta(days=2))
    late = failed_capture(make_payment(order_build(lines=[(tshirt, 1)])), monkeypatch, at=NOW)

    assert run("--since", "2026-11-19", "--dry-run") == "1 webhooks match (dry run: nothing changed)\n"
    assert run("--until", "2026-11-19", "--dry-run") == "1 webhooks match (dry run: nothing changed)\n"
    assert run("--provider", "stripe", "--dry-run") == "0 webhooks match (dry run: nothing changed)\n"
    assert run("--since", "2026-11-20T09:59:59+00:00", "--until", "2026-11-20T10:00:01+00:00") == (
        "1 webhooks reprocessed\nprocessed: 1\n"
    )
    early.refresh_from_db()
    late.refresh_from_db()
    assert (early.status, late.status) == (WebhookStatus.FAILED, WebhookStatus.PROCESSED)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "Not an ISO date or date-time: yesterday"),
        (["--since", "2026-11-20", "--until", "2026-11-19"], "--since must be before --until."),
        (["--limit", "0"], "--limit must be at least 1."),
    ],
)
def test_bad_arguments_are_refused(db, args, message):
    with pytest.raises(CommandError) as error:
        call_command("replay_webhooks", *args)
    assert str(error.value) == message


def test_limit_takes_the_oldest_rows_first(pending_order, make_payment, monkeypatch, published, tshirt):
    from tests.orders.factories import order_build

    older = failed_capture(make_payment(pending_order), monkeypatch, at=NOW - timedelta(hours=1))
    newer = failed_capture(make_payment(order_build(lines=[(tshirt, 1)])), monkeypatch, at=NOW)

    result = webhooks.webhooks_replay(limit=1)

    older.refresh_from_db()
    newer.refresh_from_db()
    assert (result.matched, result.statuses) == (1, {"processed": 1})
    assert (older.status, newer.status) == (WebhookStatus.PROCESSED, WebhookStatus.FAILED)
    assert WebhookEvent.objects.filter(status=WebhookStatus.FAILED).count() == 1


def test_replay_by_ids_takes_exactly_the_selected_rows(pending_order, make_payment, monkeypatch, published, tshirt):
    from tests.orders.factories import order_build

    chosen = failed_capture(make_payment(pending_order), monkeypatch, at=NOW)
    other = failed_capture(make_payment(order_build(lines=[(tshirt, 1)])), monkeypatch, at=NOW)

    result = webhooks.webhooks_replay(ids=[chosen.pk])

    chosen.refresh_from_db()
    other.refresh_from_db()
    assert (result.matched, result.statuses) == (1, {"processed": 1})
    assert (chosen.status, other.status) == (WebhookStatus.PROCESSED, WebhookStatus.FAILED)
