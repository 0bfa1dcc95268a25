"""Stripe without the network, for any test that reaches the Stripe adapter: a fake transport, objects shaped like
Stripe's documented ones, and webhooks signed with Stripe's real scheme.

* :class:`FakeStripeHTTP` is a :class:`stripe.HTTPClient`: the real SDK builds and sends each request to it, it
  records what would have gone over the wire (:class:`SentRequest`: method, URL, path, form/query parameters as
  Stripe's flat ``a[b][0]=c`` keys, headers including ``Idempotency-Key``) and answers with the JSON you queued for
  ``(method, path)``. A request nobody queued an answer for fails the test (``AssertionError``).
* :func:`use_fake_stripe` (or the :func:`stripe_http` fixture: ``from tests.payments.stripe_fakes import
  stripe_http`` in a test module or a conftest) configures Stripe in the settings and makes every
  ``StripeGateway()`` (also those ``gateway_for("stripe")`` builds) talk to one fake.
* :func:`stripe_signature` / :func:`signed_headers` sign a body like Stripe does: ``t=<ts>,v1=<hex HMAC-SHA256 of
  "<ts>.<body>">`` under the endpoint's secret.

Example::

    def test_start(stripe_http, payment):
        stripe_http.answer("POST", "/v1/payment_intents", payment_intent(id="pi_1", amount=49900))
        StripeGateway().start(payment=payment)
        assert stripe_http.last.params["amount"] == "49900"
"""

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import stripe

from payments.gateways import stripe as stripe_gateway

SECRET_KEY = "sk_test_51FakeKeyForTests"
WEBHOOK_SECRET = "whsec_test_fake_endpoint_secret"
PUBLISHABLE_KEY = "pk_test_51FakeKeyForTests"
API_BASE = "http://stripe.test:12111"

Answer = tuple[int, Any] | Callable[["SentRequest"], tuple[int, Any]] | Exception


@dataclass
class SentRequest:
    """One request as the SDK sent it."""

    method: str
    url: str
    headers: dict[str, str]
    body: str = ""

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.url).query, keep_blank_values=True))

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body, keep_blank_values=True))

    @property
    def params(self) -> dict[str, str]:
        """The form body of a POST, the query of a GET/DELETE (flat keys: ``metadata[order_number]``)."""
        return self.form if self.method == "POST" else self.query

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("Idempotency-Key")


@dataclass
class FakeStripeHTTP(stripe.HTTPClient):
    """A Stripe transport that records requests and answers from a queue per ``(METHOD, path)``.

    ``answer(method, path, body, status=200)`` queues an answer (the last one queued for a route is repeated);
    ``fail(method, path)`` makes the route raise the SDK's connection error, as when Stripe cannot be reached.
    """

    name = "fake"
    requests: list[SentRequest] = field(default_factory=list)
    routes: dict[tuple[str, str], list[Answer]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__()

    # --- set up -----------------------------------------------------------------------------------------------

    def answer(self, method: str, path: str, body: Any, status: int = 200) -> "FakeStripeHTTP":
        self.routes.setdefault((method.upper(), path), []).append((status, body))
        return self

    def answer_with(self, method: str, path: str, responder: Callable[[SentRequest], tuple[int, Any]]) -> None:
        """Answer with ``responder(request) -> (status, body)`` (to echo what was sent)."""
        self.routes.setdefault((method.upper(), path), []).append(responder)

    def fail(self, method: str, path: str, message: str = "Connection refused") -> None:
        error = stripe.APIConnectionError(f"Unexpected error communicating with Stripe. (Network error: {message})")
        self.routes.setdefault((method.upper(), path), []).append(error)

    # --- read back --------------------------------------------------------------------------------------------

    @property
    def last(self) -> SentRequest:
        assert self.requests, "no request was sent to Stripe"
        return self.requests[-1]

    def sent(self, method: str, path: str) -> list[SentRequest]:
        return [r for r in self.requests if r.method == method.upper() and r.path == path]

    # --- the HTTPClient interface -----------------------------------------------------------------------------

    def request(self, method, url, headers, post_data=None, *, _usage=None):
        body = post_data.decode() if isinstance(post_data, bytes) else (post_data or "")
        sent = SentRequest(method=method.upper(), url=url, headers=dict(headers or {}), body=body)
        self.requests.append(sent)
        queue = self.routes.get((sent.method, sent.path))
        if not queue:
            raise AssertionError(f"unexpected Stripe request {sent.method} {sent.path} (nothing queued)")
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        status, payload = answer(sent) if callable(answer) else answer
        text = payload if isinstance(payload, str) else json.dumps(payload)
        return text, status, {"Request-Id": f"req_fake{len(self.requests)}", "Content-Type": "application/json"}

    def request_stream(self, method, url, headers, post_data=None, *, _usage=None):
        raise AssertionError("the Stripe adapter does not stream")

    def close(self) -> None:
        return None


@contextmanager
def use_fake_stripe(settings, monkeypatch, *, api_base: str = API_BASE) -> Iterator[FakeStripeHTTP]:
    """Configure Stripe (keys, ``STRIPE_API_BASE``) and route every ``StripeGateway`` through one fake."""
    fake = FakeStripeHTTP()
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_PUBLISHABLE_KEY = PUBLISHABLE_KEY
    settings.STRIPE_API_BASE = api_base
    monkeypatch.setattr(stripe_gateway, "HTTP_CLIENT", fake)
    yield fake


@pytest.fixture
def stripe_http(settings, monkeypatch) -> Iterator[FakeStripeHTTP]:
    """Stripe configured and faked for this test (see :func:`use_fake_stripe`)."""
    with use_fake_stripe(settings, monkeypatch) as fake:
        yield fake


# --- webhooks ---------------------------------------------------------------------------------------------------


def stripe_signature(body: bytes, secret: str, timestamp: int) -> str:
    """The ``Stripe-Signature`` header Stripe sends for ``body``: ``t=<ts>,v1=<hex HMAC-SHA256("<ts>.<body>")>``."""
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def signed_headers(body: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> dict[str, str]:
    """Headers of a Stripe delivery of ``body`` signed now (or at ``timestamp``)."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {"Stripe-Signature": stripe_signature(body, secret, ts), "Content-Type": "application/json; charset=utf-8"}


def event_body(event: dict[str, Any]) -> bytes:
    """A webhook body as Stripe sends it (pretty-printed JSON, which the signature covers byte for byte)."""
    return json.dumps(event, indent=2).encode()


# --- objects shaped like Stripe's documented ones ---------------------------------------------------------------


def event(type: str, obj: dict[str, Any], *, id: str = "evt_1NG8Du2eZvKYlo2CUI79vXWy", created: int = 1_700_000_000):
    """A Stripe ``event`` (API reference, "The Event object") wrapping ``obj``."""
    return {
        "id": id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": created,
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": type,
    }


def payment_intent(
    *,
    id: str = "pi_3MtwBwLkdIwHu7ix28a3tqPa",
    amount: int = 49900,
    currency: str = "inr",
    status: str = "requires_payment_method",
    amount_received: int = 0,
    amount_capturable: int = 0,
    latest_charge: Any = None,
    payment_method: Any = None,
    payment_method_types: list[str] | None = None,
    last_payment_error: dict[str, Any] | None = None,
    cancellation_reason: str | None = None,
    customer: str | None = None,
    setup_future_usage: str | None = None,
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A PaymentIntent (API reference, "The PaymentIntent object")."""
    return {
        "id": id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": amount_capturable,
        "amount_details": {"tip": {}},
        "amount_received": amount_received,
        "application": None,
        "automatic_payment_methods": {"allow_redirects": "always", "enabled": True},
        "canceled_at": None,
        "cancellation_reason": cancellation_reason,
        "capture_method": "automatic",
        "client_secret": f"{id}_secret_YrKJUKribcBjcG8HVhfZluoGH",
        "confirmation_method": "automatic",
        "created": 1_680_800_504,
        "currency": currency,
        "customer": customer,
        "description": None,
        "last_payment_error": last_payment_error,
        "latest_charge": latest_charge,
        "livemode": False,
        "metadata": metadata or {},
        "next_action": None,
        "payment_method": payment_method,
        "payment_method_types": payment_method_types if payment_method_types is not None else ["card", "link"],
        "receipt_email": None,
        "setup_future_usage": setup_future_usage,
        "status": status,
    }


def card_payment_method(
    *,
    id: str = "pm_1NO6mA2eZvKYlo2CBqxFJsHa",
    brand: str = "visa",
    last4: str = "4242",
    exp_month: int = 8,
    exp_year: int = 2030,
    customer: str | None = None,
) -> dict[str, Any]:
    """A card PaymentMethod (API reference, "The PaymentMethod object")."""
    return {
        "id": id,
        "object": "payment_method",
        "billing_details": {"address": {}, "email": None, "name": None, "phone": None},
        "card": {
            "brand": brand,
            "checks": {"address_line1_check": None, "address_postal_code_check": None, "cvc_check": "pass"},
            "country": "US",
            "exp_month": exp_month,
            "exp_year": exp_year,
            "fingerprint": "Xt5EWLLDS7FJjR1c",
            "funding": "credit",
            "last4": last4,
            "networks": {"available": [brand], "preferred": None},
        },
        "created": 1_687_991_030,
        "customer": customer,
        "livemode": False,
        "metadata": {},
        "type": "card",
    }


def charge(
    *,
    id: str = "ch_3MmlLrLkdIwHu7ix0snN0B15",
    payment_intent: str = "pi_3MtwBwLkdIwHu7ix28a3tqPa",
    amount: int = 49900,
    amount_refunded: int = 0,
    currency: str = "inr",
    method: str = "card",
    refunds: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A Charge (API reference, "The Charge object"); ``refunds`` given: the list Stripe includes when expanded or
    in older API versions."""
    body: dict[str, Any] = {
        "id": id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": amount_refunded,
        "balance_transaction": "txn_3MmlLrLkdIwHu7ix0uke3Ezy",
        "captured": True,
        "currency": currency,
        "disputed": False,
        "livemode": False,
        "paid": True,
        "payment_intent": payment_intent,
        "payment_method": "pm_1MmlLrLkdIwHu7ixIJwEWSNR",
        "payment_method_details": {"type": method, method: {}},
        "refunded": amount_refunded == amount,
        "status": "succeeded",
    }
    if refunds is not None:
        body["refunds"] = {
            "object": "list",
            "data": refunds,
            "has_more": False,
            "total_count": len(refunds),
            "url": f"/v1/charges/{id}/refunds",
        }
    return body


def refund(
    *,
    id: str = "re_3MmlLrLkdIwHu7ix0Q1yeVaR",
    amount: int = 10000,
    currency: str = "inr",
    status: str = "succeeded",
    payment_intent: str | None = "pi_3MtwBwLkdIwHu7ix28a3tqPa",
    charge: str | None = "ch_3MmlLrLkdIwHu7ix0snN0B15",
    failure_reason: str | None = None,
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A Refund (API reference, "The Refund object")."""
    body: dict[str, Any] = {
        "id": id,
        "object": "refund",
        "amount": amount,
        "balance_transaction": "txn_1Mr8kD2eZvKYlo2CK3O1lXqz",
        "charge": charge,
        "created": 1_692_942_318,
        "currency": currency,
        "destination_details": {"card": {"reference_status": "pending", "type": "refund"}, "type": "card"},
        "metadata": metadata or {},
        "payment_intent": payment_intent,
        "reason": None,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": status,
        "transfer_reversal": None,
    }
    if failure_reason is not None:
        body["failure_reason"] = failure_reason
    return body


def dispute(
    *,
    id: str = "du_1MtJUT2eZvKYlo2CNaw2HvEv",
    amount: int = 49900,
    currency: str = "inr",
    charge: str = "ch_3MmlLrLkdIwHu7ix0snN0B15",
    payment_intent: str | None = "pi_3MtwBwLkdIwHu7ix28a3tqPa",
    reason: str = "fraudulent",
) -> dict[str, Any]:
    """A Dispute (API reference, "The Dispute object")."""
    return {
        "id": id,
        "object": "dispute",
        "amount": amount,
        "balance_transactions": [],
        "charge": charge,
        "created": 1_680_651_737,
        "currency": currency,
        "evidence_details": {"due_by": 1_682_294_399, "has_evidence": False, "past_due": False, "submission_count": 0},
        "is_charge_refundable": True,
        "livemode": False,
        "metadata": {},
        "payment_intent": payment_intent,
        "reason": reason,
        "status": "warning_needs_response",
    }


def customer(*, id: str = "cus_NffrFeUfNV2Hib", email: str | None = None, name: str | None = None):
    """A Customer (API reference, "The Customer object")."""
    return {
        "id": id,
        "object": "customer",
        "created": 1_680_893_993,
        "email": email,
        "livemode": False,
        "metadata": {},
        "name": name,
        "phone": None,
    }


def listing(url: str, data: list[dict[str, Any]], *, has_more: bool = False) -> dict[str, Any]:
    """A Stripe list object."""
    return {"object": "list", "url": url, "has_more": has_more, "data": data}


def error(message: str, *, type: str = "invalid_request_error", code: str | None = None, **extra: Any):
    """Stripe's error body (API reference, "Errors")."""
    body: dict[str, Any] = {"type": type, "message": message}
    if code:
        body["code"] = code
    body.update(extra)
    return {"error": body}
