"""The Razorpay adapter (cards, UPI collect and intent, net banking, wallets) on the official ``razorpay`` SDK.

Settings: ``RAZORPAY_KEY_ID`` and ``RAZORPAY_KEY_SECRET`` (API basic auth, and the key of the checkout payment
signature), ``RAZORPAY_WEBHOOK_SECRET`` (the key of the webhook signature, set on the dashboard's webhook),
``RAZORPAY_API_BASE`` (the API's root, ``https://api.razorpay.com`` by default; point it at a test double;
a trailing ``/v1`` is tolerated) and, optionally, ``RAZORPAY_TIMEOUT_SECONDS`` (read timeout, default 10 s; the
connect timeout is 3 s) so that a provider that is down is a fast 503, never a hung worker.

Decisions, written down here because Razorpay's API leaves them to the merchant:

* **One Razorpay order per payment** (``start``), created with the amount in paise, ``receipt`` = our order
  number and notes carrying our payment's id and idempotency key, with ``payment_capture: 1``: payments are
  **captured automatically** when authorised, so an order is paid as soon as the shopper pays (a paid order ships;
  there is no separate capture step to forget). The Orders API has no idempotency header, so ``start`` first lists
  the orders with that receipt and reuses the one whose notes carry this payment's idempotency key (a retry after
  a crash between Razorpay's answer and our commit opens no second order).
* **Checkout confirmation** (``verify_confirmation``): the handler's ``razorpay_order_id|razorpay_payment_id`` is
  verified as HMAC-SHA256 with the key secret, compared in constant time. The payment is then fetched (one GET)
  to learn whether it is already captured (with auto-capture it usually is), its amount and its method; its order
  must be the signed order. If Razorpay cannot be reached for that fetch, the signature alone is enough to record
  the payment as authorised (amount not known: ``None``); the webhook brings the capture.
* **Webhooks** (``parse_webhook``): ``X-Razorpay-Signature`` is HMAC-SHA256 over the raw body with the webhook
  secret; ``X-Razorpay-Event-Id`` is the event's id (Razorpay's de-duplication key; every genuine delivery has one,
  so a delivery without it is refused like a bad signature). ``payment.authorized``, ``payment.captured``,
  ``payment.failed``, ``order.paid``, ``refund.processed``, ``refund.failed`` and ``payment.dispute.created`` are
  mapped; everything else is one ``IGNORED`` event. The method is recorded as ``card`` (``emi`` too), ``upi``,
  ``netbanking``, ``wallet`` or ``other``; for UPI (collect and intent both arrive as ``method: "upi"``) only the
  VPA's **handle** (``okhdfc`` of ``name@okhdfc``) is kept, never the VPA itself, nor the payer's email or phone.
* **Refunds** (``refund``): Razorpay has no idempotency header either. The refund row exists (pending) before the
  adapter is called, and its idempotency key travels in the refund's notes (``refund_key``; also its receipt when
  it fits Razorpay's 40 characters). Before creating, the adapter lists the payment's refunds and returns the one
  carrying that key: a retried refund never refunds twice. Speed ``normal``.
* **Errors**: connection errors, timeouts, a non-JSON answer, ``ServerError`` and ``GatewayError`` (the bank or
  network behind Razorpay failed) are ``ProviderUnavailable`` (503, retry later); ``BadRequestError`` (Razorpay's
  4xx: a refund larger than what is left, an unknown id, bad keys) is ``ProviderRefused`` (400).

Tests swap the HTTP transport, never the SDK: set the module-level :data:`TRANSPORT` to a ``requests`` transport
adapter (``tests/payments/razorpay_fakes.py`` has one), or pass ``transport=`` to the constructor. It is mounted on
the SDK client's own ``requests`` session, so the real SDK builds every request.
"""

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import razorpay
import requests
from django.conf import settings
from razorpay.errors import BadRequestError, GatewayError, ServerError
from requests.adapters import BaseAdapter

from commerce.core.api.fields import money
from commerce.core.errors import InvalidInput
from commerce.core.money import MoneyError, from_minor_units, normalize_currency, to_minor_units

from .base import (
    EventKind,
    MethodInfo,
    NormalizedEvent,
    ProviderRefused,
    ProviderUnavailable,
    RefundResult,
    SignatureInvalid,
    StartedPayment,
)

if TYPE_CHECKING:
    from ..models import Payment, Refund

logger = logging.getLogger(__name__)

#: Test hook: a ``requests`` transport adapter mounted on every new client's session (``None``: the network).
TRANSPORT: BaseAdapter | None = None

DEFAULT_API_BASE = "https://api.razorpay.com"
CONNECT_TIMEOUT_SECONDS = 3.05
DEFAULT_READ_TIMEOUT_SECONDS = 10.0

SIGNATURE_HEADER = "X-Razorpay-Signature"
EVENT_ID_HEADER = "X-Razorpay-Event-Id"

#: Razorpay's ``method`` values and ours (``PaymentMethodType``); card EMI is a card payment.
METHODS: dict[str, str] = {
    "card": "card",
    "emi": "card",
    "upi": "upi",
    "netbanking": "netbanking",
    "wallet": "wallet",
}

#: Webhook events we act on; anything else is one ``IGNORED`` event.
PAYMENT_EVENTS: dict[str, EventKind] = {
    "payment.authorized": EventKind.PAYMENT_AUTHORIZED,
    "payment.captured": EventKind.PAYMENT_CAPTURED,
    "payment.failed": EventKind.PAYMENT_FAILED,
}
REFUND_EVENTS: dict[str, EventKind] = {
    "refund.processed": EventKind.REFUND_SUCCEEDED,
    "refund.failed": EventKind.REFUND_FAILED,
}

# A UPI handle (the part after "@"): letters, digits, dots and hyphens. Anything else is not recorded.
_HANDLE = re.compile(r"^[a-z0-9][a-z0-9.\-]{0,63}$")
# Razorpay ids are short ASCII tokens (order_..., pay_...); signatures are 64 hex digits.
_ID = re.compile(r"^[A-Za-z0-9_\-]{1,100}$")
_HEX_SIGNATURE = re.compile(r"^[0-9a-fA-F]{64}$")
_RECEIPT_MAX = 40
_ERROR_MAX = 500


def hmac_sha256_hex(secret: str, message: bytes) -> str:
    """Razorpay's signature: the lower-case hex HMAC-SHA256 of ``message`` keyed with ``secret``."""
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def _signature_matches(secret: str, message: bytes, signature: object) -> bool:
    if not secret or not isinstance(signature, str) or not _HEX_SIGNATURE.fullmatch(signature.strip()):
        return False
    expected = hmac_sha256_hex(secret, message)
    return hmac.compare_digest(expected.encode("ascii"), signature.strip().lower().encode("ascii"))


def _header(headers: Mapping[str, str], name: str) -> str:
    """``name`` from ``headers`` whatever their spelling (``X-Razorpay-Signature``, ``x-razorpay-signature``, the
    WSGI ``HTTP_X_RAZORPAY_SIGNATURE``); ``""`` when absent."""
    wanted = name.lower()
    for key, value in headers.items():
        if not isinstance(key, str):
            continue
        normal = key.lower().replace("_", "-")
        if normal.startswith("http-"):
            normal = normal[5:]
        if normal == wanted:
            return value if isinstance(value, str) else ""
    return ""


def _clean_handle(handle: object) -> str:
    if not isinstance(handle, str):
        return ""
    handle = handle.strip().lower()
    return handle if _HANDLE.fullmatch(handle) else ""


def vpa_handle(vpa: object) -> str:
    """The handle of a UPI VPA (``"okhdfc"`` of ``"gaurav.kumar@okhdfc"``), lower-cased; ``""`` when there is no
    well-formed one. The name before ``@`` identifies the payer and is never kept."""
    if not isinstance(vpa, str) or vpa.count("@") != 1:
        return ""
    return _clean_handle(vpa.rsplit("@", 1)[1])


def _notes(value: object) -> dict[str, str]:
    """Razorpay's ``notes``: an object, or an empty *list* when there are none."""
    if not isinstance(value, dict):
        return {}
    return {str(key): str(item) for key, item in value.items() if isinstance(item, str | int)}


def _malformed(what: str) -> InvalidInput:
    return InvalidInput(f"Razorpay sent a malformed {what}.", code="provider_malformed")


def _text(entity: Mapping[str, Any], key: str) -> str:
    value = entity.get(key)
    return value if isinstance(value, str) else ""


def _amount(entity: Mapping[str, Any], key: str, currency: str, what: str) -> Decimal:
    """``entity[key]`` (minor units, an integer) in major units of ``currency``."""
    minor = entity.get(key)
    if isinstance(minor, bool) or not isinstance(minor, int) or minor < 0:
        raise _malformed(f"{what} ({key})")
    try:
        return from_minor_units(minor, currency)
    except MoneyError as exc:
        raise _malformed(f"{what} ({key})") from exc


def _currency(entity: Mapping[str, Any], what: str) -> str:
    try:
        return normalize_currency(_text(entity, "currency"))
    except MoneyError as exc:
        raise _malformed(f"{what} (currency)") from exc


def _method_of(payment: Mapping[str, Any]) -> tuple[str, str]:
    """``(method, vpa handle)`` of a Razorpay payment entity. UPI's VPA is ``vpa`` (collect) or ``upi.vpa``
    (intent, newer payloads); an intent payment may carry neither, and then no handle is known."""
    raw = _text(payment, "method")
    method = METHODS.get(raw, "other" if raw else "")
    handle = ""
    if method == "upi":
        upi = payment.get("upi")
        handle = vpa_handle(payment.get("vpa")) or (vpa_handle(upi.get("vpa")) if isinstance(upi, dict) else "")
    return method, handle


def _payment_error(payment: Mapping[str, Any]) -> str:
    parts = [_text(payment, "error_description"), _text(payment, "error_reason"), _text(payment, "error_code")]
    description, reason, code = parts
    text = description or reason or code or "Payment failed."
    if reason and description and reason not in description:
        text = f"{description} ({reason})"
    return text[:_ERROR_MAX]


def _payment_event(
    payment: Mapping[str, Any], *, kind: EventKind, event_id: str, raw_type: str, order_id: str = ""
) -> NormalizedEvent:
    """A payment entity as an event. ``amount`` is what was authorised or captured (the payment's amount: one
    Razorpay payment is captured in full), ``None`` for a failed payment (nothing was taken)."""
    payment_id = _text(payment, "id")
    if not payment_id:
        raise _malformed("payment (id)")
    currency = _currency(payment, "payment")
    amount = _amount(payment, "amount", currency, "payment")
    method, handle = _method_of(payment)
    notes = _notes(payment.get("notes"))
    return NormalizedEvent(
        kind=kind,
        event_id=event_id,
        raw_type=raw_type,
        provider_order_id=order_id or _text(payment, "order_id"),
        provider_payment_id=payment_id,
        amount=None if kind == EventKind.PAYMENT_FAILED else amount,
        currency=currency,
        method=method,
        vpa_handle=handle,
        error=_payment_error(payment) if kind == EventKind.PAYMENT_FAILED else "",
        data={
            "status": _text(payment, "status"),
            "payment_amount": amount,
            "payment_key": notes.get("payment_key", ""),
            "error_code": _text(payment, "error_code"),
            "error_reason": _text(payment, "error_reason"),
        },
    )


def _refund_event(
    refund: Mapping[str, Any], *, kind: EventKind, event_id: str, raw_type: str, order_id: str = ""
) -> NormalizedEvent:
    refund_id = _text(refund, "id")
    if not refund_id:
        raise _malformed("refund (id)")
    currency = _currency(refund, "refund")
    notes = _notes(refund.get("notes"))
    return NormalizedEvent(
        kind=kind,
        event_id=event_id,
        raw_type=raw_type,
        provider_order_id=order_id,
        provider_payment_id=_text(refund, "payment_id"),
        provider_refund_id=refund_id,
        amount=_amount(refund, "amount", currency, "refund"),
        currency=currency,
        error="Razorpay could not process the refund." if kind == EventKind.REFUND_FAILED else "",
        data={
            "status": _text(refund, "status"),
            "refund_key": notes.get("refund_key", ""),
            "receipt": _text(refund, "receipt"),
        },
    )


def _items(collection: object, what: str) -> list[dict[str, Any]]:
    if not isinstance(collection, dict) or not isinstance(collection.get("items"), list):
        raise _malformed(f"{what} list")
    return [item for item in collection["items"] if isinstance(item, dict)]


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


class RazorpayGateway:
    """:class:`~payments.gateways.base.Gateway` for Razorpay. Never touches the database; called outside locks."""

    name = "razorpay"
    #: The headers ``parse_webhook`` needs; the inbox stores them to verify a delivery again on replay.
    webhook_headers = (SIGNATURE_HEADER, EVENT_ID_HEADER)

    def __init__(self, *, transport: BaseAdapter | None = None) -> None:
        self.key_id = str(getattr(settings, "RAZORPAY_KEY_ID", "") or "")
        self.key_secret = str(getattr(settings, "RAZORPAY_KEY_SECRET", "") or "")
        self.webhook_secret = str(getattr(settings, "RAZORPAY_WEBHOOK_SECRET", "") or "")
        base = str(getattr(settings, "RAZORPAY_API_BASE", "") or DEFAULT_API_BASE).rstrip("/")
        self.api_base = base.removesuffix("/v1")
        read_timeout = float(getattr(settings, "RAZORPAY_TIMEOUT_SECONDS", DEFAULT_READ_TIMEOUT_SECONDS))
        self.timeout = (CONNECT_TIMEOUT_SECONDS, read_timeout)
        session = requests.Session()
        adapter = transport if transport is not None else TRANSPORT
        if adapter is not None:
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        self.client = razorpay.Client(session=session, auth=(self.key_id, self.key_secret), base_url=self.api_base)

    # --- plumbing ---------------------------------------------------------------------------------------

    def _call(self, what: str, method: Callable[..., Any], *args: Any) -> dict[str, Any]:
        """Call the SDK with our timeout and turn its failures into our errors (see the module docstring)."""
        try:
            answer = method(*args, timeout=self.timeout)
        except BadRequestError as exc:
            raise ProviderRefused(f"Razorpay refused to {what}: {exc}"[:_ERROR_MAX]) from exc
        except (ServerError, GatewayError) as exc:
            logger.warning("Razorpay: %s failed at the provider: %s", what, exc)
            raise ProviderUnavailable(f"Razorpay could not {what} now; try again shortly.") from exc
        except (requests.RequestException, ValueError) as exc:  # connection, timeout, a non-JSON answer
            logger.warning("Razorpay: %s failed: %s: %s", what, type(exc).__name__, exc)
            raise ProviderUnavailable(f"Razorpay could not be reached to {what}; try again shortly.") from exc
        if not isinstance(answer, dict):
            raise _malformed(f"answer to {what}")
        return answer

    def is_configured(self) -> bool:
        return bool(self.key_id and self.key_secret and self.webhook_secret)

    # --- paying -----------------------------------------------------------------------------------------

    def _order_with_key(self, *, receipt: str, payment_key: str, amount_minor: int, currency: str) -> dict[str, Any]:
        """The Razorpay order already opened for this payment (by a call whose answer we lost), or ``{}``."""
        answer = self._call("list orders", self.client.order.all, {"receipt": receipt, "count": 100})
        for order in _items(answer, "order"):
            if (
                _notes(order.get("notes")).get("payment_key") == payment_key
                and order.get("amount") == amount_minor
                and order.get("currency") == currency
                and order.get("status") in {"created", "attempted"}
            ):
                return order
        return {}

    def start(self, *, payment: "Payment", customer_id: str = "", save_method: bool = False) -> StartedPayment:
        """Open (or find again) the Razorpay order of ``payment``; ``client`` is what Razorpay Checkout needs:
        ``key_id`` (Checkout's ``key``), ``order_id``, ``currency``, ``amount_minor`` (paise, Checkout's
        ``amount``), ``amount`` as our money object, ``name``, ``description`` and, to save the card,
        ``customer_id`` with ``save: 1``."""
        currency = normalize_currency(payment.currency)
        amount_minor = to_minor_units(payment.amount, currency)
        receipt = payment.order.number
        order = self._order_with_key(
            receipt=receipt, payment_key=payment.idempotency_key, amount_minor=amount_minor, currency=currency
        )
        if not order:
            order = self._call(
                "create the order",
                self.client.order.create,
                {
                    "amount": amount_minor,
                    "currency": currency,
                    "receipt": receipt,
                    "payment_capture": 1,
                    "notes": {
                        "payment_id": str(payment.pk),
                        "payment_key": payment.idempotency_key,
                        "order_number": receipt,
                    },
                },
            )
        order_id = _text(order, "id")
        if not _ID.fullmatch(order_id) or order.get("amount") != amount_minor or order.get("currency") != currency:
            raise _malformed("order")
        client: dict[str, Any] = {
            "key_id": self.key_id,
            "order_id": order_id,
            "amount": money(payment.amount, currency),
            "amount_minor": amount_minor,
            "currency": currency,
            "name": str(getattr(settings, "INVOICE_SELLER_NAME", "") or ""),
            "description": f"Order {receipt}",
        }
        if customer_id and save_method:
            client["customer_id"] = customer_id
            client["save"] = 1
        return StartedPayment(provider_order_id=order_id, client=client)

    def verify_confirmation(self, *, data: dict[str, Any]) -> list[NormalizedEvent]:
        """Verify Checkout's handler response and say what the payment is (see the module docstring)."""
        fields = ("razorpay_order_id", "razorpay_payment_id", "razorpay_signature")
        if not isinstance(data, dict):
            raise SignatureInvalid("The Razorpay confirmation must be an object.")
        missing = {name: ["This field is required."] for name in fields if not isinstance(data.get(name), str)}
        if missing:
            raise SignatureInvalid("The Razorpay confirmation is incomplete.", fields=missing)
        order_id, payment_id, signature = (str(data[name]).strip() for name in fields)
        if (
            not _ID.fullmatch(order_id)
            or not _ID.fullmatch(payment_id)
            or not _signature_matches(self.key_secret, f"{order_id}|{payment_id}".encode(), signature)
        ):
            raise SignatureInvalid("The Razorpay payment signature does not verify.")
        event_id = f"confirm:{payment_id}"
        try:
            payment = self._call("fetch the payment", self.client.payment.fetch, payment_id)
        except ProviderUnavailable:
            logger.warning("Razorpay: payment %s confirmed by signature only (provider unreachable)", payment_id)
            return [
                NormalizedEvent(
                    kind=EventKind.PAYMENT_AUTHORIZED,
                    event_id=event_id,
                    raw_type="checkout.confirmed",
                    provider_order_id=order_id,
                    provider_payment_id=payment_id,
                    data={"status": "", "fetched": False},
                )
            ]
        if _text(payment, "id") != payment_id or _text(payment, "order_id") != order_id:
            raise SignatureInvalid("The Razorpay payment does not belong to that order.")
        kind = {
            "captured": EventKind.PAYMENT_CAPTURED,
            "refunded": EventKind.PAYMENT_CAPTURED,
            "failed": EventKind.PAYMENT_FAILED,
        }.get(_text(payment, "status"), EventKind.PAYMENT_AUTHORIZED)
        return [_payment_event(payment, kind=kind, event_id=event_id, raw_type="checkout.confirmed")]

    # --- webhooks ---------------------------------------------------------------------------------------

    def parse_webhook(
        self, *, body: bytes, headers: dict[str, str], check_age: bool = True
    ) -> tuple[str, str, list[NormalizedEvent]]:
        """Verify ``X-Razorpay-Signature`` over the raw ``body`` and parse it into ``(event_id, type, events)``.

        Razorpay signs no timestamp, so ``check_age`` (the interface's freshness switch) changes nothing here."""
        if not self.webhook_secret:
            raise SignatureInvalid("Razorpay webhooks cannot be verified: RAZORPAY_WEBHOOK_SECRET is not set.")
        if not isinstance(body, bytes | bytearray):
            raise SignatureInvalid("The webhook body must be the raw bytes received.")
        if not _signature_matches(self.webhook_secret, bytes(body), _header(headers, SIGNATURE_HEADER)):
            raise SignatureInvalid("The Razorpay webhook signature does not verify.")
        event_id = _header(headers, EVENT_ID_HEADER).strip()
        if not event_id or len(event_id) > 120 or not event_id.isascii() or not event_id.isprintable():
            raise SignatureInvalid(f"The Razorpay webhook has no usable {EVENT_ID_HEADER} header.")
        try:
            envelope = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise _malformed("webhook (not JSON)") from exc
        if not isinstance(envelope, dict) or not _text(envelope, "event"):
            raise _malformed("webhook (no event)")
        raw_type = _text(envelope, "event")[:80]
        payload = envelope.get("payload")
        entities = payload if isinstance(payload, dict) else {}
        return event_id, raw_type, [self._webhook_event(raw_type, event_id, entities)]

    def _webhook_event(self, raw_type: str, event_id: str, entities: dict[str, Any]) -> NormalizedEvent:
        def entity(name: str) -> dict[str, Any] | None:
            wrapper = entities.get(name)
            found = wrapper.get("entity") if isinstance(wrapper, dict) else None
            return found if isinstance(found, dict) else None

        payment = entity("payment")
        if raw_type in PAYMENT_EVENTS:
            if payment is None:
                raise _malformed(f"{raw_type} webhook (no payment)")
            if not _text(payment, "order_id"):  # not made through our Orders API (a payment link, a page)
                return NormalizedEvent(kind=EventKind.IGNORED, event_id=event_id, raw_type=raw_type)
            return _payment_event(payment, kind=PAYMENT_EVENTS[raw_type], event_id=event_id, raw_type=raw_type)
        if raw_type == "order.paid":
            order = entity("order")
            if order is None or payment is None:
                raise _malformed("order.paid webhook (no order or payment)")
            base = _payment_event(
                payment, kind=EventKind.PAYMENT_CAPTURED, event_id=event_id, raw_type=raw_type, order_id=""
            )
            currency = _currency(order, "order")
            order_id = _text(order, "id")
            if not order_id:
                raise _malformed("order.paid webhook (order id)")
            return NormalizedEvent(
                kind=EventKind.PAYMENT_CAPTURED,
                event_id=event_id,
                raw_type=raw_type,
                provider_order_id=order_id,
                provider_payment_id=base.provider_payment_id,
                amount=_amount(order, "amount_paid", currency, "order"),
                currency=currency,
                method=base.method,
                vpa_handle=base.vpa_handle,
                data={**base.data, "order_status": _text(order, "status")},
            )
        if raw_type in REFUND_EVENTS:
            refund = entity("refund")
            if refund is None:
                raise _malformed(f"{raw_type} webhook (no refund)")
            order_id = _text(payment, "order_id") if payment is not None else ""
            return _refund_event(
                refund, kind=REFUND_EVENTS[raw_type], event_id=event_id, raw_type=raw_type, order_id=order_id
            )
        if raw_type == "payment.dispute.created":
            dispute = entity("dispute")
            if dispute is None or payment is None:
                raise _malformed("payment.dispute.created webhook (no dispute or payment)")
            currency = _currency(dispute, "dispute")
            reason = ": ".join(
                part for part in (_text(dispute, "reason_code"), _text(dispute, "reason_description")) if part
            )
            return NormalizedEvent(
                kind=EventKind.DISPUTE_OPENED,
                event_id=event_id,
                raw_type=raw_type,
                provider_order_id=_text(payment, "order_id"),
                provider_payment_id=_text(payment, "id"),
                amount=_amount(dispute, "amount", currency, "dispute"),
                currency=currency,
                error=f"{reason or 'no reason given'} (Razorpay dispute {_text(dispute, 'id')})"[:_ERROR_MAX],
                data={"dispute_id": _text(dispute, "id"), "phase": _text(dispute, "phase")},
            )
        return NormalizedEvent(kind=EventKind.IGNORED, event_id=event_id, raw_type=raw_type)

    # --- refunds and status -----------------------------------------------------------------------------

    def _payment_refunds(self, payment_id: str) -> list[dict[str, Any]]:
        answer = self._call("list the refunds", self.client.payment.fetch_multiple_refund, payment_id, {"count": 100})
        return _items(answer, "refund")

    def refund(self, *, payment: "Payment", refund: "Refund") -> RefundResult:
        """Refund ``refund.amount`` (paise) of the Razorpay payment, once per ``refund.idempotency_key``."""
        payment_id = payment.provider_payment_id
        if not payment_id:
            raise ProviderRefused("This payment has no Razorpay payment to refund (it was never captured).")
        key = refund.idempotency_key
        for existing in self._payment_refunds(payment_id):
            if _notes(existing.get("notes")).get("refund_key") == key:
                return self._refund_result(existing)
        answer = self._call(
            "create the refund",
            self.client.payment.refund,
            payment_id,
            {
                "amount": to_minor_units(refund.amount, refund.currency or payment.currency),
                "speed": "normal",
                "receipt": key if len(key) <= _RECEIPT_MAX else f"refund-{refund.pk}",
                "notes": {
                    "refund_key": key,
                    "refund_id": str(refund.pk),
                    "payment_id": str(payment.pk),
                    "reason": refund.reason[:250],
                },
            },
        )
        return self._refund_result(answer)

    @staticmethod
    def _refund_result(refund: Mapping[str, Any]) -> RefundResult:
        refund_id = _text(refund, "id")
        if not refund_id:
            raise _malformed("refund (id)")
        status = _text(refund, "status")
        return RefundResult(
            provider_refund_id=refund_id,
            succeeded=status == "processed",
            pending=status in {"pending", "created", ""},
            error="Razorpay could not process the refund." if status == "failed" else "",
        )

    def fetch(self, *, payment: "Payment") -> list[NormalizedEvent]:
        """What Razorpay knows of ``payment``'s order: the payment that counts (a captured one, else an authorised
        one, else the latest failed attempt) and, when it was captured, its settled refunds (processed or
        failed; pending ones are left for their webhook)."""
        order_id = payment.provider_order_id
        if not order_id:
            return []
        attempts = _items(self._call("list the order's payments", self.client.order.payments, order_id), "payment")
        attempts.sort(key=lambda item: (_int_or_none(item.get("created_at")) or 0, _text(item, "id")))

        def latest(*statuses: str) -> dict[str, Any] | None:
            found = [item for item in attempts if _text(item, "status") in statuses]
            return found[-1] if found else None

        chosen = latest("captured", "refunded")
        if chosen is not None:
            pay_id = _text(chosen, "id")
            events = [
                _payment_event(
                    chosen,
                    kind=EventKind.PAYMENT_CAPTURED,
                    event_id=f"fetch:{pay_id}:captured",
                    raw_type="payment.fetched",
                    order_id=order_id,
                )
            ]
            if _int_or_none(chosen.get("amount_refunded")):
                for refund in sorted(
                    self._payment_refunds(pay_id), key=lambda item: _int_or_none(item.get("created_at")) or 0
                ):
                    kind = {"processed": EventKind.REFUND_SUCCEEDED, "failed": EventKind.REFUND_FAILED}.get(
                        _text(refund, "status")
                    )
                    if kind is not None:
                        events.append(
                            _refund_event(
                                refund,
                                kind=kind,
                                event_id=f"fetch:{_text(refund, 'id')}:{_text(refund, 'status')}",
                                raw_type="refund.fetched",
                                order_id=order_id,
                            )
                        )
            return events
        for statuses, kind in (
            (("authorized",), EventKind.PAYMENT_AUTHORIZED),
            (("failed",), EventKind.PAYMENT_FAILED),
        ):
            found = latest(*statuses)
            if found is not None:
                return [
                    _payment_event(
                        found,
                        kind=kind,
                        event_id=f"fetch:{_text(found, 'id')}:{statuses[0]}",
                        raw_type="payment.fetched",
                        order_id=order_id,
                    )
                ]
        return []

    # --- customers and saved methods --------------------------------------------------------------------

    def customer_create(self, *, email: str, phone: str, name: str) -> str:
        """The shopper's Razorpay customer (``fail_existing: "0"``: an existing customer with that email and phone
        is answered instead of an error, so a retry makes no second one)."""
        data: dict[str, Any] = {"fail_existing": "0"}
        if name.strip():
            data["name"] = name.strip()[:50]
        if email:
            data["email"] = email
        if phone:
            data["contact"] = phone
        customer_id = _text(self._call("create the customer", self.client.customer.create, data), "id")
        if not customer_id:
            raise _malformed("customer (id)")
        return customer_id

    def methods_list(self, *, customer_id: str) -> list[MethodInfo]:
        """The customer's saved tokens: cards (network, last four, expiry) and UPI (the handle only)."""
        answer = self._call("list the saved methods", self.client.token.all, customer_id)
        methods = []
        for token in _items(answer, "token"):
            token_id = _text(token, "id")
            if not token_id:
                continue
            raw = _text(token, "method")
            method = METHODS.get(raw, "other" if raw else "")
            found = token.get("card")
            card: dict[str, Any] = found if isinstance(found, dict) else {}
            handle = ""
            vpa = token.get("vpa")
            if isinstance(vpa, dict):  # {"username": ..., "handle": "okhdfc", ...}: only the handle is read
                handle = _clean_handle(vpa.get("handle")) or vpa_handle(vpa.get("address"))
            elif isinstance(vpa, str):
                handle = vpa_handle(vpa)
            methods.append(
                MethodInfo(
                    provider_method_id=token_id,
                    method=method,
                    brand=_text(card, "network") or _text(token, "wallet") or _text(token, "bank"),
                    last4=_text(card, "last4"),
                    exp_month=_int_or_none(card.get("expiry_month")),
                    exp_year=_int_or_none(card.get("expiry_year")),
                    vpa_handle=handle,
                )
            )
        return methods

    def method_detach(self, *, customer_id: str, provider_method_id: str) -> None:
        """Delete the saved token at Razorpay."""
        self._call("delete the saved method", self.client.token.delete, customer_id, provider_method_id)
