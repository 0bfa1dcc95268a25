"""A fake Razorpay for tests: a ``requests`` transport adapter that the real ``razorpay`` SDK talks to, the
providers' real signature algorithms, and builders of payloads shaped like Razorpay's documented examples.

Use it from any test (or take the ``razorpay_fake`` fixture: import it into a test module or a conftest)::

    fake = install_fake_razorpay(monkeypatch, settings)   # keys set, transport swapped
    started = RazorpayGateway().start(payment=payment)       # the SDK really builds the request
    fake.calls[-1].json["amount"] == 49900                 # what would have been sent
    fake.pay(started.provider_order_id, method="upi", vpa="gaurav.kumar@okhdfc")
    body, headers = signed_webhook("payment.captured", payment=fake.payments["pay_..."], event_id="evt_1")

``FakeRazorpay`` keeps orders, payments, refunds, customers and tokens in memory and answers the endpoints the
adapter uses (``POST/GET /v1/orders``, ``GET /v1/orders/{id}/payments``, ``GET /v1/payments/{id}``,
``POST /v1/payments/{id}/refund``, ``GET /v1/payments/{id}/refunds``, ``POST /v1/customers``,
``GET/DELETE /v1/customers/{id}/tokens[/{id}]``) as Razorpay does, errors included (``BAD_REQUEST_ERROR`` 400).
Any non-empty basic auth is accepted (tests assert the exact keys sent).
``fake.fail_next(...)`` makes the next request fail (a connection error, a timeout, any status and body).
"""

import base64
import hashlib
import hmac
import itertools
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from requests.adapters import BaseAdapter

KEY_ID = "rzp_test_1DP5mmOlF5G5ag"
KEY_SECRET = "thisisatestsecretkey123"
WEBHOOK_SECRET = "whsec_razorpay_test_secret"
API_BASE = "https://api.razorpay.com"
ACCOUNT_ID = "acc_BFQ7uQEaa7j2z7"
CREATED_AT = 1767225600  # 2026-01-01T00:00:00Z

# --- signatures (Razorpay's real algorithms) -------------------------------------------------------------


def razorpay_webhook_signature(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    """``X-Razorpay-Signature``: hex HMAC-SHA256 of the raw body with the webhook secret."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def razorpay_payment_signature(order_id: str, payment_id: str, secret: str = KEY_SECRET) -> str:
    """Checkout's ``razorpay_signature``: hex HMAC-SHA256 of ``order_id|payment_id`` with the key secret."""
    return hmac.new(secret.encode(), f"{order_id}|{payment_id}".encode(), hashlib.sha256).hexdigest()


# --- payload builders (shapes from Razorpay's API and webhook documentation) -------------------------------


def order_entity(
    *,
    order_id: str = "order_DBJOWzybf0sJbb",
    amount: int = 49900,
    currency: str = "INR",
    receipt: str | None = "ORD-0001",
    status: str = "created",
    amount_paid: int = 0,
    notes: dict[str, str] | None = None,
    attempts: int = 0,
) -> dict[str, Any]:
    return {
        "id": order_id,
        "entity": "order",
        "amount": amount,
        "amount_paid": amount_paid,
        "amount_due": amount - amount_paid,
        "currency": currency,
        "receipt": receipt,
        "offer_id": None,
        "status": status,
        "attempts": attempts,
        "notes": notes if notes else [],
        "created_at": CREATED_AT,
    }


def payment_entity(
    *,
    payment_id: str = "pay_DESlfW9H8K9uqM",
    order_id: str | None = "order_DBJOWzybf0sJbb",
    amount: int = 49900,
    currency: str = "INR",
    status: str = "captured",
    method: str = "upi",
    vpa: str | None = "gaurav.kumar@okhdfc",
    upi: dict[str, Any] | None = None,
    card: dict[str, Any] | None = None,
    wallet: str | None = None,
    bank: str | None = None,
    amount_refunded: int = 0,
    error_code: str | None = None,
    error_description: str | None = None,
    error_reason: str | None = None,
    notes: dict[str, str] | None = None,
    created_at: int = CREATED_AT,
) -> dict[str, Any]:
    """A payment entity. ``method="upi"`` with ``vpa`` is a collect payment; an intent payment has ``vpa=None``
    and (in newer payloads) ``upi={"payer_account_type": "bank_account", "vpa": "...", "flow": "intent"}``."""
    return {
        "id": payment_id,
        "entity": "payment",
        "amount": amount,
        "currency": currency,
        "base_amount": amount,
        "status": status,
        "order_id": order_id,
        "invoice_id": None,
        "international": False,
        "method": method,
        "amount_refunded": amount_refunded,
        "refund_status": None if not amount_refunded else ("full" if amount_refunded == amount else "partial"),
        "captured": status in {"captured", "refunded"},
        "description": None,
        "card_id": card["id"] if card else None,
        "card": card,
        "bank": bank,
        "wallet": wallet,
        "vpa": vpa if method == "upi" else None,
        "upi": upi,
        "email": "gaurav.kumar@example.com",
        "contact": "+919000090000",
        "notes": notes if notes else [],
        "fee": 1180 if status == "captured" else None,
        "tax": 180 if status == "captured" else None,
        "error_code": error_code,
        "error_description": error_description,
        "error_source": "customer" if error_code else None,
        "error_step": "payment_authorization" if error_code else None,
        "error_reason": error_reason,
        "acquirer_data": {"rrn": "313709871036"} if method == "upi" else {"auth_code": "828553"},
        "created_at": created_at,
    }


def card_entity(*, network: str = "Visa", last4: str = "1111", card_id: str = "card_DZon6fd8J3IcA2") -> dict[str, Any]:
    return {
        "id": card_id,
        "entity": "card",
        "name": "Gaurav Kumar",
        "last4": last4,
        "network": network,
        "type": "credit",
        "issuer": "HDFC",
        "international": False,
        "emi": False,
        "sub_type": "consumer",
    }


def refund_entity(
    *,
    refund_id: str = "rfnd_FP8QHiV938haTz",
    payment_id: str = "pay_DESlfW9H8K9uqM",
    amount: int = 10000,
    currency: str = "INR",
    status: str = "processed",
    receipt: str | None = None,
    notes: dict[str, str] | None = None,
    created_at: int = CREATED_AT,
) -> dict[str, Any]:
    return {
        "id": refund_id,
        "entity": "refund",
        "amount": amount,
        "currency": currency,
        "payment_id": payment_id,
        "notes": notes if notes else [],
        "receipt": receipt,
        "acquirer_data": {"arn": "10000000000000"} if status == "processed" else {"arn": None},
        "created_at": created_at,
        "batch_id": None,
        "status": status,
        "speed_processed": "normal",
        "speed_requested": "normal",
    }


def dispute_entity(
    *, dispute_id: str = "disp_Esz7KAitoYM7PJ", payment_id: str = "pay_DESlfW9H8K9uqM", amount: int = 49900
) -> dict[str, Any]:
    return {
        "id": dispute_id,
        "entity": "dispute",
        "payment_id": payment_id,
        "amount": amount,
        "currency": "INR",
        "amount_deducted": 0,
        "reason_code": "chargeback",
        "reason_description": "The customer does not recognise the payment.",
        "respond_by": CREATED_AT + 7 * 86400,
        "status": "open",
        "phase": "chargeback",
        "created_at": CREATED_AT,
    }


def webhook_body(event: str, **entities: dict[str, Any] | None) -> bytes:
    """A webhook body as Razorpay sends it: ``{"entity": "event", "event", "contains", "payload": {name:
    {"entity": ...}}, ...}``, e.g. ``webhook_body("refund.processed", refund=..., payment=...)``."""
    present = {name: entity for name, entity in entities.items() if entity is not None}
    envelope = {
        "entity": "event",
        "account_id": ACCOUNT_ID,
        "event": event,
        "contains": list(present),
        "payload": {name: {"entity": entity} for name, entity in present.items()},
        "created_at": CREATED_AT,
    }
    return json.dumps(envelope, separators=(",", ":")).encode()


def webhook_headers(body: bytes, *, event_id: str, secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    return {
        "X-Razorpay-Signature": razorpay_webhook_signature(body, secret),
        "X-Razorpay-Event-Id": event_id,
        "Content-Type": "application/json",
    }


def signed_webhook(
    event: str, *, event_id: str, secret: str = WEBHOOK_SECRET, **entities: dict[str, Any] | None
) -> tuple[bytes, dict[str, str]]:
    """``(body, headers)`` of a genuine delivery of ``event``."""
    body = webhook_body(event, **entities)
    return body, webhook_headers(body, event_id=event_id, secret=secret)


# --- the fake API --------------------------------------------------------------------------------------


@dataclass
class Recorded:
    """One request the SDK sent: what Razorpay would have received."""

    method: str
    url: str
    path: str
    query: dict[str, str]
    json: Any
    auth: tuple[str, str] | None
    headers: dict[str, str]
    timeout: Any


class FakeRazorpay(BaseAdapter):
    """An in-memory Razorpay behind the SDK's ``requests`` session (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        #: Every request the SDK sent, in order.
        self.calls: list[Recorded] = []
        self.orders: dict[str, dict[str, Any]] = {}
        self.payments: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.customers: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, dict[str, dict[str, Any]]] = {}
        #: The status a new refund gets (``processed``, ``pending`` or ``failed``).
        self.refund_status = "processed"
        self.failures: list[tuple[Any, Any]] = []
        self._ids = itertools.count(1)

    # -- test controls ------------------------------------------------------------------------------------

    def fail_next(self, failure: Any = "connection", *, body: Any = None) -> None:
        """The next request fails: ``"connection"``, ``"timeout"``, or an HTTP status answered with ``body``
        (JSON-encoded unless bytes; by default Razorpay's error for that status)."""
        if isinstance(failure, int) and body is None:
            code = "BAD_REQUEST_ERROR" if failure < 500 else "SERVER_ERROR"
            body = {"error": {"code": code, "description": f"Failure {failure}", "source": "NA", "step": "NA"}}
        self.failures.append((failure, body))

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_Fake{next(self._ids):010d}"

    def pay(self, order_id: str, *, status: str = "captured", **fields: Any) -> dict[str, Any]:
        """A payment of ``order_id`` by the shopper (what Checkout would make); a captured one pays the order."""
        order = self.orders[order_id]
        fields.setdefault("payment_id", self.new_id("pay"))
        fields.setdefault("created_at", CREATED_AT + len(self.payments))
        payment = payment_entity(
            order_id=order_id, amount=order["amount"], currency=order["currency"], status=status, **fields
        )
        self.payments[payment["id"]] = payment
        order["attempts"] += 1
        order["status"] = "attempted"
        if status == "captured":
            order.update(status="paid", amount_paid=order["amount"], amount_due=0)
        return payment

    def add_token(self, customer_id: str, token: dict[str, Any]) -> None:
        self.tokens.setdefault(customer_id, {})[token["id"]] = token

    def posted(self, path: str) -> list[Recorded]:
        return [item for item in self.calls if item.method == "POST" and item.path == path]

    # -- transport ---------------------------------------------------------------------------------------

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        parts = urlsplit(request.url)
        raw = request.body.decode() if isinstance(request.body, bytes) else request.body
        auth = None
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            auth = (user, password)
        recorded = Recorded(
            method=request.method,
            url=request.url,
            path=parts.path,
            query=dict(parse_qsl(parts.query)),
            json=json.loads(raw) if raw else None,
            auth=auth,
            headers=dict(request.headers),
            timeout=timeout,
        )
        self.calls.append(recorded)
        if self.failures:
            failure, body = self.failures.pop(0)
            if failure == "connection":
                raise requests.ConnectionError("Connection refused (fake)", request=request)
            if failure == "timeout":
                raise requests.ReadTimeout("Read timed out (fake)", request=request)
            return self._response(request, failure, body)
        status, answer = self._route(recorded)
        return self._response(request, status, answer)

    def close(self) -> None:
        return None

    @staticmethod
    def _response(request, status: int, body: Any) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response.headers["Content-Type"] = "text/html" if isinstance(body, bytes) else "application/json"
        response.encoding = "utf-8"
        response.url = request.url
        response.request = request
        return response

    @staticmethod
    def _error(description: str, status: int = 400) -> tuple[int, dict[str, Any]]:
        code = "BAD_REQUEST_ERROR" if status < 500 else "SERVER_ERROR"
        return status, {"error": {"code": code, "description": description, "source": "business", "step": "NA"}}

    @staticmethod
    def _collection(items: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
        return 200, {"entity": "collection", "count": len(items), "items": items}

    def _route(self, req: Recorded) -> tuple[int, Any]:
        segments = req.path.strip("/").split("/")
        if segments[:1] != ["v1"]:
            return self._error("The requested URL was not found on the server.", 404)
        if not req.auth or not all(req.auth):
            return 401, {"error": {"code": "BAD_REQUEST_ERROR", "description": "Authentication failed"}}
        route = segments[1:]
        body = req.json or {}
        if route == ["orders"] and req.method == "POST":
            if not isinstance(body.get("amount"), int) or body["amount"] < 100:
                return self._error("The amount must be atleast INR 1.00")
            order = order_entity(
                order_id=self.new_id("order"),
                amount=body["amount"],
                currency=body["currency"],
                receipt=body.get("receipt"),
                notes=body.get("notes"),
            )
            self.orders[order["id"]] = order
            return 200, order
        if route == ["orders"] and req.method == "GET":
            found = [
                o for o in self.orders.values() if "receipt" not in req.query or o["receipt"] == req.query["receipt"]
            ]
            return self._collection(list(reversed(found)))
        if len(route) >= 2 and route[0] == "orders":
            if route[1] not in self.orders:
                return self._error("The id provided does not exist")
            if route[2:] == ["payments"]:
                return self._collection([p for p in self.payments.values() if p["order_id"] == route[1]])
            return 200, self.orders[route[1]]
        if len(route) >= 2 and route[0] == "payments":
            payment = self.payments.get(route[1])
            if payment is None:
                return self._error("The id provided does not exist")
            if route[2:] == ["refund"] and req.method == "POST":
                return self._refund(payment, body)
            if route[2:] == ["refunds"]:
                return self._collection(
                    sorted(
                        (r for r in self.refunds.values() if r["payment_id"] == payment["id"]),
                        key=lambda r: r["created_at"],
                        reverse=True,
                    )
                )
            return 200, payment
        if route == ["customers"] and req.method == "POST":
            for customer in self.customers.values():
                if body.get("fail_existing") == "0" and (customer["email"], customer["contact"]) == (
                    body.get("email"),
                    body.get("contact"),
                ):
                    return 200, customer
            customer = {
                "id": self.new_id("cust"),
                "entity": "customer",
                "name": body.get("name"),
                "email": body.get("email"),
                "contact": body.get("contact"),
                "gstin": None,
                "notes": [],
                "created_at": CREATED_AT,
            }
            self.customers[customer["id"]] = customer
            return 200, customer
        if len(route) >= 3 and route[0] == "customers" and route[2] == "tokens":
            tokens = self.tokens.get(route[1], {})
            if len(route) == 3:
                return self._collection(list(tokens.values()))
            if req.method == "DELETE" and route[3] in tokens:
                del tokens[route[3]]
                return 200, {"deleted": True}
            return self._error("The id provided does not exist")
        return self._error("The requested URL was not found on the server.", 404)

    def _refund(self, payment: dict[str, Any], body: dict[str, Any]) -> tuple[int, Any]:
        if payment["status"] not in {"captured", "refunded"}:
            return self._error("Only captured payments can be refunded")
        amount = body.get("amount", payment["amount"] - payment["amount_refunded"])
        if not isinstance(amount, int) or amount <= 0:
            return self._error("The amount must be an integer.")
        if amount > payment["amount"] - payment["amount_refunded"]:
            return self._error("The refund amount provided is greater than amount captured")
        refund = refund_entity(
            refund_id=self.new_id("rfnd"),
            payment_id=payment["id"],
            amount=amount,
            currency=payment["currency"],
            status=self.refund_status,
            receipt=body.get("receipt"),
            notes=body.get("notes"),
            created_at=CREATED_AT + len(self.refunds),
        )
        self.refunds[refund["id"]] = refund
        if self.refund_status != "failed":
            payment["amount_refunded"] += amount
            full = payment["amount_refunded"] == payment["amount"]
            payment.update(refund_status="full" if full else "partial", status="refunded" if full else "captured")
        return 200, refund


def install_fake_razorpay(monkeypatch, settings, *, api_base: str = "") -> FakeRazorpay:
    """Configure Razorpay with the test keys and route the adapter's HTTP to a new :class:`FakeRazorpay`
    (``monkeypatch`` and ``settings`` are pytest's and pytest-django's fixtures)."""
    from payments.gateways import razorpay as adapter_module

    settings.RAZORPAY_KEY_ID = KEY_ID
    settings.RAZORPAY_KEY_SECRET = KEY_SECRET
    settings.RAZORPAY_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.RAZORPAY_API_BASE = api_base
    fake = FakeRazorpay()
    monkeypatch.setattr(adapter_module, "TRANSPORT", fake)
    return fake


@pytest.fixture
def razorpay_fake(monkeypatch, settings) -> FakeRazorpay:
    """:func:`install_fake_razorpay` as a fixture: ``from tests.payments.razorpay_fakes import razorpay_fake``."""
    return install_fake_razorpay(monkeypatch, settings)
