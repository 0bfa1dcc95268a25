"""The Razorpay adapter against the real ``razorpay`` SDK, HTTP faked at the ``requests`` transport
(``tests/payments/razorpay_fakes.py``): what would have been sent (paths, JSON bodies in paise, basic auth), how
answers and failures map to our events and errors, and both signatures computed with Razorpay's real algorithm."""

import json
from decimal import Decimal

import pytest
import razorpay

from commerce.core.errors import InvalidInput
from commerce.orders.models import Order
from payments.gateways import razorpay as adapter_module
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
from payments.gateways.razorpay import RazorpayGateway, vpa_handle
from payments.models import Payment, Refund
from tests.payments.razorpay_fakes import (
    KEY_ID,
    KEY_SECRET,
    WEBHOOK_SECRET,
    FakeRazorpay,
    card_entity,
    dispute_entity,
    install_fake_razorpay,
    order_entity,
    payment_entity,
    razorpay_payment_signature,
    razorpay_webhook_signature,
    refund_entity,
    signed_webhook,
    webhook_body,
    webhook_headers,
)

PAYMENT_KEY = "pay-7c9e6679-7425-40de-944b-e07fc1f90ae7"
REFUND_KEY = "refund-9f1c2b7e52aa4c559c1d2d5f3d1e8a10"  # 39 characters: fits the receipt


@pytest.fixture(autouse=True)
def fake(monkeypatch, settings):
    """Every test: the test keys in the settings and the adapter's HTTP going to a fresh fake."""
    return install_fake_razorpay(monkeypatch, settings)


def payment_of(amount="499.00", currency="INR", number="ORD-2611-0042", **fields) -> Payment:
    """An unsaved payment of an unsaved order (the adapter never touches the database)."""
    values = {"pk": 42, "provider": "razorpay", "idempotency_key": PAYMENT_KEY, **fields}
    return Payment(order=Order(number=number), amount=Decimal(amount), currency=currency, **values)


def refund_of(payment: Payment, amount="100.00", key=REFUND_KEY) -> Refund:
    return Refund(
        pk=7, payment=payment, amount=Decimal(amount), currency=payment.currency, reason="Damaged", idempotency_key=key
    )


def captured_payment(fake, amount="499.00", **pay_fields) -> Payment:
    """A payment started at the fake and paid there (captured), as our row would hold it."""
    payment = payment_of(amount=amount)
    started = RazorpayGateway().start(payment=payment)
    paid = fake.pay(started.provider_order_id, **pay_fields)
    payment.provider_order_id = started.provider_order_id
    payment.provider_payment_id = paid["id"]
    return payment


# --- configuration and transport ---------------------------------------------------------------------------


def test_is_configured_needs_both_keys_and_the_webhook_secret(settings):
    settings.RAZORPAY_KEY_ID, settings.RAZORPAY_KEY_SECRET, settings.RAZORPAY_WEBHOOK_SECRET = KEY_ID, KEY_SECRET, ""
    assert RazorpayGateway().is_configured() is False
    settings.RAZORPAY_WEBHOOK_SECRET = WEBHOOK_SECRET
    assert RazorpayGateway().is_configured() is True
    settings.RAZORPAY_KEY_SECRET = ""
    assert RazorpayGateway().is_configured() is False
    assert RazorpayGateway.name == "razorpay"


@pytest.mark.parametrize(
    ("api_base", "expected_url"),
    [
        ("", "https://api.razorpay.com/v1/orders"),
        ("http://razorpay-double:9000", "http://razorpay-double:9000/v1/orders"),
        ("http://razorpay-double:9000/v1/", "http://razorpay-double:9000/v1/orders"),
    ],
)
def test_requests_go_to_razorpay_api_base_with_basic_auth_and_a_timeout(fake, settings, api_base, expected_url):
    settings.RAZORPAY_API_BASE = api_base
    RazorpayGateway().start(payment=payment_of())
    sent = fake.calls[-1]
    assert (sent.method, sent.url) == ("POST", expected_url)
    assert sent.auth == (KEY_ID, KEY_SECRET)
    assert sent.timeout == (3.05, 10.0)
    assert sent.headers["Content-type"] == "application/json"
    assert sent.headers["User-Agent"].startswith("Razorpay-Python/2.0.1")


def test_a_transport_passed_to_the_constructor_wins_over_the_module_hook(fake, settings):
    own = FakeRazorpay()
    RazorpayGateway(transport=own).customer_create(email="a@example.com", phone="", name="Asha Rao")
    assert [call.path for call in own.calls] == ["/v1/customers"]
    assert fake.calls == []


# --- start -------------------------------------------------------------------------------------------------


def test_start_creates_an_order_in_paise_with_our_receipt_and_auto_capture(fake, settings):
    settings.INVOICE_SELLER_NAME = "Commerce Platform Pvt. Ltd."
    started = RazorpayGateway().start(payment=payment_of(amount="1199.99"))

    lookup, create = fake.calls
    assert (lookup.method, lookup.path, lookup.query) == (
        "GET",
        "/v1/orders",
        {"receipt": "ORD-2611-0042", "count": "100"},
    )
    assert (create.method, create.path) == ("POST", "/v1/orders")
    assert create.json == {
        "amount": 119999,
        "currency": "INR",
        "receipt": "ORD-2611-0042",
        "payment_capture": 1,
        "notes": {"payment_id": "42", "payment_key": PAYMENT_KEY, "order_number": "ORD-2611-0042"},
    }
    order_id = next(iter(fake.orders))
    assert started == StartedPayment(
        provider_order_id=order_id,
        client={
            "key_id": KEY_ID,
            "order_id": order_id,
            "amount": {"amount": "1199.99", "currency": "INR"},
            "amount_minor": 119999,
            "currency": "INR",
            "name": "Commerce Platform Pvt. Ltd.",
            "description": "Order ORD-2611-0042",
        },
    )


@pytest.mark.parametrize(("amount", "currency", "minor"), [("499.00", "INR", 49900), ("10.05", "USD", 1005)])
def test_start_sends_minor_units_of_the_payments_currency(fake, amount, currency, minor):
    RazorpayGateway().start(payment=payment_of(amount=amount, currency=currency))
    assert (fake.calls[-1].json["amount"], fake.calls[-1].json["currency"]) == (minor, currency)


def test_start_again_after_a_lost_answer_reuses_the_order_opened_for_this_payment(fake):
    first = RazorpayGateway().start(payment=payment_of())
    second = RazorpayGateway().start(payment=payment_of())
    assert second == first
    assert len(fake.posted("/v1/orders")) == 1
    assert len(fake.orders) == 1


def test_start_does_not_reuse_an_order_of_another_payment_or_amount_or_a_paid_one(fake):
    first = RazorpayGateway().start(payment=payment_of())
    other_key = RazorpayGateway().start(payment=payment_of(idempotency_key="pay-another-attempt"))
    other_amount = RazorpayGateway().start(payment=payment_of(amount="500.00"))
    fake.pay(first.provider_order_id)
    after_paid = RazorpayGateway().start(payment=payment_of())
    ids = {first.provider_order_id, other_key.provider_order_id, other_amount.provider_order_id}
    assert len(ids | {after_paid.provider_order_id}) == 4
    assert len(fake.posted("/v1/orders")) == 4


def test_start_with_a_customer_and_save_method_asks_checkout_to_save_the_card(fake):
    saving = RazorpayGateway().start(payment=payment_of(), customer_id="cust_4xbQrmEoA5WJ0G", save_method=True)
    assert (saving.client["customer_id"], saving.client["save"]) == ("cust_4xbQrmEoA5WJ0G", 1)
    not_saving = RazorpayGateway().start(payment=payment_of(idempotency_key="k2"), customer_id="cust_4xbQrmEoA5WJ0G")
    assert "customer_id" not in not_saving.client
    assert "save" not in not_saving.client


def test_start_refuses_an_answer_that_is_not_the_order_asked_for(fake, monkeypatch):
    real_route = fake._route

    def wrong_amount(req):
        status, answer = real_route(req)
        if req.method == "POST":
            answer = {**answer, "amount": 100}
        return status, answer

    monkeypatch.setattr(fake, "_route", wrong_amount)
    with pytest.raises(InvalidInput, match="malformed order") as caught:
        RazorpayGateway().start(payment=payment_of())
    assert caught.value.code == "provider_malformed"


# --- errors ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("failure", ["connection", "timeout", 500, 502])
def test_a_provider_down_or_failing_is_provider_unavailable(fake, failure):
    fake.fail_next(failure)
    with pytest.raises(ProviderUnavailable) as caught:
        RazorpayGateway().start(payment=payment_of())
    assert (caught.value.status, caught.value.code) == (503, "provider_unavailable")
    assert len(fake.calls) == 1  # no retries with sleeps inside a request


def test_a_non_json_gateway_page_is_provider_unavailable(fake):
    fake.fail_next(502, body=b"<html><body>502 Bad Gateway</body></html>")
    with pytest.raises(ProviderUnavailable):
        RazorpayGateway().customer_create(email="a@example.com", phone="", name="Asha")


def test_a_gateway_error_behind_razorpay_is_provider_unavailable(fake):
    fake.fail_next(502, body={"error": {"code": "GATEWAY_ERROR", "description": "The bank did not respond"}})
    with pytest.raises(ProviderUnavailable):
        RazorpayGateway().start(payment=payment_of())


def test_a_bad_request_is_provider_refused_with_razorpays_reason(fake):
    with pytest.raises(ProviderRefused) as caught:
        RazorpayGateway().start(payment=payment_of(amount="0.50"))
    assert (caught.value.status, caught.value.code) == (400, "provider_refused")
    assert caught.value.detail == "Razorpay refused to create the order: The amount must be atleast INR 1.00"


# --- checkout confirmation ---------------------------------------------------------------------------------


def confirmation(order_id, payment_id, secret=KEY_SECRET):
    return {
        "razorpay_order_id": order_id,
        "razorpay_payment_id": payment_id,
        "razorpay_signature": razorpay_payment_signature(order_id, payment_id, secret),
    }


def test_a_verified_confirmation_of_a_captured_upi_payment_is_a_capture_with_the_handle_only(fake):
    order_id = RazorpayGateway().start(payment=payment_of()).provider_order_id
    paid = fake.pay(order_id, method="upi", vpa="gaurav.kumar@okhdfc")
    events = RazorpayGateway().verify_confirmation(data=confirmation(order_id, paid["id"]))
    assert fake.calls[-1].path == f"/v1/payments/{paid['id']}"
    assert events == [
        NormalizedEvent(
            kind=EventKind.PAYMENT_CAPTURED,
            event_id=f"confirm:{paid['id']}",
            raw_type="checkout.confirmed",
            provider_order_id=order_id,
            provider_payment_id=paid["id"],
            amount=Decimal("499.00"),
            currency="INR",
            method="upi",
            vpa_handle="okhdfc",
            data={
                "status": "captured",
                "payment_amount": Decimal("499.00"),
                "payment_key": "",
                "error_code": "",
                "error_reason": "",
            },
        )
    ]
    assert "gaurav" not in repr(events)
    assert "example.com" not in repr(events)


def test_a_verified_confirmation_of_an_authorised_card_payment_is_an_authorisation(fake):
    order_id = RazorpayGateway().start(payment=payment_of()).provider_order_id
    paid = fake.pay(order_id, status="authorized", method="card", vpa=None, card=card_entity())
    (event,) = RazorpayGateway().verify_confirmation(data=confirmation(order_id, paid["id"]))
    assert (event.kind, event.amount, event.method, event.vpa_handle) == (
        EventKind.PAYMENT_AUTHORIZED,
        Decimal("499.00"),
        "card",
        "",
    )


def test_the_sdks_own_verifier_accepts_the_signature_the_fakes_compute():
    client = razorpay.Client(auth=(KEY_ID, KEY_SECRET))
    assert client.utility.verify_payment_signature(confirmation("order_IluGWxBm9U8zJ8", "pay_IluQ7PDUAnHSz6")) is True
    body = webhook_body("payment.captured", payment=payment_entity())
    assert client.utility.verify_webhook_signature(body.decode(), razorpay_webhook_signature(body), WEBHOOK_SECRET)


@pytest.mark.parametrize(
    "data",
    [
        confirmation("order_IluGWxBm9U8zJ8", "pay_IluQ7PDUAnHSz6", secret="not-the-key-secret"),
        {**confirmation("order_IluGWxBm9U8zJ8", "pay_IluQ7PDUAnHSz6"), "razorpay_payment_id": "pay_SomeoneElse01"},
        {**confirmation("order_IluGWxBm9U8zJ8", "pay_IluQ7PDUAnHSz6"), "razorpay_order_id": "order_Another0001"},
        {**confirmation("order_IluGWxBm9U8zJ8", "pay_IluQ7PDUAnHSz6"), "razorpay_signature": "0" * 64},
        {**confirmation("order_IluGWxBm9U8zJ8", "pay_IluQ7PDUAnHSz6"), "razorpay_signature": "é" * 64},
        {**confirmation("order_IluGWxBm9U8zJ8", "pay_IluQ7PDUAnHSz6"), "razorpay_signature": ""},
        {**confirmation("order_Iluĝ", "pay_IluQ7PDUAnHSz6")},
    ],
    ids=["wrong-secret", "other-payment", "other-order", "zeros", "non-ascii", "empty", "non-ascii-id"],
)
def test_a_forged_confirmation_is_signature_invalid_and_asks_razorpay_nothing(fake, data):
    with pytest.raises(SignatureInvalid) as caught:
        RazorpayGateway().verify_confirmation(data=data)
    assert (caught.value.status, caught.value.code) == (400, "signature_invalid")
    assert caught.value.detail == "The Razorpay payment signature does not verify."
    assert fake.calls == []


def test_an_incomplete_confirmation_names_the_missing_fields(fake):
    with pytest.raises(SignatureInvalid) as caught:
        RazorpayGateway().verify_confirmation(
            data={"razorpay_order_id": "order_IluGWxBm9U8zJ8", "razorpay_signature": 5}
        )
    assert caught.value.fields == {
        "razorpay_payment_id": ["This field is required."],
        "razorpay_signature": ["This field is required."],
    }
    assert fake.calls == []


def test_a_confirmation_while_razorpay_is_down_is_an_authorisation_of_unknown_amount(fake):
    fake.fail_next("connection")
    events = RazorpayGateway().verify_confirmation(data=confirmation("order_IluGWxBm9U8zJ8", "pay_IluQ7PDUAnHSz6"))
    assert events == [
        NormalizedEvent(
            kind=EventKind.PAYMENT_AUTHORIZED,
            event_id="confirm:pay_IluQ7PDUAnHSz6",
            raw_type="checkout.confirmed",
            provider_order_id="order_IluGWxBm9U8zJ8",
            provider_payment_id="pay_IluQ7PDUAnHSz6",
            data={"status": "", "fetched": False},
        )
    ]


def test_a_signed_pair_whose_payment_belongs_to_another_order_is_refused(fake):
    order_id = RazorpayGateway().start(payment=payment_of()).provider_order_id
    other = RazorpayGateway().start(payment=payment_of(idempotency_key="k-other")).provider_order_id
    paid = fake.pay(other)
    with pytest.raises(SignatureInvalid, match="does not belong to that order"):
        RazorpayGateway().verify_confirmation(data=confirmation(order_id, paid["id"]))


# --- webhooks ----------------------------------------------------------------------------------------------


def parse(body, headers):
    return RazorpayGateway().parse_webhook(body=body, headers=headers)


def test_payment_captured_upi_collect_records_the_method_and_the_vpa_handle_only(fake):
    payment = payment_entity(method="upi", vpa="Gaurav.Kumar@OKICICI", notes={"payment_key": PAYMENT_KEY})
    body, headers = signed_webhook("payment.captured", event_id="evt_Hs7dTx1", payment=payment)
    assert parse(body, headers) == (
        "evt_Hs7dTx1",
        "payment.captured",
        [
            NormalizedEvent(
                kind=EventKind.PAYMENT_CAPTURED,
                event_id="evt_Hs7dTx1",
                raw_type="payment.captured",
                provider_order_id="order_DBJOWzybf0sJbb",
                provider_payment_id="pay_DESlfW9H8K9uqM",
                amount=Decimal("499.00"),
                currency="INR",
                method="upi",
                vpa_handle="okicici",
                data={
                    "status": "captured",
                    "payment_amount": Decimal("499.00"),
                    "payment_key": PAYMENT_KEY,
                    "error_code": "",
                    "error_reason": "",
                },
            )
        ],
    )
    assert fake.calls == []  # parsing never calls Razorpay


@pytest.mark.parametrize(
    ("upi", "vpa", "handle"),
    [
        ({"payer_account_type": "bank_account", "vpa": "asha@ybl", "flow": "intent"}, None, "ybl"),
        ({"flow": "intent"}, None, ""),
        (None, "not-a-vpa", ""),
        (None, "two@at@signs", ""),
        (None, "name@bad handle!", ""),
    ],
    ids=["intent-with-vpa", "intent-without-vpa", "no-at", "two-ats", "bad-handle"],
)
def test_payment_captured_upi_intent_and_odd_vpas(upi, vpa, handle):
    payment = payment_entity(method="upi", vpa=vpa, upi=upi)
    _, _, (event,) = parse(*signed_webhook("payment.captured", event_id="evt_1", payment=payment))
    assert (event.method, event.vpa_handle) == ("upi", handle)


@pytest.mark.parametrize(
    ("method", "extra", "expected"),
    [
        ("card", {"card": card_entity(), "vpa": None}, "card"),
        ("emi", {"card": card_entity(), "vpa": None}, "card"),
        ("netbanking", {"bank": "HDFC", "vpa": None}, "netbanking"),
        ("wallet", {"wallet": "freecharge", "vpa": None}, "wallet"),
        ("paylater", {"vpa": None}, "other"),
    ],
)
def test_payment_authorized_records_the_method(method, extra, expected):
    payment = payment_entity(status="authorized", method=method, **extra)
    _, kind, (event,) = parse(*signed_webhook("payment.authorized", event_id="evt_2", payment=payment))
    assert (kind, event.kind, event.method, event.vpa_handle, event.amount) == (
        "payment.authorized",
        EventKind.PAYMENT_AUTHORIZED,
        expected,
        "",
        Decimal("499.00"),
    )


def test_payment_failed_carries_the_error_description_and_no_amount():
    payment = payment_entity(
        status="failed",
        method="upi",
        error_code="BAD_REQUEST_ERROR",
        error_description="Payment was unsuccessful as the UPI collect request expired.",
        error_reason="payment_timed_out",
    )
    _, _, (event,) = parse(*signed_webhook("payment.failed", event_id="evt_3", payment=payment))
    assert (event.kind, event.amount, event.currency) == (EventKind.PAYMENT_FAILED, None, "INR")
    assert event.error == "Payment was unsuccessful as the UPI collect request expired. (payment_timed_out)"
    assert (event.data["error_code"], event.data["payment_amount"]) == ("BAD_REQUEST_ERROR", Decimal("499.00"))


def test_order_paid_is_a_capture_of_the_orders_amount_paid():
    order = order_entity(order_id="order_DBJOWzybf0sJbb", amount=99800, amount_paid=99800, status="paid")
    payment = payment_entity(amount=99800, method="upi", vpa="asha@okaxis")
    _, kind, (event,) = parse(*signed_webhook("order.paid", event_id="evt_4", order=order, payment=payment))
    assert kind == "order.paid"
    assert event == NormalizedEvent(
        kind=EventKind.PAYMENT_CAPTURED,
        event_id="evt_4",
        raw_type="order.paid",
        provider_order_id="order_DBJOWzybf0sJbb",
        provider_payment_id="pay_DESlfW9H8K9uqM",
        amount=Decimal("998.00"),
        currency="INR",
        method="upi",
        vpa_handle="okaxis",
        data={
            "status": "captured",
            "payment_amount": Decimal("998.00"),
            "payment_key": "",
            "error_code": "",
            "error_reason": "",
            "order_status": "paid",
        },
    )


def test_refund_processed_names_the_refund_its_payment_and_order_and_our_key():
    refund = refund_entity(amount=25050, notes={"refund_key": REFUND_KEY, "refund_id": "7"}, receipt="rc-7")
    payment = payment_entity(amount_refunded=25050)
    _, _, (event,) = parse(*signed_webhook("refund.processed", event_id="evt_5", refund=refund, payment=payment))
    assert event == NormalizedEvent(
        kind=EventKind.REFUND_SUCCEEDED,
        event_id="evt_5",
        raw_type="refund.processed",
        provider_order_id="order_DBJOWzybf0sJbb",
        provider_payment_id="pay_DESlfW9H8K9uqM",
        provider_refund_id="rfnd_FP8QHiV938haTz",
        amount=Decimal("250.50"),
        currency="INR",
        data={"status": "processed", "refund_key": REFUND_KEY, "receipt": "rc-7"},
    )


def test_refund_failed_without_the_payment_entity_still_names_the_payment():
    refund = refund_entity(status="failed")
    _, _, (event,) = parse(*signed_webhook("refund.failed", event_id="evt_6", refund=refund))
    assert (event.kind, event.provider_order_id, event.provider_payment_id, event.provider_refund_id) == (
        EventKind.REFUND_FAILED,
        "",
        "pay_DESlfW9H8K9uqM",
        "rfnd_FP8QHiV938haTz",
    )
    assert (event.amount, event.error) == (Decimal("100.00"), "Razorpay could not process the refund.")


def test_a_dispute_opened_is_a_dispute_event_for_staff():
    body, headers = signed_webhook(
        "payment.dispute.created", event_id="evt_7", payment=payment_entity(), dispute=dispute_entity()
    )
    _, _, (event,) = parse(body, headers)
    assert (event.kind, event.provider_order_id, event.provider_payment_id, event.amount) == (
        EventKind.DISPUTE_OPENED,
        "order_DBJOWzybf0sJbb",
        "pay_DESlfW9H8K9uqM",
        Decimal("499.00"),
    )
    assert event.error == (
        "chargeback: The customer does not recognise the payment. (Razorpay dispute disp_Esz7KAitoYM7PJ)"
    )


@pytest.mark.parametrize("event", ["refund.created", "payment.downtime.started", "order.notification.delivered"])
def test_other_events_are_one_ignored_event(event):
    body, headers = signed_webhook(event, event_id="evt_8", refund=refund_entity())
    assert parse(body, headers) == (
        "evt_8",
        event,
        [NormalizedEvent(kind=EventKind.IGNORED, event_id="evt_8", raw_type=event)],
    )


def test_a_payment_made_outside_the_orders_api_is_ignored():
    body, headers = signed_webhook("payment.captured", event_id="evt_9", payment=payment_entity(order_id=None))
    assert parse(body, headers)[2] == [
        NormalizedEvent(kind=EventKind.IGNORED, event_id="evt_9", raw_type="payment.captured")
    ]


def test_header_names_in_any_spelling_are_read():
    body = webhook_body("payment.captured", payment=payment_entity())
    headers = {
        "HTTP_X_RAZORPAY_SIGNATURE": razorpay_webhook_signature(body),
        "x-razorpay-event-id": "evt_10",
    }
    assert parse(body, headers)[0] == "evt_10"


def tampered(body: bytes) -> bytes:
    return body.replace(b'"amount":49900', b'"amount":4990000', 1)


@pytest.mark.parametrize(
    "make",
    [
        lambda body: (tampered(body), webhook_headers(body, event_id="evt_x")),
        lambda body: (body, webhook_headers(body, event_id="evt_x", secret="some-other-secret")),
        lambda body: (body, {"X-Razorpay-Event-Id": "evt_x"}),
        lambda body: (body, {**webhook_headers(body, event_id="evt_x"), "X-Razorpay-Signature": "sha256=abc"}),
        lambda body: (body + b" ", webhook_headers(body, event_id="evt_x")),
    ],
    ids=["tampered-body", "wrong-secret", "no-signature", "garbage-signature", "trailing-byte"],
)
def test_a_webhook_whose_signature_does_not_verify_is_refused(make):
    body = webhook_body("payment.captured", payment=payment_entity())
    assert tampered(body) != body
    with pytest.raises(SignatureInvalid) as caught:
        parse(*make(body))
    assert (caught.value.status, caught.value.detail) == (400, "The Razorpay webhook signature does not verify.")


@pytest.mark.parametrize("event_id", ["", "   ", "e" * 121, "evt\n1"])
def test_a_signed_webhook_without_a_usable_event_id_is_refused(event_id):
    body = webhook_body("payment.captured", payment=payment_entity())
    headers = webhook_headers(body, event_id=event_id)
    with pytest.raises(SignatureInvalid, match="no usable X-Razorpay-Event-Id"):
        parse(body, headers)


def test_webhooks_are_refused_when_no_webhook_secret_is_set(settings):
    settings.RAZORPAY_WEBHOOK_SECRET = ""
    body = webhook_body("payment.captured", payment=payment_entity())
    with pytest.raises(SignatureInvalid, match="RAZORPAY_WEBHOOK_SECRET is not set"):
        RazorpayGateway().parse_webhook(body=body, headers=webhook_headers(body, event_id="evt_1", secret=""))


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'{"entity": "event"}',
        webhook_body("payment.captured", payment={**payment_entity(), "amount": 499.0}),
        webhook_body("payment.captured", payment={**payment_entity(), "amount": True}),
        webhook_body("payment.captured", payment={**payment_entity(), "currency": "RUPEES"}),
        webhook_body("payment.captured"),
        webhook_body("refund.processed", payment=payment_entity()),
        webhook_body("order.paid", payment=payment_entity()),
    ],
    ids=["text", "binary", "list", "no-event", "float", "bool", "currency", "no-payment", "no-refund", "no-order"],
)
def test_a_signed_but_malformed_webhook_is_a_400_never_a_500(body):
    with pytest.raises(InvalidInput) as caught:
        parse(body, webhook_headers(body, event_id="evt_bad"))
    assert (caught.value.status, caught.value.code) == (400, "provider_malformed")


# --- refunds -----------------------------------------------------------------------------------------------


def test_refund_sends_paise_and_our_key_in_the_notes_and_receipt(fake):
    payment = captured_payment(fake)
    result = RazorpayGateway().refund(payment=payment, refund=refund_of(payment, amount="100.50"))
    listing, create = fake.calls[-2:]
    assert (listing.method, listing.path, listing.query) == (
        "GET",
        f"/v1/payments/{payment.provider_payment_id}/refunds",
        {"count": "100"},
    )
    assert (create.method, create.path) == ("POST", f"/v1/payments/{payment.provider_payment_id}/refund")
    assert create.json == {
        "amount": 10050,
        "speed": "normal",
        "receipt": REFUND_KEY,
        "notes": {"refund_key": REFUND_KEY, "refund_id": "7", "payment_id": "42", "reason": "Damaged"},
    }
    (refund_id,) = fake.refunds
    assert result == RefundResult(provider_refund_id=refund_id, succeeded=True, pending=False, error="")


def test_a_retried_refund_finds_the_first_and_refunds_once(fake):
    payment = captured_payment(fake)
    first = RazorpayGateway().refund(payment=payment, refund=refund_of(payment))
    again = RazorpayGateway().refund(payment=payment, refund=refund_of(payment))
    assert again == first
    assert len(fake.posted(f"/v1/payments/{payment.provider_payment_id}/refund")) == 1
    assert fake.payments[payment.provider_payment_id]["amount_refunded"] == 10000
    another = RazorpayGateway().refund(payment=payment, refund=refund_of(payment, key="refund-second"))
    assert another.provider_refund_id != first.provider_refund_id
    assert fake.payments[payment.provider_payment_id]["amount_refunded"] == 20000


def test_a_long_key_travels_in_full_in_the_notes_and_the_receipt_is_our_refund_id(fake):
    payment = captured_payment(fake)
    key = "refund-" + "k" * 60
    RazorpayGateway().refund(payment=payment, refund=refund_of(payment, key=key))
    sent = fake.calls[-1].json
    assert (sent["receipt"], sent["notes"]["refund_key"]) == ("refund-7", key)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("pending", RefundResult(provider_refund_id="", succeeded=False, pending=True, error="")),
        (
            "failed",
            RefundResult(
                provider_refund_id="", succeeded=False, pending=False, error="Razorpay could not process the refund."
            ),
        ),
    ],
)
def test_a_pending_or_failed_refund_says_so(fake, status, expected):
    payment = captured_payment(fake)
    fake.refund_status = status
    result = RazorpayGateway().refund(payment=payment, refund=refund_of(payment))
    assert result == RefundResult(**{**expected.__dict__, "provider_refund_id": next(iter(fake.refunds))})


def test_refunding_more_than_is_left_is_refused_by_razorpay(fake):
    payment = captured_payment(fake)
    with pytest.raises(ProviderRefused, match="greater than amount captured"):
        RazorpayGateway().refund(payment=payment, refund=refund_of(payment, amount="499.01"))
    assert fake.refunds == {}


def test_a_payment_without_a_razorpay_payment_cannot_be_refunded_and_nothing_is_sent(fake):
    payment = payment_of(provider_order_id="order_DBJOWzybf0sJbb")
    with pytest.raises(ProviderRefused, match="no Razorpay payment"):
        RazorpayGateway().refund(payment=payment, refund=refund_of(payment))
    assert fake.calls == []


def test_a_refund_while_razorpay_is_down_is_unavailable_and_creates_nothing(fake):
    payment = captured_payment(fake)
    fake.fail_next("timeout")
    with pytest.raises(ProviderUnavailable):
        RazorpayGateway().refund(payment=payment, refund=refund_of(payment))
    assert fake.refunds == {}


# --- fetch -------------------------------------------------------------------------------------------------


def test_fetch_reports_the_captured_attempt_and_its_settled_refunds(fake):
    payment = payment_of()
    order_id = RazorpayGateway().start(payment=payment).provider_order_id
    payment.provider_order_id = order_id
    failed = fake.pay(order_id, status="failed", error_description="Card declined", method="card", vpa=None)
    paid = fake.pay(order_id, method="upi", vpa="asha@okhdfc")
    payment.provider_payment_id = paid["id"]
    gateway = RazorpayGateway()
    processed = gateway.refund(payment=payment, refund=refund_of(payment, amount="100.00", key="r1"))
    fake.refund_status = "pending"
    gateway.refund(payment=payment, refund=refund_of(payment, amount="50.00", key="r2"))
    fake.refund_status = "failed"
    refused = gateway.refund(payment=payment, refund=refund_of(payment, amount="20.00", key="r3"))

    events = gateway.fetch(payment=payment)

    assert [(e.kind, e.provider_payment_id, e.provider_refund_id, e.amount) for e in events] == [
        (EventKind.PAYMENT_CAPTURED, paid["id"], "", Decimal("499.00")),
        (EventKind.REFUND_SUCCEEDED, paid["id"], processed.provider_refund_id, Decimal("100.00")),
        (EventKind.REFUND_FAILED, paid["id"], refused.provider_refund_id, Decimal("20.00")),
    ]
    assert {e.provider_order_id for e in events} == {order_id}
    assert (events[0].method, events[0].vpa_handle) == ("upi", "okhdfc")
    assert events[0].event_id == f"fetch:{paid['id']}:captured"
    assert failed["id"] not in repr(events)


def test_fetch_of_a_fully_refunded_payment_still_reports_its_capture(fake):
    payment = captured_payment(fake)
    RazorpayGateway().refund(payment=payment, refund=refund_of(payment, amount="499.00"))
    assert fake.payments[payment.provider_payment_id]["status"] == "refunded"
    kinds = [event.kind for event in RazorpayGateway().fetch(payment=payment)]
    assert kinds == [EventKind.PAYMENT_CAPTURED, EventKind.REFUND_SUCCEEDED]


def test_fetch_reports_an_authorisation_or_else_the_latest_failure_or_nothing(fake):
    payment = payment_of()
    payment.provider_order_id = RazorpayGateway().start(payment=payment).provider_order_id
    assert RazorpayGateway().fetch(payment=payment) == []
    fake.pay(payment.provider_order_id, status="failed", error_description="First try")
    second = fake.pay(payment.provider_order_id, status="failed", error_description="Second try")
    (event,) = RazorpayGateway().fetch(payment=payment)
    assert (event.kind, event.provider_payment_id, event.error) == (
        EventKind.PAYMENT_FAILED,
        second["id"],
        "Second try",
    )
    authorised = fake.pay(payment.provider_order_id, status="authorized")
    (event,) = RazorpayGateway().fetch(payment=payment)
    assert (event.kind, event.provider_payment_id) == (EventKind.PAYMENT_AUTHORIZED, authorised["id"])


def test_fetch_of_a_payment_never_opened_at_razorpay_asks_nothing(fake):
    assert RazorpayGateway().fetch(payment=payment_of()) == []
    assert fake.calls == []


# --- customers and saved methods -----------------------------------------------------------------------------


def test_customer_create_sends_fail_existing_0_and_a_retry_gets_the_same_customer(fake):
    first = RazorpayGateway().customer_create(email="asha@example.com", phone="+919812345678", name="Asha Rao")
    again = RazorpayGateway().customer_create(email="asha@example.com", phone="+919812345678", name="Asha Rao")
    assert first == again
    assert first.startswith("cust_")
    assert fake.calls[0].json == {
        "fail_existing": "0",
        "name": "Asha Rao",
        "email": "asha@example.com",
        "contact": "+919812345678",
    }


def test_customer_create_leaves_out_what_the_shopper_has_not_given(fake):
    RazorpayGateway().customer_create(email="asha@example.com", phone="", name="  ")
    assert fake.calls[0].json == {"fail_existing": "0", "email": "asha@example.com"}


def test_methods_list_reads_card_tokens_and_upi_handles_only(fake):
    fake.add_token(
        "cust_1",
        {
            "id": "token_4lsdksD31GaZ09",
            "entity": "token",
            "token": "FnO7Ly8FhCvVEm",
            "bank": None,
            "wallet": None,
            "method": "card",
            "card": {**card_entity(network="MasterCard", last4="8950"), "expiry_month": 12, "expiry_year": 2030},
            "vpa": None,
            "recurring": False,
            "used_at": 1767225600,
            "created_at": 1767225600,
            "expired_at": 1924991999,
        },
    )
    fake.add_token(
        "cust_1",
        {
            "id": "token_4lsdksD31GaZ10",
            "entity": "token",
            "method": "upi",
            "card": None,
            "vpa": {"username": "asha.rao", "handle": "OKHDFC", "name": "Asha Rao"},
            "created_at": 1767225600,
        },
    )
    assert RazorpayGateway().methods_list(customer_id="cust_1") == [
        MethodInfo(
            provider_method_id="token_4lsdksD31GaZ09",
            method="card",
            brand="MasterCard",
            last4="8950",
            exp_month=12,
            exp_year=2030,
        ),
        MethodInfo(provider_method_id="token_4lsdksD31GaZ10", method="upi", vpa_handle="okhdfc"),
    ]
    assert fake.calls[-1].path == "/v1/customers/cust_1/tokens"


def test_method_detach_deletes_the_token_and_an_unknown_one_is_refused(fake):
    fake.add_token("cust_1", {"id": "token_A", "entity": "token", "method": "card", "card": card_entity()})
    RazorpayGateway().method_detach(customer_id="cust_1", provider_method_id="token_A")
    assert (fake.calls[-1].method, fake.calls[-1].path) == ("DELETE", "/v1/customers/cust_1/tokens/token_A")
    assert fake.tokens["cust_1"] == {}
    with pytest.raises(ProviderRefused, match="does not exist"):
        RazorpayGateway().method_detach(customer_id="cust_1", provider_method_id="token_A")


# --- helpers -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vpa", "handle"),
    [("gaurav.kumar@okhdfc", "okhdfc"), ("a@Paytm ", "paytm"), ("x@rbl-bank.1", "rbl-bank.1"), (None, ""), ("@", "")],
)
def test_vpa_handle_keeps_the_part_after_the_at_sign_only(vpa, handle):
    assert vpa_handle(vpa) == handle


def test_the_webhook_headers_are_published_for_the_inbox():
    assert RazorpayGateway.webhook_headers == ("X-Razorpay-Signature", "X-Razorpay-Event-Id")
    assert isinstance(adapter_module.TRANSPORT, FakeRazorpay)
    assert json.loads(webhook_body("order.paid", order=order_entity()))["contains"] == ["order"]


# --- end to end through the API and the services (the adapter behind them, HTTP faked) ----------------------


def deliver(api_client, body, headers):
    return api_client.post(
        "/api/v1/webhooks/razorpay",
        data=body,
        content_type="application/json",
        HTTP_X_RAZORPAY_SIGNATURE=headers["X-Razorpay-Signature"],
        HTTP_X_RAZORPAY_EVENT_ID=headers["X-Razorpay-Event-Id"],
    )


@pytest.mark.django_db
def test_a_shopper_pays_by_upi_and_is_refunded_through_razorpay_end_to_end(
    fake, shopper_client, api_client, pending_order, django_capture_on_commit_callbacks, eager_celery
):
    from commerce.orders.models import PaymentStatus as OrderPaymentStatus
    from payments.models import WebhookEvent
    from payments.services.refunds import refund_create

    started = shopper_client.post(
        f"/api/v1/orders/{pending_order.number}/payments", {"provider": "razorpay"}, format="json"
    )
    assert started.status_code == 201, started.json()
    client = started.json()["client"]
    (create,) = fake.posted("/v1/orders")
    assert create.json["amount"] == 99800
    assert create.json["receipt"] == pending_order.number
    assert (client["key_id"], client["amount_minor"]) == (KEY_ID, 99800)

    paid = fake.pay(client["order_id"], method="upi", vpa="asha.rao@okhdfc")
    with django_capture_on_commit_callbacks(execute=True):
        verified = shopper_client.post(
            "/api/v1/payments/razorpay/verify", confirmation(client["order_id"], paid["id"]), format="json"
        )
    assert verified.status_code == 200, verified.json()
    payment = Payment.objects.get(provider="razorpay", provider_order_id=client["order_id"])
    assert (payment.status, payment.captured_amount, payment.method, payment.vpa_handle) == (
        "captured",
        Decimal("998.00"),
        "upi",
        "okhdfc",
    )
    pending_order.refresh_from_db()
    assert pending_order.payment_status == OrderPaymentStatus.PAID

    body, headers = signed_webhook("payment.captured", event_id="evt_e2e_captured", payment=paid)
    for _ in range(3):  # Razorpay redelivers: stored once, applied once
        with django_capture_on_commit_callbacks(execute=True):
            assert deliver(api_client, body, headers).status_code == 200
    assert list(WebhookEvent.objects.values_list("event_id", "status")) == [("evt_e2e_captured", "processed")]
    payment.refresh_from_db()
    assert payment.captured_amount == Decimal("998.00")

    with django_capture_on_commit_callbacks(execute=True):
        refund = refund_create(payment_id=payment.pk, amount=Decimal("100.00"), reason="One T-shirt returned")
    sent = fake.posted(f"/v1/payments/{paid['id']}/refund")
    assert [(call.json["amount"], call.json["notes"]["refund_key"]) for call in sent] == [
        (10000, refund.idempotency_key)
    ]
    rfnd = fake.refunds[next(iter(fake.refunds))]
    body, headers = signed_webhook(
        "refund.processed", event_id="evt_e2e_refund", refund=rfnd, payment=fake.payments[paid["id"]]
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(api_client, body, headers).status_code == 200
    refund.refresh_from_db()
    payment.refresh_from_db()
    pending_order.refresh_from_db()
    assert (refund.status, refund.provider_refund_id) == ("succeeded", rfnd["id"])
    assert payment.refunded_amount == Decimal("100.00")
    assert pending_order.payment_status == OrderPaymentStatus.PARTIALLY_REFUNDED


@pytest.mark.django_db
def test_a_forged_checkout_confirmation_is_400_signature_invalid_through_the_api(fake, shopper_client, pending_order):
    started = shopper_client.post(
        f"/api/v1/orders/{pending_order.number}/payments", {"provider": "razorpay"}, format="json"
    )
    order_id = started.json()["client"]["order_id"]
    paid = fake.pay(order_id)
    forged = confirmation(order_id, paid["id"], secret="guessed")
    response = shopper_client.post("/api/v1/payments/razorpay/verify", forged, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "signature_invalid"
    assert Payment.objects.get(provider_order_id=order_id).status == "created"


@pytest.mark.django_db
def test_a_tampered_razorpay_webhook_is_400_through_the_api_and_stores_nothing(fake, api_client):
    from payments.models import WebhookEvent

    body, headers = signed_webhook("payment.captured", event_id="evt_tampered", payment=payment_entity())
    response = deliver(api_client, tampered(body), headers)
    assert (response.status_code, response.json()["code"]) == (400, "signature_invalid")
    assert WebhookEvent.objects.count() == 0
