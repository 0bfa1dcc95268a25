"""The Stripe adapter through the real ``stripe`` SDK, with HTTP faked at the transport (``stripe_fakes``): what would
have been sent (paths, minor units, idempotency keys, customer and ``setup_future_usage``), how answers and errors
map, and webhooks signed with Stripe's real scheme mapped to normalised events."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import stripe
import time_machine

from commerce.core.errors import InvalidInput
from commerce.orders.models import Order
from payments.gateways import stripe as stripe_gateway
from payments.gateways.base import (
    EventKind,
    MethodInfo,
    NormalizedEvent,
    ProviderRefused,
    ProviderUnavailable,
    RefundResult,
    SignatureInvalid,
    StartedPayment,
)
from payments.gateways.registry import enabled_providers, gateway_for
from payments.gateways.stripe import StripeGateway
from payments.models import Payment, Refund
from tests.payments.stripe_fakes import (
    API_BASE,
    PUBLISHABLE_KEY,
    SECRET_KEY,
    WEBHOOK_SECRET,
    FakeStripeHTTP,
    card_payment_method,
    charge,
    customer,
    dispute,
    error,
    event,
    event_body,
    listing,
    payment_intent,
    refund,
    signed_headers,
    stripe_signature,
    use_fake_stripe,
)

PI = "pi_3MtwBwLkdIwHu7ix28a3tqPa"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NOW_TS = int(NOW.timestamp())


@pytest.fixture(autouse=True)
def stripe_http(settings, monkeypatch):
    """Every test here runs with Stripe configured and its HTTP faked (tests of the unconfigured case say so)."""
    with use_fake_stripe(settings, monkeypatch) as fake:
        yield fake


def make_payment(*, amount="499.00", currency="INR", pk=7, provider_order_id="", key="pay-7-b1946ac9") -> Payment:
    """A payment as the services hand it to the adapter (the adapter never reads or writes the database)."""
    return Payment(
        pk=pk,
        order=Order(number="ORD-24-000123", currency=currency),
        provider="stripe",
        amount=Decimal(amount),
        currency=currency,
        provider_order_id=provider_order_id,
        idempotency_key=key,
    )


def make_refund(payment: Payment, *, amount="100.00", pk=3, key="refund-3-5f1c") -> Refund:
    return Refund(pk=pk, payment=payment, amount=Decimal(amount), currency=payment.currency, idempotency_key=key)


def parse(body: bytes, headers: dict[str, str], **kwargs) -> tuple[str, str, list[NormalizedEvent]]:
    return StripeGateway().parse_webhook(body=body, headers=headers, **kwargs)


def deliver(evt: dict) -> list[NormalizedEvent]:
    """Parse ``evt`` as a delivery signed now; the events it means."""
    body = event_body(evt)
    event_id, event_type, events = parse(body, signed_headers(body))
    assert (event_id, event_type) == (evt["id"], evt["type"])
    return events


# --- configuration ----------------------------------------------------------------------------------------------


def test_configured_only_with_the_secret_key_and_the_webhook_secret(settings):
    settings.STRIPE_SECRET_KEY, settings.STRIPE_WEBHOOK_SECRET = SECRET_KEY, ""
    assert StripeGateway().is_configured() is False
    settings.STRIPE_SECRET_KEY, settings.STRIPE_WEBHOOK_SECRET = "", WEBHOOK_SECRET
    assert StripeGateway().is_configured() is False
    settings.STRIPE_SECRET_KEY, settings.STRIPE_WEBHOOK_SECRET = SECRET_KEY, WEBHOOK_SECRET
    assert StripeGateway().is_configured() is True


def test_the_registry_enables_and_builds_the_stripe_adapter(stripe_http):
    assert "stripe" in enabled_providers()
    gateway = gateway_for("stripe")
    assert isinstance(gateway, StripeGateway)
    assert gateway.name == "stripe"


def test_without_a_test_transport_the_sdk_client_has_short_timeouts_and_no_retries(settings, monkeypatch):
    monkeypatch.setattr(stripe_gateway, "HTTP_CLIENT", None)
    settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE = SECRET_KEY, ""
    requestor = StripeGateway().client._requestor

    assert isinstance(requestor._client, stripe.RequestsClient)
    assert requestor._client._timeout == (stripe_gateway.CONNECT_TIMEOUT, stripe_gateway.READ_TIMEOUT)
    assert requestor._options.max_network_retries == 0
    assert requestor._options.base_addresses["api"] == "https://api.stripe.com"
    assert StripeGateway().client._requestor._client is requestor._client  # one transport, connections kept


def test_an_explicit_transport_wins_over_the_module_hook(stripe_http):
    own = FakeStripeHTTP().answer("POST", "/v1/customers", customer(id="cus_own"))

    assert StripeGateway(http_client=own).customer_create(email="a@b.co", phone="", name="") == "cus_own"
    assert len(own.requests) == 1
    assert stripe_http.requests == []


# --- start ------------------------------------------------------------------------------------------------------


def test_start_creates_a_payment_intent_in_paise_with_the_payments_idempotency_key(stripe_http):
    stripe_http.answer("POST", "/v1/payment_intents", payment_intent(amount=49900))

    started = StripeGateway().start(payment=make_payment())

    sent = stripe_http.last
    assert sent.url == f"{API_BASE}/v1/payment_intents"
    assert sent.headers["Authorization"] == f"Bearer {SECRET_KEY}"
    assert sent.idempotency_key == "pay-7-b1946ac9"
    assert sent.params == {
        "amount": "49900",
        "currency": "inr",
        "automatic_payment_methods[enabled]": "true",
        "metadata[order_number]": "ORD-24-000123",
        "metadata[payment_id]": "7",
        "description": "Order ORD-24-000123",
    }
    assert started == StartedPayment(
        provider_order_id=PI,
        client={
            "client_secret": f"{PI}_secret_YrKJUKribcBjcG8HVhfZluoGH",
            "publishable_key": PUBLISHABLE_KEY,
            "payment_intent": PI,
        },
    )


def test_start_rounds_nothing_and_sends_cents(stripe_http):
    stripe_http.answer("POST", "/v1/payment_intents", payment_intent(amount=1999, currency="usd"))

    StripeGateway().start(payment=make_payment(amount="19.99", currency="USD"))

    assert stripe_http.last.params["amount"] == "1999"
    assert stripe_http.last.params["currency"] == "usd"


def test_start_sends_a_zero_decimal_currency_in_whole_units(stripe_http):
    stripe_http.answer("POST", "/v1/payment_intents", payment_intent(amount=1500, currency="jpy"))

    StripeGateway().start(payment=make_payment(amount="1500.00", currency="JPY"))

    assert stripe_http.last.params["amount"] == "1500"
    assert stripe_http.last.params["currency"] == "jpy"


def test_start_with_a_customer_saving_the_method_asks_for_off_session_use(stripe_http):
    stripe_http.answer("POST", "/v1/payment_intents", payment_intent(customer="cus_NffrFeUfNV2Hib"))

    StripeGateway().start(payment=make_payment(), customer_id="cus_NffrFeUfNV2Hib", save_method=True)

    assert stripe_http.last.params["customer"] == "cus_NffrFeUfNV2Hib"
    assert stripe_http.last.params["setup_future_usage"] == "off_session"


def test_start_with_a_customer_not_saving_attaches_the_customer_only(stripe_http):
    stripe_http.answer("POST", "/v1/payment_intents", payment_intent(customer="cus_NffrFeUfNV2Hib"))

    StripeGateway().start(payment=make_payment(), customer_id="cus_NffrFeUfNV2Hib", save_method=False)

    assert stripe_http.last.params["customer"] == "cus_NffrFeUfNV2Hib"
    assert "setup_future_usage" not in stripe_http.last.params


def test_save_method_without_a_customer_sends_neither(stripe_http):
    stripe_http.answer("POST", "/v1/payment_intents", payment_intent())

    StripeGateway().start(payment=make_payment(), save_method=True)

    assert "customer" not in stripe_http.last.params
    assert "setup_future_usage" not in stripe_http.last.params


def test_the_same_payment_started_twice_sends_the_same_idempotency_key(stripe_http):
    stripe_http.answer("POST", "/v1/payment_intents", payment_intent())
    payment = make_payment()

    StripeGateway().start(payment=payment)
    StripeGateway().start(payment=payment)

    assert [r.idempotency_key for r in stripe_http.requests] == ["pay-7-b1946ac9", "pay-7-b1946ac9"]


def test_without_an_api_base_the_sdk_calls_stripe(settings, monkeypatch):
    fake = FakeStripeHTTP().answer("POST", "/v1/payment_intents", payment_intent())
    settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE = SECRET_KEY, ""
    monkeypatch.setattr(stripe_gateway, "HTTP_CLIENT", fake)

    StripeGateway().start(payment=make_payment())

    assert fake.last.url == "https://api.stripe.com/v1/payment_intents"


@pytest.mark.django_db
def test_start_reads_the_order_number_of_a_stored_payment(stripe_http):
    from tests.catalog.factories import ProductVariantFactory
    from tests.orders.factories import order_build

    order = order_build(lines=[(ProductVariantFactory(price=Decimal("499.00")), 2)], number="ORD-26-000042")
    payment = Payment.objects.create(
        order=order,
        user=order.user,
        provider="stripe",
        amount=order.total,
        currency=order.currency,
        idempotency_key="pay-stored-1",
    )
    stripe_http.answer("POST", "/v1/payment_intents", payment_intent(amount=99800))

    gateway_for("stripe").start(payment=Payment.objects.select_related("order").get(pk=payment.pk))

    assert stripe_http.last.params["amount"] == "99800"
    assert stripe_http.last.params["metadata[order_number]"] == "ORD-26-000042"
    assert stripe_http.last.params["metadata[payment_id]"] == str(payment.pk)
    assert stripe_http.last.idempotency_key == "pay-stored-1"


# --- errors -----------------------------------------------------------------------------------------------------


def test_stripe_unreachable_is_provider_unavailable_after_one_attempt(stripe_http):
    stripe_http.fail("POST", "/v1/payment_intents")

    with pytest.raises(ProviderUnavailable) as exc:
        StripeGateway().start(payment=make_payment())

    assert exc.value.status == 503
    assert exc.value.code == "provider_unavailable"
    assert exc.value.detail == "Stripe cannot be reached; try again shortly."
    assert len(stripe_http.requests) == 1


@pytest.mark.parametrize(
    ("status", "body", "detail"),
    [
        (
            500,
            error("An unknown error occurred", type="api_error"),
            "Stripe is not available right now; try again shortly.",
        ),
        (503, "<html>Service Unavailable</html>", "Stripe is not available right now; try again shortly."),
        (
            429,
            error("Too many requests", type="invalid_request_error", code="rate_limit"),
            "Stripe is busy; try again shortly.",
        ),
        (
            401,
            error("Invalid API Key provided: sk_test_***ests"),
            "Stripe is not available right now; try again later.",
        ),
        (
            403,
            error("The provided key does not have the required permissions"),
            "Stripe is not available right now; try again later.",
        ),
        (200, "not json at all", "Stripe is not available right now; try again shortly."),
    ],
)
def test_server_errors_rate_limits_and_our_key_refused_are_provider_unavailable(stripe_http, status, body, detail):
    stripe_http.answer("POST", "/v1/payment_intents", body, status=status)

    with pytest.raises(ProviderUnavailable) as exc:
        StripeGateway().start(payment=make_payment())

    assert exc.value.detail == detail
    assert len(stripe_http.requests) == 1


@pytest.mark.parametrize(
    ("status", "body", "detail"),
    [
        (
            400,
            error("Amount must be at least ₹0.50 inr", code="amount_too_small", param="amount"),
            "Amount must be at least ₹0.50 inr",
        ),
        (
            402,
            error("Your card was declined.", type="card_error", code="card_declined", decline_code="generic_decline"),
            "Your card was declined.",
        ),
        (404, error("No such customer: 'cus_gone'", code="resource_missing"), "No such customer: 'cus_gone'"),
        (
            400,
            error("Keys for idempotent requests can only be used with the same parameters", type="idempotency_error"),
            "Keys for idempotent requests can only be used with the same parameters",
        ),
    ],
)
def test_client_errors_are_provider_refused_with_stripes_message(stripe_http, status, body, detail):
    stripe_http.answer("POST", "/v1/payment_intents", body, status=status)

    with pytest.raises(ProviderRefused) as exc:
        StripeGateway().start(payment=make_payment())

    assert exc.value.status == 400
    assert exc.value.code == "provider_refused"
    assert exc.value.detail == detail


def test_an_unconfigured_adapter_never_calls_out(settings, monkeypatch):
    fake = FakeStripeHTTP()
    settings.STRIPE_SECRET_KEY = ""
    monkeypatch.setattr(stripe_gateway, "HTTP_CLIENT", fake)

    with pytest.raises(ProviderUnavailable):
        StripeGateway().start(payment=make_payment())

    assert fake.requests == []


# --- webhooks: signatures ---------------------------------------------------------------------------------------


def succeeded_event(**intent) -> dict:
    values = {"status": "succeeded", "amount_received": 49900, "latest_charge": "ch_3MmlLrLkdIwHu7ix0snN0B15"}
    return event("payment_intent.succeeded", payment_intent(**{**values, **intent}), id="evt_3MtwBwLkdIwHu7ix0yg5q")


def test_stripe_signature_is_stripes_scheme():
    body = b'{"id": "evt_1"}'

    header = stripe_signature(body, "whsec_abc", 1_700_000_000)

    assert header == stripe.WebhookSignature.generate_signature_header(body.decode(), "whsec_abc", 1_700_000_000)
    assert header.startswith("t=1700000000,v1=")


@time_machine.travel(NOW, tick=False)
def test_a_validly_signed_delivery_is_accepted():
    body = event_body(succeeded_event())

    event_id, event_type, events = parse(body, {"Stripe-Signature": stripe_signature(body, WEBHOOK_SECRET, NOW_TS)})

    assert (event_id, event_type) == ("evt_3MtwBwLkdIwHu7ix0yg5q", "payment_intent.succeeded")
    assert [e.kind for e in events] == [EventKind.PAYMENT_CAPTURED]


@time_machine.travel(NOW, tick=False)
def test_a_tampered_body_is_refused():
    body = event_body(succeeded_event())
    header = stripe_signature(body, WEBHOOK_SECRET, NOW_TS)
    tampered = body.replace(b"49900", b"99900")

    with pytest.raises(SignatureInvalid) as exc:
        parse(tampered, {"Stripe-Signature": header})

    assert exc.value.status == 400
    assert exc.value.code == "signature_invalid"
    assert "No signatures found matching the expected signature" in exc.value.detail


@time_machine.travel(NOW, tick=False)
def test_a_body_signed_with_another_secret_is_refused():
    body = event_body(succeeded_event())

    with pytest.raises(SignatureInvalid):
        parse(body, {"Stripe-Signature": stripe_signature(body, "whsec_someone_else", NOW_TS)})


@time_machine.travel(NOW, tick=False)
def test_a_signature_older_than_300_seconds_is_refused():
    body = event_body(succeeded_event())

    with pytest.raises(SignatureInvalid) as exc:
        parse(body, {"Stripe-Signature": stripe_signature(body, WEBHOOK_SECRET, NOW_TS - 301)})

    assert "Timestamp outside the tolerance zone" in exc.value.detail


@time_machine.travel(NOW, tick=False)
def test_a_signature_300_seconds_old_is_still_accepted():
    body = event_body(succeeded_event())

    event_id, _, _ = parse(body, {"Stripe-Signature": stripe_signature(body, WEBHOOK_SECRET, NOW_TS - 300)})

    assert event_id == "evt_3MtwBwLkdIwHu7ix0yg5q"


@time_machine.travel(NOW, tick=False)
def test_re_verifying_a_stored_body_skips_only_the_age_check():
    body = event_body(succeeded_event())
    day_old = {"Stripe-Signature": stripe_signature(body, WEBHOOK_SECRET, NOW_TS - 86_400)}

    event_id, _, _ = parse(body, day_old, check_age=False)

    assert event_id == "evt_3MtwBwLkdIwHu7ix0yg5q"
    with pytest.raises(SignatureInvalid):
        parse(body.replace(b"49900", b"99900"), day_old, check_age=False)
    with pytest.raises(SignatureInvalid):
        parse(body, {"Stripe-Signature": stripe_signature(body, "whsec_other", NOW_TS)}, check_age=False)


@time_machine.travel(NOW, tick=False)
def test_one_of_several_signatures_matching_is_enough_during_secret_rolling():
    body = event_body(succeeded_event())
    good = stripe_signature(body, WEBHOOK_SECRET, NOW_TS).split(",")[1]
    old = stripe_signature(body, "whsec_old", NOW_TS).split(",")[1]

    event_id, _, _ = parse(body, {"Stripe-Signature": f"t={NOW_TS},{old},{good}"})

    assert event_id == "evt_3MtwBwLkdIwHu7ix0yg5q"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Stripe-Signature": ""},
        {"Stripe-Signature": "garbage"},
        {"Stripe-Signature": "t=notanumber,v1=abc"},
        {"Stripe-Signature": f"t={NOW_TS}"},
        {"Stripe-Signature": f"t={NOW_TS},v0=abc"},
    ],
)
@time_machine.travel(NOW, tick=False)
def test_a_missing_or_malformed_header_is_refused(headers):
    with pytest.raises(SignatureInvalid):
        parse(event_body(succeeded_event()), headers)


@time_machine.travel(NOW, tick=False)
def test_the_header_is_found_whatever_its_case_or_meta_spelling():
    body = event_body(succeeded_event())
    header = stripe_signature(body, WEBHOOK_SECRET, NOW_TS)

    assert parse(body, {"stripe-signature": header})[0] == "evt_3MtwBwLkdIwHu7ix0yg5q"
    assert parse(body, {"HTTP_STRIPE_SIGNATURE": header})[0] == "evt_3MtwBwLkdIwHu7ix0yg5q"


def test_without_a_webhook_secret_every_delivery_is_refused(settings):
    settings.STRIPE_WEBHOOK_SECRET = ""
    body = event_body(succeeded_event())

    with pytest.raises(SignatureInvalid):
        StripeGateway().parse_webhook(body=body, headers=signed_headers(body, "whsec_"))


def test_a_body_that_is_not_utf8_is_refused_as_unsigned():
    body = b'{"id": "evt_\xff"}'

    with pytest.raises(SignatureInvalid):
        parse(body, signed_headers(body))


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"object": "event", "type": "payment_intent.succeeded"}',
        b'{"object": "event", "id": "evt_1"}',
        b'{"id": "evt_1", "type": "payment_intent.succeeded"}',
        json.dumps({"object": "event", "id": "evt_" + "x" * 200, "type": "charge.refunded"}).encode(),
        b'{"object": "event", "id": "evt_1", "type": "x", "data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ],
)
def test_a_signed_body_that_is_not_a_stripe_event_is_invalid_payload(body):
    with pytest.raises(InvalidInput) as exc:
        parse(body, signed_headers(body))

    assert not isinstance(exc.value, SignatureInvalid)
    assert exc.value.code == "invalid_payload"


# --- webhooks: mapping ------------------------------------------------------------------------------------------


def test_payment_intent_succeeded_is_a_capture_of_the_amount_received(stripe_http):
    events = deliver(succeeded_event(payment_method_types=["card"]))

    assert events == [
        NormalizedEvent(
            kind=EventKind.PAYMENT_CAPTURED,
            event_id="evt_3MtwBwLkdIwHu7ix0yg5q",
            raw_type="payment_intent.succeeded",
            provider_order_id=PI,
            provider_payment_id="ch_3MmlLrLkdIwHu7ix0snN0B15",
            amount=Decimal("499.00"),
            currency="INR",
            method="card",
        )
    ]


def test_a_capture_with_several_possible_methods_records_none():
    (captured,) = deliver(succeeded_event(payment_method_types=["card", "link"]))

    assert captured.method == ""


def test_a_partial_capture_reports_what_was_received_not_what_was_asked():
    (captured,) = deliver(succeeded_event(amount=49900, amount_received=30000))

    assert captured.amount == Decimal("300.00")


def test_payment_intent_payment_failed_carries_the_error_and_the_method():
    last_error = {
        "type": "card_error",
        "code": "card_declined",
        "decline_code": "insufficient_funds",
        "message": "Your card has insufficient funds.",
        "payment_method": card_payment_method(),
    }
    intent = payment_intent(
        status="requires_payment_method", last_payment_error=last_error, latest_charge="ch_declined_1"
    )

    events = deliver(event("payment_intent.payment_failed", intent, id="evt_failed_1"))

    assert events == [
        NormalizedEvent(
            kind=EventKind.PAYMENT_FAILED,
            event_id="evt_failed_1",
            raw_type="payment_intent.payment_failed",
            provider_order_id=PI,
            currency="INR",
            method="card",
            error="Your card has insufficient funds.",
            data={"code": "card_declined", "decline_code": "insufficient_funds"},
        )
    ]


def test_payment_intent_canceled_is_a_cancellation_with_its_reason():
    intent = payment_intent(status="canceled", cancellation_reason="abandoned")

    events = deliver(event("payment_intent.canceled", intent, id="evt_cancel_1"))

    assert events == [
        NormalizedEvent(
            kind=EventKind.PAYMENT_CANCELLED,
            event_id="evt_cancel_1",
            raw_type="payment_intent.canceled",
            provider_order_id=PI,
            currency="INR",
            error="abandoned",
            data={"cancellation_reason": "abandoned"},
        )
    ]


def test_charge_refunded_yields_each_decided_refund_of_the_charge():
    refunds = [
        refund(id="re_partial_1", amount=10000, status="succeeded", payment_intent=None, charge=None),
        refund(id="re_partial_2", amount=5000, status="pending"),
        refund(id="re_partial_3", amount=2500, status="failed", failure_reason="expired_or_canceled_card"),
    ]
    obj = charge(amount_refunded=10000, method="upi", refunds=refunds)

    events = deliver(event("charge.refunded", obj, id="evt_refunded_1"))

    common = {
        "event_id": "evt_refunded_1",
        "raw_type": "charge.refunded",
        "provider_order_id": PI,
        "provider_payment_id": "ch_3MmlLrLkdIwHu7ix0snN0B15",
        "currency": "INR",
    }
    assert events == [
        NormalizedEvent(
            kind=EventKind.REFUND_SUCCEEDED,
            provider_refund_id="re_partial_1",
            amount=Decimal("100.00"),
            data={"status": "succeeded"},
            **common,
        ),
        NormalizedEvent(
            kind=EventKind.REFUND_FAILED,
            provider_refund_id="re_partial_3",
            amount=Decimal("25.00"),
            error="expired_or_canceled_card",
            data={"status": "failed"},
            **common,
        ),
    ]


def test_charge_refunded_without_its_refunds_list_is_ignored_and_left_to_the_refund_events():
    obj = charge(amount_refunded=49900)

    events = deliver(event("charge.refunded", obj, id="evt_refunded_2"))

    assert events == [NormalizedEvent(kind=EventKind.IGNORED, event_id="evt_refunded_2", raw_type="charge.refunded")]


def test_the_same_refund_delivered_by_charge_refunded_and_refund_updated_is_the_same_event_content():
    one = refund(id="re_same", amount=20000)
    (from_charge,) = deliver(event("charge.refunded", charge(amount_refunded=20000, refunds=[one]), id="evt_a"))
    (from_refund,) = deliver(event("refund.updated", one, id="evt_b"))

    assert (
        (from_charge.kind, from_charge.provider_refund_id, from_charge.amount)
        == (
            from_refund.kind,
            from_refund.provider_refund_id,
            from_refund.amount,
        )
        == (EventKind.REFUND_SUCCEEDED, "re_same", Decimal("200.00"))
    )
    assert from_charge.provider_order_id == from_refund.provider_order_id == PI


def test_refund_updated_succeeded():
    events = deliver(event("refund.updated", refund(amount=10050), id="evt_ru_1"))

    assert events == [
        NormalizedEvent(
            kind=EventKind.REFUND_SUCCEEDED,
            event_id="evt_ru_1",
            raw_type="refund.updated",
            provider_order_id=PI,
            provider_payment_id="ch_3MmlLrLkdIwHu7ix0snN0B15",
            provider_refund_id="re_3MmlLrLkdIwHu7ix0Q1yeVaR",
            amount=Decimal("100.50"),
            currency="INR",
            data={"status": "succeeded"},
        )
    ]


def test_refund_updated_failed_carries_the_failure_reason():
    obj = refund(status="failed", failure_reason="lost_or_stolen_card")

    (failed,) = deliver(event("refund.updated", obj, id="evt_ru_2"))

    assert failed.kind == EventKind.REFUND_FAILED
    assert failed.provider_refund_id == "re_3MmlLrLkdIwHu7ix0Q1yeVaR"
    assert failed.amount == Decimal("100.00")
    assert failed.error == "lost_or_stolen_card"


def test_refund_updated_canceled_is_a_failed_refund():
    (failed,) = deliver(event("refund.updated", refund(status="canceled"), id="evt_ru_3"))

    assert failed.kind == EventKind.REFUND_FAILED


def test_a_refund_still_pending_is_ignored():
    events = deliver(event("refund.updated", refund(status="pending"), id="evt_ru_4"))

    assert events == [NormalizedEvent(kind=EventKind.IGNORED, event_id="evt_ru_4", raw_type="refund.updated")]


def test_refund_created_and_refund_failed_map_like_refund_updated():
    (created,) = deliver(event("refund.created", refund(id="re_c"), id="evt_rc"))
    (failed,) = deliver(event("refund.failed", refund(id="re_f", status="failed"), id="evt_rf"))

    assert (created.kind, created.provider_refund_id) == (EventKind.REFUND_SUCCEEDED, "re_c")
    assert (failed.kind, failed.provider_refund_id) == (EventKind.REFUND_FAILED, "re_f")


def test_charge_dispute_created_opens_a_dispute_on_the_payment_intent():
    events = deliver(event("charge.dispute.created", dispute(), id="evt_dispute_1"))

    assert events == [
        NormalizedEvent(
            kind=EventKind.DISPUTE_OPENED,
            event_id="evt_dispute_1",
            raw_type="charge.dispute.created",
            provider_order_id=PI,
            provider_payment_id="ch_3MmlLrLkdIwHu7ix0snN0B15",
            amount=Decimal("499.00"),
            currency="INR",
            error="Dispute du_1MtJUT2eZvKYlo2CNaw2HvEv: fraudulent.",
            data={
                "dispute_id": "du_1MtJUT2eZvKYlo2CNaw2HvEv",
                "reason": "fraudulent",
                "status": "warning_needs_response",
            },
        )
    ]


@pytest.mark.parametrize(
    ("event_type", "obj"),
    [
        ("payment_intent.created", payment_intent()),
        ("charge.succeeded", charge()),
        ("customer.created", customer()),
        ("payment_intent.succeeded", None),
        ("charge.refunded", "ch_1"),
    ],
)
def test_anything_else_is_one_ignored_event(event_type, obj):
    events = deliver(event(event_type, obj, id="evt_other"))

    assert events == [NormalizedEvent(kind=EventKind.IGNORED, event_id="evt_other", raw_type=event_type)]


def test_an_amount_in_an_unreadable_currency_is_invalid_payload():
    body = event_body(succeeded_event(currency="rupees"))

    with pytest.raises(InvalidInput) as exc:
        parse(body, signed_headers(body))

    assert exc.value.code == "invalid_payload"


def test_parsing_a_webhook_never_calls_stripe(stripe_http):
    deliver(succeeded_event())
    deliver(event("charge.refunded", charge(refunds=[refund()])))

    assert stripe_http.requests == []


# --- refunds ----------------------------------------------------------------------------------------------------


def test_refund_sends_the_payment_intent_minor_units_and_the_refunds_idempotency_key(stripe_http):
    stripe_http.answer("POST", "/v1/refunds", refund(id="re_new", amount=12345))
    payment = make_payment(provider_order_id=PI)

    result = StripeGateway().refund(payment=payment, refund=make_refund(payment, amount="123.45"))

    sent = stripe_http.last
    assert sent.url == f"{API_BASE}/v1/refunds"
    assert sent.idempotency_key == "refund-3-5f1c"
    assert sent.params == {
        "payment_intent": PI,
        "amount": "12345",
        "metadata[refund_id]": "3",
        "metadata[payment_id]": "7",
    }
    assert result == RefundResult(provider_refund_id="re_new", succeeded=True)


def test_a_pending_refund_is_pending(stripe_http):
    stripe_http.answer("POST", "/v1/refunds", refund(id="re_pending", status="pending"))
    payment = make_payment(provider_order_id=PI)

    result = StripeGateway().refund(payment=payment, refund=make_refund(payment))

    assert result == RefundResult(provider_refund_id="re_pending", succeeded=False, pending=True)


def test_a_refund_that_needs_action_is_pending(stripe_http):
    stripe_http.answer("POST", "/v1/refunds", refund(id="re_action", status="requires_action"))
    payment = make_payment(provider_order_id=PI)

    result = StripeGateway().refund(payment=payment, refund=make_refund(payment))

    assert result == RefundResult(provider_refund_id="re_action", succeeded=False, pending=True)


def test_a_failed_refund_carries_the_failure_reason(stripe_http):
    stripe_http.answer("POST", "/v1/refunds", refund(id="re_failed", status="failed", failure_reason="declined"))
    payment = make_payment(provider_order_id=PI)

    result = StripeGateway().refund(payment=payment, refund=make_refund(payment))

    assert result == RefundResult(
        provider_refund_id="re_failed", succeeded=False, error="Stripe refund failed: declined."
    )


def test_a_refund_larger_than_the_charge_is_refused_with_stripes_message(stripe_http):
    message = "Refund amount (₹600.00) is greater than unrefunded amount on charge (₹499.00)"
    stripe_http.answer("POST", "/v1/refunds", error(message, code="amount_too_large", param="amount"), status=400)
    payment = make_payment(provider_order_id=PI)

    with pytest.raises(ProviderRefused) as exc:
        StripeGateway().refund(payment=payment, refund=make_refund(payment, amount="600.00"))

    assert exc.value.detail == message


def test_a_refund_when_stripe_is_down_is_unavailable(stripe_http):
    stripe_http.fail("POST", "/v1/refunds")
    payment = make_payment(provider_order_id=PI)

    with pytest.raises(ProviderUnavailable):
        StripeGateway().refund(payment=payment, refund=make_refund(payment))


# --- fetch ------------------------------------------------------------------------------------------------------


def test_fetch_turns_a_succeeded_intent_and_its_refunds_into_events(stripe_http):
    intent = payment_intent(
        status="succeeded",
        amount_received=49900,
        latest_charge=charge(method="upi"),
        payment_method={"id": "pm_upi_1", "object": "payment_method", "type": "upi", "upi": {"vpa": "asha@okhdfc"}},
    )
    stripe_http.answer("GET", f"/v1/payment_intents/{PI}", intent)
    stripe_http.answer(
        "GET",
        "/v1/refunds",
        listing(
            "/v1/refunds",
            [
                refund(id="re_a", amount=10000, status="succeeded"),
                refund(id="re_b", amount=5000, status="pending"),
                refund(id="re_c", amount=2000, status="failed", failure_reason="unknown"),
            ],
        ),
    )

    events = StripeGateway().fetch(payment=make_payment(provider_order_id=PI))

    retrieve, refunds = stripe_http.requests
    assert retrieve.params == {"expand[0]": "payment_method", "expand[1]": "latest_charge"}
    assert refunds.params == {"payment_intent": PI, "limit": "100"}
    assert [(e.kind, e.provider_refund_id, e.amount, e.method) for e in events] == [
        (EventKind.PAYMENT_CAPTURED, "", Decimal("499.00"), "upi"),
        (EventKind.REFUND_SUCCEEDED, "re_a", Decimal("100.00"), ""),
        (EventKind.REFUND_FAILED, "re_c", Decimal("20.00"), ""),
    ]
    assert events[0].provider_payment_id == "ch_3MmlLrLkdIwHu7ix0snN0B15"
    assert [e.event_id for e in events] == [f"fetch:{PI}:succeeded", "fetch:re_a:succeeded", "fetch:re_c:failed"]
    assert all(e.provider_order_id == PI for e in events)


def test_fetch_pages_through_every_refund(stripe_http):
    stripe_http.answer("GET", f"/v1/payment_intents/{PI}", payment_intent(status="succeeded", amount_received=49900))
    stripe_http.answer("GET", "/v1/refunds", listing("/v1/refunds", [refund(id="re_1", amount=100)], has_more=True))
    stripe_http.answer("GET", "/v1/refunds", listing("/v1/refunds", [refund(id="re_2", amount=200)]))

    events = StripeGateway().fetch(payment=make_payment(provider_order_id=PI))

    assert [e.provider_refund_id for e in events[1:]] == ["re_1", "re_2"]
    assert stripe_http.requests[-1].params == {"payment_intent": PI, "limit": "100", "starting_after": "re_1"}


@pytest.mark.parametrize(
    ("intent", "expected"),
    [
        (
            payment_intent(status="requires_capture", amount_capturable=49900),
            (EventKind.PAYMENT_AUTHORIZED, Decimal("499.00")),
        ),
        (
            payment_intent(status="canceled", cancellation_reason="requested_by_customer"),
            (EventKind.PAYMENT_CANCELLED, None),
        ),
        (
            payment_intent(
                status="requires_payment_method", last_payment_error={"message": "Card declined", "type": "card_error"}
            ),
            (EventKind.PAYMENT_FAILED, None),
        ),
    ],
)
def test_fetch_maps_each_decided_status(stripe_http, intent, expected):
    stripe_http.answer("GET", f"/v1/payment_intents/{PI}", intent)

    events = StripeGateway().fetch(payment=make_payment(provider_order_id=PI))

    assert [(e.kind, e.amount) for e in events] == [expected]
    assert len(stripe_http.requests) == 1


@pytest.mark.parametrize(
    "status", ["requires_payment_method", "requires_confirmation", "requires_action", "processing"]
)
def test_fetch_of_an_undecided_intent_yields_nothing(stripe_http, status):
    stripe_http.answer("GET", f"/v1/payment_intents/{PI}", payment_intent(status=status))

    assert StripeGateway().fetch(payment=make_payment(provider_order_id=PI)) == []


def test_fetch_of_a_payment_never_opened_at_stripe_calls_nothing(stripe_http):
    assert StripeGateway().fetch(payment=make_payment(provider_order_id="")) == []
    assert stripe_http.requests == []


def test_fetch_of_an_intent_stripe_does_not_know_is_refused(stripe_http):
    stripe_http.answer("GET", f"/v1/payment_intents/{PI}", error(f"No such payment_intent: '{PI}'"), status=404)

    with pytest.raises(ProviderRefused) as exc:
        StripeGateway().fetch(payment=make_payment(provider_order_id=PI))

    assert exc.value.detail == f"No such payment_intent: '{PI}'"


# --- client-side confirmation -----------------------------------------------------------------------------------


def test_a_confirmation_is_checked_against_stripe_and_yields_what_stripe_says(stripe_http):
    intent = payment_intent(status="succeeded", amount_received=49900, latest_charge=charge(method="card"))
    stripe_http.answer("GET", f"/v1/payment_intents/{PI}", intent)

    events = StripeGateway().verify_confirmation(
        data={
            "payment_intent": PI,
            "payment_intent_client_secret": intent["client_secret"],
            "redirect_status": "failed",
        }
    )

    assert [(e.kind, e.provider_order_id, e.amount, e.method) for e in events] == [
        (EventKind.PAYMENT_CAPTURED, PI, Decimal("499.00"), "card")
    ]
    assert stripe_http.last.path == f"/v1/payment_intents/{PI}"


def test_a_confirmation_with_another_intents_secret_is_refused_without_calling_stripe(stripe_http):
    with pytest.raises(SignatureInvalid):
        StripeGateway().verify_confirmation(
            data={"payment_intent": PI, "payment_intent_client_secret": "pi_other_secret_abc"}
        )

    assert stripe_http.requests == []


def test_a_confirmation_with_a_forged_secret_is_refused(stripe_http):
    stripe_http.answer("GET", f"/v1/payment_intents/{PI}", payment_intent(status="succeeded", amount_received=49900))

    with pytest.raises(SignatureInvalid) as exc:
        StripeGateway().verify_confirmation(
            data={"payment_intent": PI, "payment_intent_client_secret": f"{PI}_secret_forged"}
        )

    assert exc.value.code == "signature_invalid"


def test_a_confirmation_of_an_undecided_intent_yields_nothing(stripe_http):
    intent = payment_intent(status="processing")
    stripe_http.answer("GET", f"/v1/payment_intents/{PI}", intent)

    events = StripeGateway().verify_confirmation(
        data={"payment_intent": PI, "payment_intent_client_secret": intent["client_secret"]}
    )

    assert events == []


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        ({}, ["payment_intent", "payment_intent_client_secret"]),
        ({"payment_intent": PI}, ["payment_intent_client_secret"]),
        ({"payment_intent": "ch_123", "payment_intent_client_secret": "x"}, ["payment_intent"]),
        (
            {"payment_intent": ["pi_1"], "payment_intent_client_secret": 5},
            ["payment_intent", "payment_intent_client_secret"],
        ),
    ],
)
def test_an_incomplete_confirmation_is_invalid_input_naming_the_fields(stripe_http, data, fields):
    with pytest.raises(InvalidInput) as exc:
        StripeGateway().verify_confirmation(data=data)

    assert exc.value.code == "invalid"
    assert sorted(exc.value.fields) == fields
    assert stripe_http.requests == []


# --- customers and saved methods --------------------------------------------------------------------------------


def test_customer_create_sends_what_is_known(stripe_http):
    stripe_http.answer("POST", "/v1/customers", customer(id="cus_new"))

    customer_id = StripeGateway().customer_create(email="asha@example.com", phone="", name="Asha Rao")

    assert customer_id == "cus_new"
    assert stripe_http.last.params == {"email": "asha@example.com", "name": "Asha Rao"}
    assert stripe_http.last.idempotency_key  # the SDK's own key on every POST


def test_methods_list_maps_cards_and_upi_and_pages_through(stripe_http):
    path = "/v1/customers/cus_NffrFeUfNV2Hib/payment_methods"
    upi = {
        "id": "pm_upi",
        "object": "payment_method",
        "type": "upi",
        "upi": {"vpa": "asha@okicici"},
        "customer": "cus_NffrFeUfNV2Hib",
    }
    stripe_http.answer("GET", path, listing(path, [card_payment_method(id="pm_visa")], has_more=True))
    stripe_http.answer(
        "GET",
        path,
        listing(
            path, [card_payment_method(id="pm_mc", brand="mastercard", last4="4444", exp_month=1, exp_year=2031), upi]
        ),
    )

    methods = StripeGateway().methods_list(customer_id="cus_NffrFeUfNV2Hib")

    assert methods == [
        MethodInfo(provider_method_id="pm_visa", method="card", brand="visa", last4="4242", exp_month=8, exp_year=2030),
        MethodInfo(
            provider_method_id="pm_mc", method="card", brand="mastercard", last4="4444", exp_month=1, exp_year=2031
        ),
        MethodInfo(provider_method_id="pm_upi", method="upi", vpa_handle="okicici"),
    ]
    assert stripe_http.requests[0].params == {"limit": "100"}
    assert stripe_http.requests[1].params == {"limit": "100", "starting_after": "pm_visa"}


def test_method_detach_detaches_a_method_of_that_customer(stripe_http):
    stripe_http.answer("GET", "/v1/payment_methods/pm_visa", card_payment_method(id="pm_visa", customer="cus_1"))
    stripe_http.answer("POST", "/v1/payment_methods/pm_visa/detach", card_payment_method(id="pm_visa"))

    StripeGateway().method_detach(customer_id="cus_1", provider_method_id="pm_visa")

    assert [(r.method, r.path) for r in stripe_http.requests] == [
        ("GET", "/v1/payment_methods/pm_visa"),
        ("POST", "/v1/payment_methods/pm_visa/detach"),
    ]


def test_method_detach_refuses_a_method_of_another_customer(stripe_http):
    stripe_http.answer("GET", "/v1/payment_methods/pm_visa", card_payment_method(id="pm_visa", customer="cus_other"))

    with pytest.raises(ProviderRefused):
        StripeGateway().method_detach(customer_id="cus_1", provider_method_id="pm_visa")

    assert stripe_http.sent("POST", "/v1/payment_methods/pm_visa/detach") == []


def test_method_detach_of_an_already_detached_method_is_refused(stripe_http):
    stripe_http.answer("GET", "/v1/payment_methods/pm_visa", card_payment_method(id="pm_visa", customer=None))

    with pytest.raises(ProviderRefused):
        StripeGateway().method_detach(customer_id="cus_1", provider_method_id="pm_visa")


def test_methods_list_when_stripe_is_down_is_unavailable(stripe_http):
    stripe_http.fail("GET", "/v1/customers/cus_1/payment_methods")

    with pytest.raises(ProviderUnavailable):
        StripeGateway().methods_list(customer_id="cus_1")
