"""The demo gateway: no keys and no money, so a newcomer can pay an order end to end after ``make run``.

It takes the same path a real provider does. ``start`` hands the client the ``complete_url`` of our own
``POST payments/demo/{id}/complete``; that endpoint builds a demo webhook (:func:`demo_event_body`), signs it
(:func:`demo_sign`) and feeds it to the webhook inbox, which verifies it with :meth:`DemoGateway.parse_webhook`,
stores it and applies it like any Stripe or Razorpay event.

The signature is an HMAC-SHA256 over the raw body, hex, in the ``X-Demo-Signature`` header, with a key derived
from ``SECRET_KEY`` (never the key itself): only this server can produce a valid demo webhook.

The body, all of it decided by our endpoint::

    {"id": "demo_evt_...", "type": "payment.succeeded" | "payment.failed" | "refund.succeeded",
     "payment": "<provider_order_id>", "amount": "499.00", "currency": "INR",
     "refund": "<provider_refund_id>", "method": "upi", "vpa": "okdemo"}

Decisions: a demo refund succeeds at once (``refund`` says ``succeeded``; no refund webhook follows); ``fetch``
knows nothing beyond what our own events said, so it returns no events; saved methods are not supported (no
customer methods, detaching is a no-op) since nothing is stored at a provider.
"""

import hashlib
import hmac
import json
import uuid
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.urls import reverse

from commerce.core.errors import InvalidInput

from .base import EventKind, MethodInfo, NormalizedEvent, RefundResult, SignatureInvalid, StartedPayment

if TYPE_CHECKING:
    from ..models import Payment, Refund

SIGNATURE_HEADER = "X-Demo-Signature"
_KEY_CONTEXT = b"commerce.payments.demo-webhook.v1"

#: Demo event type -> what it means.
EVENT_KINDS: dict[str, EventKind] = {
    "payment.succeeded": EventKind.PAYMENT_CAPTURED,
    "payment.failed": EventKind.PAYMENT_FAILED,
    "refund.succeeded": EventKind.REFUND_SUCCEEDED,
}
METHODS = ("card", "upi", "netbanking", "wallet")


def _key() -> bytes:
    return hmac.new(str(settings.SECRET_KEY).encode(), _KEY_CONTEXT, hashlib.sha256).digest()


def demo_sign(body: bytes) -> str:
    """The ``X-Demo-Signature`` of ``body``: hex HMAC-SHA256 under a key derived from ``SECRET_KEY``."""
    return hmac.new(_key(), body, hashlib.sha256).hexdigest()


def demo_event_body(
    *,
    type: str,
    provider_order_id: str,
    amount: Decimal,
    currency: str,
    refund_id: str = "",
    method: str = "",
    vpa: str = "",
) -> bytes:
    """A demo webhook body with a fresh event id (compact JSON, keys sorted)."""
    payload: dict[str, str] = {
        "id": f"demo_evt_{uuid.uuid4().hex}",
        "type": type,
        "payment": provider_order_id,
        "amount": f"{amount:f}",
        "currency": currency,
    }
    if refund_id:
        payload["refund"] = refund_id
    if method:
        payload["method"] = method
    if vpa:
        payload["vpa"] = vpa
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def _header(headers: dict[str, str], name: str) -> str:
    wanted = name.lower()
    for key, value in (headers or {}).items():
        if isinstance(key, str) and key.lower() == wanted and isinstance(value, str):
            return value
    return ""


def _text(payload: dict[str, Any], key: str) -> str:
    value = payload.get(key, "")
    if not isinstance(value, str):
        raise SignatureInvalid(f"The demo event's {key} is not text.")
    return value


class DemoGateway:
    """See the module docstring."""

    name = "demo"

    def __init__(self) -> None:
        self.enabled = bool(getattr(settings, "PAYMENTS_DEMO_ENABLED", False))

    def is_configured(self) -> bool:
        return self.enabled

    def start(self, *, payment: "Payment", customer_id: str = "", save_method: bool = False) -> StartedPayment:
        """The demo id is derived from the payment's idempotency key, so a retried start gives the same one."""
        complete_url = reverse("v1:payment-demo-complete", kwargs={"pk": payment.pk})
        client = {"complete_url": complete_url}
        return StartedPayment(provider_order_id=f"demo_{payment.idempotency_key}", client=client)

    def verify_confirmation(self, *, data: dict[str, Any]) -> list[NormalizedEvent]:
        raise InvalidInput(
            "The demo gateway has no client-side confirmation: use its complete_url.", code="not_supported"
        )

    def parse_webhook(
        self, *, body: bytes, headers: dict[str, str], check_age: bool = True
    ) -> tuple[str, str, list[NormalizedEvent]]:
        """Verify ``X-Demo-Signature`` over ``body`` and map the event (``check_age`` is moot: no timestamp)."""
        signature = _header(headers, SIGNATURE_HEADER)
        if not signature:
            raise SignatureInvalid("The demo webhook is not signed.")
        if not hmac.compare_digest(signature.encode(), demo_sign(body).encode()):
            raise SignatureInvalid("The demo webhook's signature does not match.")
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise SignatureInvalid("The demo webhook is not JSON.") from None
        if not isinstance(payload, dict):
            raise SignatureInvalid("The demo webhook is not a JSON object.")
        event_id, type_ = _text(payload, "id"), _text(payload, "type")
        if not event_id or not type_:
            raise SignatureInvalid("The demo webhook has no id or type.")
        kind = EVENT_KINDS.get(type_, EventKind.IGNORED)
        if kind == EventKind.IGNORED:
            return event_id, type_, [NormalizedEvent(kind=kind, event_id=event_id, raw_type=type_)]
        try:
            amount = Decimal(_text(payload, "amount"))
        except InvalidOperation:
            raise SignatureInvalid("The demo webhook's amount is not a number.") from None
        method = _text(payload, "method")
        event = NormalizedEvent(
            kind=kind,
            event_id=event_id,
            raw_type=type_,
            provider_order_id=_text(payload, "payment"),
            provider_payment_id=_text(payload, "payment") if kind == EventKind.PAYMENT_CAPTURED else "",
            provider_refund_id=_text(payload, "refund"),
            amount=amount,
            currency=_text(payload, "currency"),
            method=method if method in METHODS else "",
            vpa_handle=_text(payload, "vpa"),
            error="The demo payment was declined." if kind == EventKind.PAYMENT_FAILED else "",
            data=payload,
        )
        return event_id, type_, [event]

    def refund(self, *, payment: "Payment", refund: "Refund") -> RefundResult:
        """Succeeds at once; the id is derived from the refund's idempotency key, so a retry gives the same one."""
        return RefundResult(provider_refund_id=f"demo_re_{refund.idempotency_key}", succeeded=True)

    def fetch(self, *, payment: "Payment") -> list[NormalizedEvent]:
        return []

    def customer_create(self, *, email: str, phone: str, name: str) -> str:
        return f"demo_cus_{uuid.uuid4().hex}"

    def methods_list(self, *, customer_id: str) -> list[MethodInfo]:
        return []

    def method_detach(self, *, customer_id: str, provider_method_id: str) -> None:
        return None
