"""The Stripe adapter: PaymentIntents, refunds, customers and saved methods through the official ``stripe`` SDK.

Every call goes through one :class:`stripe.StripeClient` built from the settings (never the SDK's module globals):
``STRIPE_SECRET_KEY``, ``STRIPE_WEBHOOK_SECRET``, and ``STRIPE_API_BASE`` to point the SDK at stripe-mock or a test
double. ``STRIPE_PUBLISHABLE_KEY`` (optional) is handed to the client with the PaymentIntent's ``client_secret``.

Transport: the SDK's ``requests`` client with short timeouts (:data:`CONNECT_TIMEOUT`, :data:`READ_TIMEOUT`) and
**no SDK retries**, so a Stripe that is down is a 503 within seconds; the callers (tasks with backoff, the shopper)
retry, and every create carries an idempotency key so a retry never creates twice. Tests swap the transport for a
fake :class:`stripe.HTTPClient` with the constructor's ``http_client`` or, for code that builds the adapter through
``gateway_for``, the module-level hook :data:`HTTP_CLIENT` (``tests/payments/stripe_fakes.py`` does both).

Decisions:

* **start**: a PaymentIntent in minor units, lower-case currency, ``automatic_payment_methods``, metadata
  ``order_number`` and ``payment_id``, ``payment.idempotency_key`` as the ``Idempotency-Key``; with a customer and
  ``save_method`` also ``customer`` and ``setup_future_usage=off_session``. The client gets ``client_secret`` and
  ``publishable_key`` (what Stripe.js ``confirmPayment`` needs) and ``payment_intent`` (the id).
* **Webhooks** are verified like ``stripe.Webhook.construct_event`` (``t=<ts>,v1=<hex HMAC-SHA256 of
  "<ts>.<body>">`` with ``STRIPE_WEBHOOK_SECRET``, 300 s tolerance; ``check_age=False`` skips only the tolerance).
  Mapped types: ``payment_intent.succeeded`` (captured, ``amount_received``), ``payment_intent.payment_failed``
  (the error's message), ``payment_intent.canceled``, ``charge.refunded``, ``refund.created`` / ``refund.updated``
  / ``refund.failed``, ``charge.dispute.created``; anything else is one ``IGNORED`` event.
* **Refunds converge by refund id.** Every refund event names one Stripe refund (``re_...``) and its own amount and
  status, never the charge's cumulative ``amount_refunded`` (which names no refund and cannot be matched to a
  :class:`~payments.models.Refund` row). ``charge.refunded`` yields one event per refund in the charge's
  ``refunds`` list (succeeded or failed ones; pending ones are left to the ``refund.*`` event that follows); when the
  payload carries no list (API versions since 2022-11-15 leave it out) it yields one ``IGNORED`` event and the
  ``refund.*`` events carry the refunds. Applying "refund re_X of 100.00 succeeded" twice or in any order with
  its siblings gives the same state.
* **verify_confirmation**: Stripe confirms in the browser and signs nothing the server could check, so the
  client's ``{"payment_intent", "payment_intent_client_secret"}`` (the parameters Stripe.js's return URL carries)
  are checked by retrieving the PaymentIntent from Stripe with our secret key: the client secret must be the
  intent's own (else ``SignatureInvalid``), and the events are what Stripe says of it, never what the client says.
* **fetch** retrieves the PaymentIntent (expanding its payment method and latest charge, for the method type) and
  lists its refunds, and turns them into the same events a webhook would give.
* **Errors**: no connection, a timeout, 5xx, 429 (rate limited) and 401/403 (our key is wrong or revoked: the
  provider is unusable for us, and a shopper must not read Stripe's message about our key) are
  ``ProviderUnavailable`` (503); any other 4xx is ``ProviderRefused`` (400) with Stripe's message.
"""

import functools
import hmac
import json
import logging
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import stripe
from django.conf import settings

from commerce.core.errors import InvalidInput
from commerce.core.money import MoneyError, from_minor_units, to_minor_units

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

#: Stripe's header on webhook deliveries.
SIGNATURE_HEADER = "Stripe-Signature"
#: Seconds a signed webhook timestamp may be old (``stripe.Webhook.DEFAULT_TOLERANCE``).
TOLERANCE_SECONDS = 300
#: Seconds to connect and to wait for an answer: a Stripe that is down is a 503 within seconds.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 25.0

#: Test hook: when set, every adapter built without an explicit ``http_client`` talks through this transport.
HTTP_CLIENT: stripe.HTTPClient | None = None

#: Stripe payment-method type -> ours (``PaymentMethodType``); any other non-empty type is ``other``.
METHOD_TYPES: dict[str, str] = {
    "card": "card",
    "card_present": "card",
    "upi": "upi",
    "netbanking": "netbanking",
    "link": "wallet",
    "paypal": "wallet",
    "amazon_pay": "wallet",
    "cashapp": "wallet",
    "alipay": "wallet",
    "wechat_pay": "wallet",
    "grabpay": "wallet",
    "revolut_pay": "wallet",
}

#: Stripe refund status -> the event it makes (``pending``/``requires_action`` make none: not decided yet).
REFUND_KINDS: dict[str, EventKind] = {
    "succeeded": EventKind.REFUND_SUCCEEDED,
    "failed": EventKind.REFUND_FAILED,
    "canceled": EventKind.REFUND_FAILED,
}

PAYMENT_INTENT_TYPES = {
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
}
REFUND_TYPES = {"refund.created", "refund.updated", "refund.failed"}


def method_type(stripe_type: object) -> str:
    """Our method type for a Stripe payment-method type (``""`` when unknown)."""
    if not isinstance(stripe_type, str) or not stripe_type:
        return ""
    return METHOD_TYPES.get(stripe_type, "other")


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _id(value: object) -> str:
    """The id of a field that is either an id or an expanded object."""
    if isinstance(value, Mapping):
        return _str(value.get("id"))
    return _str(value)


def _amount(minor: object, currency: str) -> Decimal | None:
    if isinstance(minor, bool) or not isinstance(minor, int) or not currency:
        return None
    return from_minor_units(minor, currency)


def _currency(obj: Mapping[str, Any]) -> str:
    return _str(obj.get("currency")).upper()


def _plain(obj: Any) -> Any:
    """A Stripe object (or anything JSON-shaped) as plain dicts and lists."""
    if isinstance(obj, stripe.StripeObject):
        return obj.to_dict(recursive=True)
    return obj


def _intent_method(intent: Mapping[str, Any]) -> str:
    """The method type a PaymentIntent shows: its expanded payment method, its expanded latest charge, the method of
    its last error, or its only allowed type."""
    payment_method = intent.get("payment_method")
    if isinstance(payment_method, Mapping) and payment_method.get("type"):
        return method_type(payment_method.get("type"))
    charge = intent.get("latest_charge")
    if isinstance(charge, Mapping):
        details = charge.get("payment_method_details")
        if isinstance(details, Mapping) and details.get("type"):
            return method_type(details.get("type"))
    error = intent.get("last_payment_error")
    if isinstance(error, Mapping):
        error_method = error.get("payment_method")
        if isinstance(error_method, Mapping) and error_method.get("type"):
            return method_type(error_method.get("type"))
    types = intent.get("payment_method_types")
    if isinstance(types, list) and len(types) == 1:
        return method_type(types[0])
    return ""


def _intent_event(event_id: str, raw_type: str, intent: Mapping[str, Any]) -> NormalizedEvent | None:
    """The event a PaymentIntent in its current status means (``None`` while nothing is decided)."""
    status = _str(intent.get("status"))
    currency = _currency(intent)
    common: dict[str, Any] = {
        "event_id": event_id,
        "raw_type": raw_type,
        "provider_order_id": _str(intent.get("id")),
        "currency": currency,
        "method": _intent_method(intent),
    }
    # The latest charge names the payment only once it went through (a failed attempt's charge is not it).
    charge_id = _id(intent.get("latest_charge"))
    if status == "succeeded" or raw_type == "payment_intent.succeeded":
        return NormalizedEvent(
            kind=EventKind.PAYMENT_CAPTURED,
            amount=_amount(intent.get("amount_received"), currency),
            provider_payment_id=charge_id,
            **common,
        )
    if status == "requires_capture":
        return NormalizedEvent(
            kind=EventKind.PAYMENT_AUTHORIZED,
            amount=_amount(intent.get("amount_capturable"), currency),
            provider_payment_id=charge_id,
            **common,
        )
    if status == "canceled" or raw_type == "payment_intent.canceled":
        return NormalizedEvent(
            kind=EventKind.PAYMENT_CANCELLED,
            error=_str(intent.get("cancellation_reason")),
            data={"cancellation_reason": _str(intent.get("cancellation_reason"))},
            **common,
        )
    error = intent.get("last_payment_error")
    if raw_type == "payment_intent.payment_failed" or (
        status == "requires_payment_method" and isinstance(error, Mapping)
    ):
        error = error if isinstance(error, Mapping) else {}
        return NormalizedEvent(
            kind=EventKind.PAYMENT_FAILED,
            error=_str(error.get("message")) or "The payment failed.",
            data={"code": _str(error.get("code")), "decline_code": _str(error.get("decline_code"))},
            **common,
        )
    return None


def _refund_event(event_id: str, raw_type: str, refund: Mapping[str, Any]) -> NormalizedEvent | None:
    """The event a Stripe refund in its current status means (``None`` while pending)."""
    kind = REFUND_KINDS.get(_str(refund.get("status")))
    if kind is None:
        return None
    currency = _currency(refund)
    return NormalizedEvent(
        kind=kind,
        event_id=event_id,
        raw_type=raw_type,
        provider_order_id=_id(refund.get("payment_intent")),
        provider_payment_id=_id(refund.get("charge")),
        provider_refund_id=_str(refund.get("id")),
        amount=_amount(refund.get("amount"), currency),
        currency=currency,
        error=_str(refund.get("failure_reason")) if kind == EventKind.REFUND_FAILED else "",
        data={"status": _str(refund.get("status"))},
    )


def _charge_refund_events(event_id: str, raw_type: str, charge: Mapping[str, Any]) -> list[NormalizedEvent]:
    refunds = charge.get("refunds")
    listed = refunds.get("data") if isinstance(refunds, Mapping) else None
    if not isinstance(listed, list):
        return []
    events = []
    for refund in listed:
        if not isinstance(refund, Mapping):
            continue
        # A refund in a charge's list may omit the ids the charge already carries.
        refund = {
            **refund,
            "payment_intent": _id(refund.get("payment_intent")) or _id(charge.get("payment_intent")),
            "charge": _id(refund.get("charge")) or _str(charge.get("id")),
        }
        event = _refund_event(event_id, raw_type, refund)
        if event is not None:
            events.append(event)
    return events


def _dispute_event(event_id: str, raw_type: str, dispute: Mapping[str, Any]) -> NormalizedEvent:
    currency = _currency(dispute)
    return NormalizedEvent(
        kind=EventKind.DISPUTE_OPENED,
        event_id=event_id,
        raw_type=raw_type,
        provider_order_id=_id(dispute.get("payment_intent")),
        provider_payment_id=_id(dispute.get("charge")),
        amount=_amount(dispute.get("amount"), currency),
        currency=currency,
        error=f"Dispute {_str(dispute.get('id'))}: {_str(dispute.get('reason')) or 'no reason given'}.",
        data={
            "dispute_id": _str(dispute.get("id")),
            "reason": _str(dispute.get("reason")),
            "status": _str(dispute.get("status")),
        },
    )


def events_from_payload(event: Mapping[str, Any]) -> list[NormalizedEvent]:
    """What one (verified) Stripe event means: a non-empty list, one ``IGNORED`` event when nothing applies."""
    event_id, raw_type = _str(event.get("id")), _str(event.get("type"))
    data = event.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    events: list[NormalizedEvent] = []
    if isinstance(obj, Mapping):
        if raw_type in PAYMENT_INTENT_TYPES:
            intent_event = _intent_event(event_id, raw_type, obj)
            events = [intent_event] if intent_event is not None else []
        elif raw_type == "charge.refunded":
            events = _charge_refund_events(event_id, raw_type, obj)
        elif raw_type in REFUND_TYPES:
            refund_event = _refund_event(event_id, raw_type, obj)
            events = [refund_event] if refund_event is not None else []
        elif raw_type == "charge.dispute.created":
            events = [_dispute_event(event_id, raw_type, obj)]
    return events or [NormalizedEvent(kind=EventKind.IGNORED, event_id=event_id, raw_type=raw_type)]


def _header(headers: Mapping[str, str], name: str) -> str:
    wanted = name.lower()
    for key, value in headers.items():
        if isinstance(key, str) and key.lower().replace("_", "-") in (wanted, f"http-{wanted}"):
            return value if isinstance(value, str) else ""
    return ""


@functools.cache
def _default_http_client() -> stripe.HTTPClient:
    """One ``requests`` transport for the process: ``gateway_for`` builds an adapter per call, and sharing the
    transport keeps its connections to Stripe alive (its sessions are per thread, so sharing is safe)."""
    return stripe.RequestsClient(timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))


def _error_message(exc: stripe.StripeError) -> str:
    return (exc.user_message or str(exc) or "Stripe refused the request.").strip()


class StripeGateway:
    """The :class:`~payments.gateways.base.Gateway` for Stripe. Builds its client from the settings."""

    name = "stripe"

    def __init__(self, *, http_client: stripe.HTTPClient | None = None) -> None:
        self.secret_key: str = str(getattr(settings, "STRIPE_SECRET_KEY", "") or "")
        self.webhook_secret: str = str(getattr(settings, "STRIPE_WEBHOOK_SECRET", "") or "")
        self.publishable_key: str = str(getattr(settings, "STRIPE_PUBLISHABLE_KEY", "") or "")
        self.api_base: str = str(getattr(settings, "STRIPE_API_BASE", "") or "").rstrip("/")
        self._http_client = http_client or HTTP_CLIENT
        self._client: stripe.StripeClient | None = None

    # --- plumbing ---------------------------------------------------------------------------------------------

    @property
    def client(self) -> stripe.StripeClient:
        """The SDK client (built on first use, so an unconfigured adapter can still answer ``is_configured``)."""
        if self._client is None:
            if not self.secret_key:
                raise ProviderUnavailable("Stripe is not configured here.", code="provider_unavailable")
            self._client = stripe.StripeClient(
                self.secret_key,
                base_addresses={"api": self.api_base} if self.api_base else None,
                max_network_retries=0,
                http_client=self._http_client or _default_http_client(),
            )
        return self._client

    def _call(self, what: str, func: Any, *args: Any, **kwargs: Any) -> Any:
        """Run one SDK call, mapping Stripe's errors onto ours (see the module docstring)."""
        try:
            return func(*args, **kwargs)
        except stripe.APIConnectionError as exc:
            logger.warning("Stripe %s: cannot reach Stripe: %s", what, exc)
            raise ProviderUnavailable("Stripe cannot be reached; try again shortly.") from exc
        except (stripe.AuthenticationError, stripe.PermissionError) as exc:
            logger.error("Stripe %s: our API key was refused (%s): %s", what, exc.http_status, exc)
            raise ProviderUnavailable("Stripe is not available right now; try again later.") from exc
        except stripe.RateLimitError as exc:
            logger.warning("Stripe %s: rate limited: %s", what, exc)
            raise ProviderUnavailable("Stripe is busy; try again shortly.") from exc
        except stripe.StripeError as exc:
            status = exc.http_status
            if status is None or not 400 <= status < 500:  # 5xx, or an answer that is not Stripe's JSON
                logger.warning("Stripe %s: Stripe answered %s: %s", what, status, exc)
                raise ProviderUnavailable("Stripe is not available right now; try again shortly.") from exc
            logger.info("Stripe %s: refused (%s, %s): %s", what, status, exc.code, exc)
            raise ProviderRefused(_error_message(exc)) from exc

    # --- the Gateway interface --------------------------------------------------------------------------------

    def is_configured(self) -> bool:
        return bool(self.secret_key and self.webhook_secret)

    def start(self, *, payment: "Payment", customer_id: str = "", save_method: bool = False) -> StartedPayment:
        """Create the PaymentIntent of ``payment`` (reads ``payment.order.number``: pass the payment with its order
        loaded to spare a query)."""
        currency = str(payment.currency).upper()
        params: dict[str, Any] = {
            "amount": to_minor_units(payment.amount, currency),
            "currency": currency.lower(),
            "automatic_payment_methods": {"enabled": True},
            "metadata": {"order_number": payment.order.number, "payment_id": str(payment.pk)},
            "description": f"Order {payment.order.number}",
        }
        if customer_id:
            params["customer"] = customer_id
            if save_method:
                params["setup_future_usage"] = "off_session"
        intent = self._call(
            "start",
            self.client.v1.payment_intents.create,
            params=params,
            options={"idempotency_key": payment.idempotency_key},
        )
        return StartedPayment(
            provider_order_id=intent.id,
            client={
                "client_secret": intent.client_secret,
                "publishable_key": self.publishable_key,
                "payment_intent": intent.id,
            },
        )

    def verify_confirmation(self, *, data: dict[str, Any]) -> list[NormalizedEvent]:
        """Check what Stripe.js returned (``payment_intent``, ``payment_intent_client_secret``) against Stripe itself
        and return the PaymentIntent's events (see the module docstring)."""
        intent_id = data.get("payment_intent") if isinstance(data, dict) else None
        secret = data.get("payment_intent_client_secret") if isinstance(data, dict) else None
        fields: dict[str, list[str]] = {}
        if not isinstance(intent_id, str) or not intent_id.startswith("pi_") or len(intent_id) > 100:
            fields["payment_intent"] = ["A PaymentIntent id (pi_...) is required."]
        if not isinstance(secret, str) or not secret:
            fields["payment_intent_client_secret"] = ["The PaymentIntent's client secret is required."]
        if fields:
            raise InvalidInput("The Stripe confirmation is incomplete.", fields=fields)
        assert isinstance(intent_id, str) and isinstance(secret, str)
        if not secret.startswith(f"{intent_id}_secret_"):
            raise SignatureInvalid("The client secret does not belong to that PaymentIntent.")
        intent = _plain(self._retrieve_intent(intent_id))
        if not hmac.compare_digest(_str(intent.get("client_secret")).encode(), secret.encode()):
            raise SignatureInvalid("The client secret does not belong to that PaymentIntent.")
        event = _intent_event(f"confirm:{intent_id}:{_str(intent.get('status'))}", "payment_intent.retrieved", intent)
        return [event] if event is not None else []

    def parse_webhook(
        self, *, body: bytes, headers: dict[str, str], check_age: bool = True
    ) -> tuple[str, str, list[NormalizedEvent]]:
        if not self.webhook_secret:
            raise SignatureInvalid("Stripe webhooks are not configured here.")
        signature = _header(headers, SIGNATURE_HEADER)
        if not signature:
            raise SignatureInvalid("The Stripe-Signature header is missing.")
        try:
            stripe.WebhookSignature.verify_header(
                body, signature, self.webhook_secret, tolerance=TOLERANCE_SECONDS if check_age else None
            )
        except stripe.SignatureVerificationError as exc:
            raise SignatureInvalid(f"The Stripe signature does not verify: {exc.user_message or exc}") from None
        except (UnicodeDecodeError, ValueError):
            raise SignatureInvalid("The Stripe signature does not verify: the body is not UTF-8.") from None
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            raise InvalidInput("The Stripe event is not JSON.", code="invalid_payload") from None
        event_id = _str(payload.get("id")) if isinstance(payload, dict) else ""
        event_type = _str(payload.get("type")) if isinstance(payload, dict) else ""
        if not isinstance(payload, dict) or payload.get("object") != "event" or not event_id or not event_type:
            raise InvalidInput("The Stripe event has no id or type.", code="invalid_payload")
        if len(event_id) > 120 or len(event_type) > 80:
            raise InvalidInput("The Stripe event's id or type is too long.", code="invalid_payload")
        try:
            events = events_from_payload(payload)
        except MoneyError as exc:
            raise InvalidInput(
                f"The Stripe event carries an amount we cannot read: {exc}", code="invalid_payload"
            ) from None
        return event_id, event_type, events

    def refund(self, *, payment: "Payment", refund: "Refund") -> RefundResult:
        currency = str(refund.currency or payment.currency).upper()
        result = self._call(
            "refund",
            self.client.v1.refunds.create,
            params={
                "payment_intent": payment.provider_order_id,
                "amount": to_minor_units(refund.amount, currency),
                "metadata": {"refund_id": str(refund.pk), "payment_id": str(payment.pk)},
            },
            options={"idempotency_key": refund.idempotency_key},
        )
        status = _str(result.status)
        if status == "succeeded":
            return RefundResult(provider_refund_id=result.id, succeeded=True)
        if status in ("pending", "requires_action"):
            return RefundResult(provider_refund_id=result.id, succeeded=False, pending=True)
        reason = _str(getattr(result, "failure_reason", None))
        return RefundResult(
            provider_refund_id=result.id,
            succeeded=False,
            error=f"Stripe refund {status or 'failed'}" + (f": {reason}." if reason else "."),
        )

    def fetch(self, *, payment: "Payment") -> list[NormalizedEvent]:
        if not payment.provider_order_id:
            return []
        intent = _plain(self._retrieve_intent(payment.provider_order_id))
        status = _str(intent.get("status"))
        events: list[NormalizedEvent] = []
        intent_event = _intent_event(f"fetch:{intent.get('id')}:{status}", "payment_intent.retrieved", intent)
        if intent_event is not None:
            events.append(intent_event)
        if status == "succeeded":
            listed = self._call(
                "fetch refunds",
                lambda: [
                    _plain(refund)
                    for refund in self.client.v1.refunds.list(
                        params={"payment_intent": payment.provider_order_id, "limit": 100}
                    ).auto_paging_iter()
                ],
            )
            for refund in listed:
                refund_event = _refund_event(
                    f"fetch:{refund.get('id')}:{refund.get('status')}", "refund.retrieved", refund
                )
                if refund_event is not None:
                    events.append(refund_event)
        return events

    def customer_create(self, *, email: str, phone: str, name: str) -> str:
        params = {key: value for key, value in (("email", email), ("phone", phone), ("name", name)) if value}
        customer = self._call("customer_create", self.client.v1.customers.create, params=params)
        return str(customer.id)

    def methods_list(self, *, customer_id: str) -> list[MethodInfo]:
        methods: Iterable[Any] = self._call(
            "methods_list",
            lambda: [
                _plain(method)
                for method in self.client.v1.customers.payment_methods.list(
                    customer_id, params={"limit": 100}
                ).auto_paging_iter()
            ],
        )
        result = []
        for method in methods:
            kind = _str(method.get("type"))
            card = method.get(kind) if kind in ("card", "card_present") else None
            card = card if isinstance(card, Mapping) else {}
            upi = method.get("upi") if kind == "upi" else None
            vpa = _str(upi.get("vpa")) if isinstance(upi, Mapping) else ""
            result.append(
                MethodInfo(
                    provider_method_id=_str(method.get("id")),
                    method=method_type(kind),
                    brand=_str(card.get("brand")),
                    last4=_str(card.get("last4")),
                    exp_month=card.get("exp_month") if isinstance(card.get("exp_month"), int) else None,
                    exp_year=card.get("exp_year") if isinstance(card.get("exp_year"), int) else None,
                    vpa_handle=vpa.rpartition("@")[2] if "@" in vpa else "",
                )
            )
        return result

    def method_detach(self, *, customer_id: str, provider_method_id: str) -> None:
        """Detach the method. Stripe's detach takes no customer: the caller has checked the method is the
        shopper's (a method of another customer is refused here rather than detached)."""
        method = self._call("method_detach", self.client.v1.payment_methods.retrieve, provider_method_id)
        owner = _id(getattr(method, "customer", None))
        if owner != customer_id:
            raise ProviderRefused("That payment method is not saved for this customer.")
        self._call("method_detach", self.client.v1.payment_methods.detach, provider_method_id)

    # --- helpers ----------------------------------------------------------------------------------------------

    def _retrieve_intent(self, intent_id: str) -> Any:
        return self._call(
            "retrieve",
            self.client.v1.payment_intents.retrieve,
            intent_id,
            params={"expand": ["payment_method", "latest_charge"]},
        )
