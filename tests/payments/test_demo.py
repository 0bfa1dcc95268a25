"""The demo gateway and the gateway registry: signatures under a key derived from ``SECRET_KEY``, the events
it maps, refunds at once; which providers are enabled by which settings; adapters loaded lazily."""

from decimal import Decimal

import pytest

from commerce.core.errors import InvalidInput
from payments.gateways import registry
from payments.gateways.base import EventKind, SignatureInvalid
from payments.gateways.demo import DemoGateway, demo_event_body, demo_sign
from payments.gateways.registry import enabled_providers, gateway_for
from payments.models import Refund

pytestmark = pytest.mark.django_db


def signed(body: bytes) -> dict[str, str]:
    return {"X-Demo-Signature": demo_sign(body)}


def body_of(type="payment.succeeded", **fields) -> bytes:
    values = {"provider_order_id": "demo_abc", "amount": Decimal("998.00"), "currency": "INR", **fields}
    return demo_event_body(type=type, **values)


# --- the demo gateway ---------------------------------------------------------------------------------------


def test_start_gives_the_complete_url_and_an_id_derived_from_the_idempotency_key(pending_order, make_payment):
    payment = make_payment(pending_order, provider_order_id="", idempotency_key="k-1")

    started = DemoGateway().start(payment=payment)

    assert started.provider_order_id == "demo_k-1"
    assert started.client == {"complete_url": f"/api/v1/payments/demo/{payment.pk}/complete"}


def test_a_signed_success_becomes_a_capture_of_the_amount():
    body = body_of(method="upi", vpa="okdemo")

    event_id, type_, events = DemoGateway().parse_webhook(body=body, headers=signed(body))

    assert event_id.startswith("demo_evt_")
    assert type_ == "payment.succeeded"
    [event] = events
    assert event.kind == EventKind.PAYMENT_CAPTURED
    assert (event.provider_order_id, event.provider_payment_id) == ("demo_abc", "demo_abc")
    assert (event.amount, event.currency) == (Decimal("998.00"), "INR")
    assert (event.method, event.vpa_handle) == ("upi", "okdemo")
    assert event.event_id == event_id


@pytest.mark.parametrize(
    "type_, kind",
    [
        ("payment.failed", EventKind.PAYMENT_FAILED),
        ("refund.succeeded", EventKind.REFUND_SUCCEEDED),
        ("payment.disputed", EventKind.IGNORED),
    ],
)
def test_each_demo_type_maps_to_its_kind(type_, kind):
    body = body_of(type=type_, refund_id="demo_re_1")

    _, _, [event] = DemoGateway().parse_webhook(body=body, headers=signed(body))

    assert event.kind == kind
    if kind == EventKind.REFUND_SUCCEEDED:
        assert event.provider_refund_id == "demo_re_1"


def test_the_signature_header_is_found_whatever_its_case():
    body = body_of()

    event_id, _, _ = DemoGateway().parse_webhook(body=body, headers={"x-demo-signature": demo_sign(body)})

    assert event_id


def test_a_tampered_body_is_refused():
    body = body_of()
    tampered = body.replace(b"998.00", b"1.00")

    with pytest.raises(SignatureInvalid) as raised:
        DemoGateway().parse_webhook(body=tampered, headers=signed(body))

    assert raised.value.code == "signature_invalid"
    assert raised.value.detail == "The demo webhook's signature does not match."


def test_a_missing_signature_is_refused():
    with pytest.raises(SignatureInvalid) as raised:
        DemoGateway().parse_webhook(body=body_of(), headers={})

    assert raised.value.detail == "The demo webhook is not signed."


def test_a_signature_made_under_another_secret_key_is_refused(settings):
    body = body_of()
    settings.SECRET_KEY = "another-deployment-secret-key-that-is-long-enough"
    foreign = signed(body)
    settings.SECRET_KEY = "the-real-secret-key-of-this-deployment-long-enough"

    with pytest.raises(SignatureInvalid):
        DemoGateway().parse_webhook(body=body, headers=foreign)


def test_the_signing_key_is_not_the_secret_key_itself(settings):
    import hashlib
    import hmac

    body = body_of()

    assert demo_sign(body) != hmac.new(settings.SECRET_KEY.encode(), body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"id": 1, "type": "payment.succeeded"}', b'{"id": ""}'])
def test_signed_bodies_that_are_not_demo_events_are_refused(body):
    with pytest.raises(SignatureInvalid):
        DemoGateway().parse_webhook(body=body, headers=signed(body))


def test_a_refund_succeeds_at_once_with_an_id_derived_from_its_key(pending_order, make_payment):
    payment = make_payment(pending_order)
    refund = Refund(payment=payment, amount=Decimal("1.00"), currency="INR", provider="demo", idempotency_key="rk-1")

    result = DemoGateway().refund(payment=payment, refund=refund)

    assert (result.provider_refund_id, result.succeeded, result.pending) == ("demo_re_rk-1", True, False)


def test_fetch_and_saved_methods_know_nothing(pending_order, make_payment):
    gateway = DemoGateway()

    assert gateway.fetch(payment=make_payment(pending_order)) == []
    assert gateway.methods_list(customer_id="demo_cus_1") == []
    assert gateway.method_detach(customer_id="demo_cus_1", provider_method_id="pm_1") is None
    assert gateway.customer_create(email="a@b.co", phone="", name="A").startswith("demo_cus_")


def test_there_is_no_client_side_confirmation():
    with pytest.raises(InvalidInput) as raised:
        DemoGateway().verify_confirmation(data={})

    assert raised.value.code == "not_supported"


# --- the registry --------------------------------------------------------------------------------------------


def test_only_the_demo_is_enabled_without_keys(settings):
    settings.STRIPE_SECRET_KEY = settings.RAZORPAY_KEY_ID = ""

    assert enabled_providers() == ["demo"]
    assert isinstance(gateway_for("demo"), DemoGateway)


def test_each_provider_is_enabled_by_all_of_its_keys(payment_keys):
    assert enabled_providers() == ["stripe", "razorpay", "demo"]
    assert gateway_for("stripe").name == "stripe"
    assert gateway_for("razorpay").name == "razorpay"

    payment_keys.STRIPE_WEBHOOK_SECRET = ""
    payment_keys.RAZORPAY_WEBHOOK_SECRET = ""
    payment_keys.PAYMENTS_DEMO_ENABLED = False

    assert enabled_providers() == []


@pytest.mark.parametrize("provider", ["stripe", "paypal", "", None, 42])
def test_an_unknown_or_unconfigured_provider_is_400_provider_unavailable(settings, provider):
    settings.STRIPE_SECRET_KEY = ""

    with pytest.raises(InvalidInput) as raised:
        gateway_for(provider)

    assert raised.value.code == "provider_unavailable"
    assert raised.value.fields == {"provider": ["Choose one of: demo."]}


def test_an_adapter_that_does_not_load_disables_only_its_provider(payment_keys, monkeypatch):
    monkeypatch.setitem(registry.ADAPTERS, "stripe", ("payments.gateways.no_such_module", "StripeGateway"))

    assert enabled_providers() == ["razorpay", "demo"]
    with pytest.raises(InvalidInput):
        gateway_for("stripe")
