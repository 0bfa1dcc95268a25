"""The webhook inbox: verify, store once, answer 200 at once, process exactly once in effect, retry, fail.

Razorpay deliveries are signed with Razorpay's algorithm (hex HMAC-SHA256 of the raw body under the webhook
secret, ``X-Razorpay-Signature``) and shaped like its documented examples; demo deliveries with the demo gateway's
own HMAC. Publishing the task is recorded (``published``) instead of reaching a broker; tests call
``webhook_process`` themselves, as a worker would.
"""

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from accounts.models import AuditEntry
from commerce.orders.models import OrderEvent, OrderEventType, OrderStatus
from payments import tasks
from payments.gateways.demo import demo_event_body, demo_sign
from payments.models import Payment, PaymentStatus, Refund, RefundStatus, WebhookEvent, WebhookStatus
from payments.services import webhooks
from payments.services.webhooks import webhook_process, webhook_receive
from tests.payments.conftest import FAKE_KEYS

pytestmark = pytest.mark.django_db

RAZORPAY = "/api/v1/webhooks/razorpay"
STRIPE = "/api/v1/webhooks/stripe"
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


# --- helpers ---------------------------------------------------------------------------------------------------


def razorpay_captured_body(*, order_id="order_DESlLckIVRkHWj", payment_id="pay_DESlfW9H8K9uqM", amount=99800) -> bytes:
    """A ``payment.captured`` webhook as Razorpay documents it (amounts in paise)."""
    payload = {
        "entity": "event",
        "account_id": "acc_BFQ7uQEaa7j2z7",
        "event": "payment.captured",
        "contains": ["payment"],
        "payload": {
            "payment": {
                "entity": {
                    "id": payment_id,
                    "entity": "payment",
                    "amount": amount,
                    "currency": "INR",
                    "status": "captured",
                    "order_id": order_id,
                    "international": False,
                    "method": "upi",
                    "amount_refunded": 0,
                    "captured": True,
                    "description": None,
                    "vpa": "gaurav.kumar@okhdfc",
                    "email": "gaurav.kumar@example.com",
                    "contact": "+919876543210",
                    "fee": 2352,
                    "tax": 358,
                    "error_code": None,
                    "created_at": 1567674599,
                }
            }
        },
        "created_at": 1567674606,
    }
    return json.dumps(payload).encode()


def razorpay_headers(body: bytes, *, event_id="evt_DESlfXe2GKPw3e", secret=FAKE_KEYS["RAZORPAY_WEBHOOK_SECRET"]):
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Razorpay-Signature": signature, "X-Razorpay-Event-Id": event_id}


def post(client, path, body: bytes, headers: dict[str, str]):
    return client.generic("POST", path, body, content_type="application/json", headers=headers)


def demo_delivery(payment, *, type="payment.succeeded", amount=None, refund_id=""):
    body = demo_event_body(
        type=type,
        provider_order_id=payment.provider_order_id,
        amount=amount if amount is not None else payment.amount,
        currency=payment.currency,
        refund_id=refund_id,
    )
    return body, {"X-Demo-Signature": demo_sign(body)}


def received_counter(provider: str, outcome: str) -> float:
    from prometheus_client import REGISTRY

    return (
        REGISTRY.get_sample_value("payments_webhooks_received_total", {"provider": provider, "outcome": outcome}) or 0
    )


@pytest.fixture
def published(monkeypatch):
    """The inbox ids published to ``payments.tasks.process_webhook``, in order (no broker, nothing run)."""
    calls: list[int] = []
    monkeypatch.setattr(tasks.process_webhook, "apply_async", lambda args, **kw: calls.append(args[0]))
    return calls


# --- the endpoints: signatures ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "headers_for"),
    [
        ("tampered body", lambda body: razorpay_headers(body.replace(b"99800", b"100"))),
        ("wrong secret", lambda body: razorpay_headers(body, secret="not-the-secret")),
        ("missing signature", lambda body: {"X-Razorpay-Event-Id": "evt_DESlfXe2GKPw3e"}),
    ],
)
def test_a_bad_razorpay_signature_is_400_counted_and_stores_nothing(
    api_client, payment_keys, published, django_capture_on_commit_callbacks, case, headers_for
):
    body = razorpay_captured_body()
    before = received_counter("razorpay", "invalid")

    with django_capture_on_commit_callbacks(execute=True):
        response = post(api_client, RAZORPAY, body, headers_for(body))

    assert response.status_code == 400
    assert response.json() == {"code": "signature_invalid", "detail": "The Razorpay webhook signature does not verify."}
    assert WebhookEvent.objects.count() == 0
    assert published == []
    assert received_counter("razorpay", "invalid") == before + 1


def test_a_stale_stripe_signature_is_400_and_stores_nothing(api_client, payment_keys, published):
    body = json.dumps({"id": "evt_1", "object": "event", "type": "payment_intent.succeeded", "data": {}}).encode()
    signed_at = int(timezone.now().timestamp()) - 301
    signature = hmac.new(
        FAKE_KEYS["STRIPE_WEBHOOK_SECRET"].encode(), f"{signed_at}.".encode() + body, hashlib.sha256
    ).hexdigest()
    before = received_counter("stripe", "invalid")

    response = post(api_client, STRIPE, body, {"Stripe-Signature": f"t={signed_at},v1={signature}"})

    assert response.status_code == 400
    assert response.json()["code"] == "signature_invalid"
    assert WebhookEvent.objects.count() == 0
    assert received_counter("stripe", "invalid") == before + 1


def test_a_provider_that_is_not_configured_is_400_provider_unavailable(api_client, settings, published):
    settings.STRIPE_SECRET_KEY = ""
    settings.STRIPE_WEBHOOK_SECRET = ""

    response = post(api_client, STRIPE, b'{"id": "evt_1"}', {"Stripe-Signature": "t=1,v1=00"})

    assert response.status_code == 400
    assert response.json()["code"] == "provider_unavailable"
    assert WebhookEvent.objects.count() == 0


def test_a_body_that_is_not_json_is_refused_before_verification(api_client, payment_keys, published):
    response = api_client.generic("POST", RAZORPAY, b"event=payment.captured", content_type="text/plain")
    assert response.status_code == 415
    response = post(api_client, RAZORPAY, b'{"event": "\\udc00"}', {})
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert WebhookEvent.objects.count() == 0


# --- the endpoints: storing once ----------------------------------------------------------------------------


def test_a_verified_delivery_is_stored_raw_and_published_after_commit(
    api_client, payment_keys, published, django_capture_on_commit_callbacks
):
    body = razorpay_captured_body()
    headers = {**razorpay_headers(body), "Authorization": "Bearer secret", "Cookie": "sessionid=abc"}

    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post(api_client, RAZORPAY, body, headers)

    event = WebhookEvent.objects.get()
    assert response.status_code == 200
    assert response.json() == {"event_id": "evt_DESlfXe2GKPw3e", "status": "received", "duplicate": False}
    assert len(callbacks) == 1
    assert published == [event.pk]
    assert (event.provider, event.event_id, event.type, event.status) == (
        "razorpay",
        "evt_DESlfXe2GKPw3e",
        "payment.captured",
        WebhookStatus.RECEIVED,
    )
    assert event.body.encode() == body
    assert event.received_at == NOW
    assert event.headers["X-Razorpay-Signature"] == headers["X-Razorpay-Signature"]
    assert event.headers["X-Razorpay-Event-Id"] == "evt_DESlfXe2GKPw3e"
    assert "Authorization" not in event.headers
    assert "Cookie" not in event.headers
    assert (event.attempts, event.processed_at, event.next_attempt_at) == (0, None, None)


def test_duplicates_answer_200_store_one_row_and_publish_once(
    api_client, payment_keys, published, django_capture_on_commit_callbacks
):
    body = razorpay_captured_body()
    accepted = received_counter("razorpay", "accepted")
    duplicate = received_counter("razorpay", "duplicate")

    with django_capture_on_commit_callbacks(execute=True):
        answers = [post(api_client, RAZORPAY, body, razorpay_headers(body)) for _ in range(5)]

    assert [a.status_code for a in answers] == [200] * 5
    assert [a.json()["duplicate"] for a in answers] == [False, True, True, True, True]
    assert WebhookEvent.objects.count() == 1
    assert published == [WebhookEvent.objects.get().pk]
    assert received_counter("razorpay", "accepted") == accepted + 1
    assert received_counter("razorpay", "duplicate") == duplicate + 4


def test_a_duplicate_of_a_stale_received_row_is_published_again(
    payment_keys, published, django_capture_on_commit_callbacks
):
    body = razorpay_captured_body()
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        first, created = webhook_receive(provider="razorpay", body=body, headers=razorpay_headers(body))
    with time_machine.travel(NOW + timedelta(minutes=4), tick=False), django_capture_on_commit_callbacks(execute=True):
        webhook_receive(provider="razorpay", body=body, headers=razorpay_headers(body))
    with time_machine.travel(NOW + timedelta(minutes=6), tick=False), django_capture_on_commit_callbacks(execute=True):
        again, created_again = webhook_receive(provider="razorpay", body=body, headers=razorpay_headers(body))

    assert (created, created_again, again.pk) == (True, False, first.pk)
    assert published == [first.pk, first.pk]


def test_a_broker_down_at_commit_keeps_the_row_for_the_sweep(
    api_client, payment_keys, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(*args, **kwargs):
        raise ConnectionError("Error 111 connecting to redis:6379. Connection refused.")

    monkeypatch.setattr(tasks.process_webhook, "apply_async", broker_down)
    body = razorpay_captured_body()

    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        response = post(api_client, RAZORPAY, body, razorpay_headers(body))

    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.status == WebhookStatus.RECEIVED

    swept: list[int] = []
    monkeypatch.setattr(tasks.process_webhook, "apply_async", lambda args, **kw: swept.append(args[0]))
    with django_capture_on_commit_callbacks(execute=True):
        assert webhooks.webhooks_requeue_stale(now=NOW + timedelta(minutes=4)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert webhooks.webhooks_requeue_stale(now=NOW + timedelta(minutes=5, seconds=1)) == 1
    assert swept == [event.pk]


def test_the_sweep_leaves_rows_waiting_for_their_retry_and_finished_rows_alone(
    pending_order, make_payment, published, django_capture_on_commit_callbacks
):
    payment = make_payment(pending_order)
    body, headers = demo_delivery(payment, type="refund.succeeded", amount=Decimal("100.00"), refund_id="re_1")
    with time_machine.travel(NOW, tick=False):
        waiting, _ = webhook_receive(provider="demo", body=body, headers=headers)
        assert webhook_process(webhook_id=waiting.pk) == WebhookStatus.RECEIVED  # refund before capture
    body, headers = demo_delivery(payment, type="payment.unknown")
    with time_machine.travel(NOW, tick=False):
        done, _ = webhook_receive(provider="demo", body=body, headers=headers)
        assert webhook_process(webhook_id=done.pk) == WebhookStatus.IGNORED
    waiting.refresh_from_db()
    retry_at = waiting.next_attempt_at
    published.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert webhooks.webhooks_requeue_stale(now=retry_at + timedelta(minutes=4)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert webhooks.webhooks_requeue_stale(now=retry_at + timedelta(minutes=6)) == 1
    assert published == [waiting.pk]


# --- processing exactly once ------------------------------------------------------------------------------


def test_the_same_event_delivered_five_times_captures_once(
    pending_order, make_payment, published, django_capture_on_commit_callbacks
):
    payment = make_payment(pending_order)
    body, headers = demo_delivery(payment)

    with django_capture_on_commit_callbacks(execute=True):
        rows = [webhook_receive(provider="demo", body=body, headers=headers) for _ in range(5)]
    # Every delivery's task runs (a duplicate publication, a redelivered message): only the first applies.
    outcomes = [webhook_process(webhook_id=row.pk) for row, _ in rows]

    event = WebhookEvent.objects.get()
    payment.refresh_from_db()
    pending_order.refresh_from_db()
    assert [created for _, created in rows] == [True, False, False, False, False]
    assert published == [event.pk]
    assert outcomes == [WebhookStatus.PROCESSED] * 5
    assert (event.status, event.attempts, event.last_error) == (WebhookStatus.PROCESSED, 1, "")
    assert event.processed_at is not None
    assert (payment.status, payment.captured_amount) == (PaymentStatus.CAPTURED, Decimal("998.00"))
    assert pending_order.status == OrderStatus.PAID
    assert OrderEvent.objects.filter(order=pending_order, type=OrderEventType.PAID).count() == 1
    assert AuditEntry.objects.filter(action="payment.captured").count() == 1


def test_two_events_saying_the_same_capture_apply_once(pending_order, make_payment, published):
    payment = make_payment(pending_order)
    deliveries = [demo_delivery(payment), demo_delivery(payment)]  # two event ids, one capture

    rows = [webhook_receive(provider="demo", body=body, headers=headers)[0] for body, headers in deliveries]
    outcomes = [webhook_process(webhook_id=row.pk) for row in rows]

    payment.refresh_from_db()
    assert outcomes == [WebhookStatus.PROCESSED, WebhookStatus.PROCESSED]
    assert payment.captured_amount == Decimal("998.00")
    assert OrderEvent.objects.filter(order=pending_order, type=OrderEventType.PAID).count() == 1


def test_an_event_we_do_not_act_on_is_ignored(pending_order, make_payment, published):
    payment = make_payment(pending_order)
    body, headers = demo_delivery(payment, type="payment.pending")
    row, _ = webhook_receive(provider="demo", body=body, headers=headers)

    assert webhook_process(webhook_id=row.pk) == WebhookStatus.IGNORED
    row.refresh_from_db()
    payment.refresh_from_db()
    assert (row.status, row.attempts) == (WebhookStatus.IGNORED, 1)
    assert payment.status == PaymentStatus.CREATED


def test_processing_a_missing_row_does_nothing(db):
    assert webhook_process(webhook_id=999_999) == "missing"


def test_a_refund_seen_before_its_capture_waits_then_converges(pending_order, make_payment, published):
    payment = make_payment(pending_order)
    refund_body, refund_headers = demo_delivery(
        payment, type="refund.succeeded", amount=Decimal("300.00"), refund_id="demo_re_1"
    )
    capture_body, capture_headers = demo_delivery(payment)

    with time_machine.travel(NOW, tick=False):
        refund_row, _ = webhook_receive(provider="demo", body=refund_body, headers=refund_headers)
        first = webhook_process(webhook_id=refund_row.pk)
    refund_row.refresh_from_db()
    assert first == WebhookStatus.RECEIVED
    assert refund_row.attempts == 1
    assert refund_row.last_error.startswith("EventNotReady: Refund demo_re_1 of payment")
    assert NOW + timedelta(seconds=15) <= refund_row.next_attempt_at <= NOW + timedelta(seconds=22.5)
    assert (
        webhooks.webhook_retry_in(webhook_id=refund_row.pk, now=NOW)
        == (refund_row.next_attempt_at - NOW).total_seconds()
    )
    assert Refund.objects.count() == 0

    capture_row, _ = webhook_receive(provider="demo", body=capture_body, headers=capture_headers)
    assert webhook_process(webhook_id=capture_row.pk) == WebhookStatus.PROCESSED
    assert webhook_process(webhook_id=refund_row.pk) == WebhookStatus.PROCESSED

    refund_row.refresh_from_db()
    payment.refresh_from_db()
    pending_order.refresh_from_db()
    assert (refund_row.attempts, refund_row.last_error, refund_row.next_attempt_at) == (2, "", None)
    assert (payment.captured_amount, payment.refunded_amount) == (Decimal("998.00"), Decimal("300.00"))
    refund = Refund.objects.get()
    assert (refund.provider_refund_id, refund.amount, refund.status) == (
        "demo_re_1",
        Decimal("300.00"),
        RefundStatus.SUCCEEDED,
    )
    assert pending_order.refunded_amount == Decimal("300.00")


def test_errors_retry_with_backoff_then_fail_after_the_last_attempt(
    pending_order, make_payment, published, monkeypatch
):
    from payments.services import apply

    def broken(**kwargs):
        raise RuntimeError("database said no")

    monkeypatch.setattr(apply, "payment_events_apply", broken)
    payment = make_payment(pending_order)
    body, headers = demo_delivery(payment)
    row, _ = webhook_receive(provider="demo", body=body, headers=headers)

    statuses = []
    for _ in range(webhooks.MAX_ATTEMPTS):
        statuses.append(webhook_process(webhook_id=row.pk))
        row.refresh_from_db()
        if row.status == WebhookStatus.RECEIVED:
            assert row.next_attempt_at is not None

    assert statuses == [WebhookStatus.RECEIVED] * 7 + [WebhookStatus.FAILED]
    assert (row.status, row.attempts, row.next_attempt_at, row.processed_at) == (WebhookStatus.FAILED, 8, None, None)
    assert row.last_error == "Gave up after 8 attempts. RuntimeError: database said no"
    assert webhook_process(webhook_id=row.pk) == WebhookStatus.FAILED
    row.refresh_from_db()
    assert row.attempts == 8


def test_a_stored_body_that_no_longer_verifies_fails_at_once(pending_order, make_payment, published):
    payment = make_payment(pending_order)
    body, headers = demo_delivery(payment)
    row, _ = webhook_receive(provider="demo", body=body, headers=headers)
    WebhookEvent.objects.filter(pk=row.pk).update(body=row.body.replace("998.00", "1.00"))

    assert webhook_process(webhook_id=row.pk) == WebhookStatus.FAILED
    row.refresh_from_db()
    payment.refresh_from_db()
    assert (row.attempts, row.last_error) == (1, "SignatureInvalid: The demo webhook's signature does not match.")
    assert payment.status == PaymentStatus.CREATED


def test_a_stripe_event_is_verified_again_hours_later_without_the_tolerance(payment_keys, published, monkeypatch):
    """Stripe's 300 s tolerance applies on receipt only: a retry hours later re-verifies the signature alone."""
    from payments.services import apply

    applied = []
    monkeypatch.setattr(apply, "payment_events_apply", lambda **kwargs: applied.append(kwargs["events"]))
    body = json.dumps(
        {
            "id": "evt_3MtwBwLkdIwHu7ix0",
            "object": "event",
            "type": "customer.created",
            "data": {"object": {"id": "cus_1", "object": "customer"}},
        }
    ).encode()
    with time_machine.travel(NOW, tick=False):
        signed_at = int(timezone.now().timestamp())
        secret = FAKE_KEYS["STRIPE_WEBHOOK_SECRET"].encode()
        signature = hmac.new(secret, f"{signed_at}.".encode() + body, hashlib.sha256).hexdigest()
        row, _ = webhook_receive(
            provider="stripe", body=body, headers={"Stripe-Signature": f"t={signed_at},v1={signature}"}
        )
    with time_machine.travel(NOW + timedelta(hours=3), tick=False):
        assert webhook_process(webhook_id=row.pk) == WebhookStatus.IGNORED
    assert [[event.kind for event in events] for events in applied] == [["ignored"]]


def test_retry_countdown_is_exponential_jittered_and_capped():
    assert webhooks.retry_countdown(attempts=1, rng=lambda: 0.0) == 15.0
    assert webhooks.retry_countdown(attempts=1, rng=lambda: 1.0) == 22.5
    assert webhooks.retry_countdown(attempts=3, rng=lambda: 0.5) == 75.0
    assert webhooks.retry_countdown(attempts=7, rng=lambda: 0.0) == 960.0
    assert webhooks.retry_countdown(attempts=20, rng=lambda: 1.0) == 3600.0


def test_the_task_runs_eagerly_in_the_embedded_default_and_leaves_a_retry_to_the_sweep(
    pending_order, make_payment, published, eager_celery
):
    payment = make_payment(pending_order)
    body, headers = demo_delivery(payment, type="refund.succeeded", amount=Decimal("1.00"), refund_id="re_9")
    row, _ = webhook_receive(provider="demo", body=body, headers=headers)

    result = tasks.process_webhook.apply(args=[row.pk])

    assert result.get() == WebhookStatus.RECEIVED
    row.refresh_from_db()
    assert (row.status, row.attempts) == (WebhookStatus.RECEIVED, 1)
    assert row.next_attempt_at is not None


def test_the_demo_gateway_end_to_end_in_the_embedded_default(
    shopper_client, pending_order, eager_celery, django_capture_on_commit_callbacks
):
    started = shopper_client.post(f"/api/v1/orders/{pending_order.number}/payments", {"provider": "demo"})
    assert started.status_code == 201, started.json()
    payment = Payment.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        completed = shopper_client.post(f"/api/v1/payments/demo/{payment.pk}/complete", {"outcome": "succeeded"})

    assert completed.status_code == 200, completed.json()
    event = WebhookEvent.objects.get()
    payment.refresh_from_db()
    pending_order.refresh_from_db()
    assert (event.provider, event.status, event.attempts) == ("demo", WebhookStatus.PROCESSED, 1)
    assert payment.status == PaymentStatus.CAPTURED
    assert pending_order.status == OrderStatus.PAID


def test_webhook_tasks_are_routed_to_the_webhooks_queue():
    from config.celery import app

    for name in ("payments.tasks.process_webhook", "payments.tasks.reconcile_payments"):
        assert name in app.tasks
        assert app.amqp.router.route({}, name)["queue"].name == "webhooks"


def test_the_endpoints_are_never_throttled(api_client, payment_keys, published):
    """Anonymous clients get 120 requests a minute elsewhere; a provider's retries must never meet a 429."""
    body = razorpay_captured_body()
    statuses = {post(api_client, RAZORPAY, body, razorpay_headers(body)).status_code for _ in range(130)}
    assert statuses == {200}
    assert WebhookEvent.objects.count() == 1
