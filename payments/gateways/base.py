"""The one gateway interface every provider adapter implements, and the normalised events they produce.

The payment services (``payments/services/``) speak only this interface; an adapter is the only code that knows
a provider's SDK, its ids, its minor units and its signature scheme. Adapters never touch the database and are
called **outside** any row lock (the services lock, read, unlock, call the provider, then re-lock and re-check).

A webhook or a client-side confirmation becomes a list of :class:`NormalizedEvent`, which the services apply
idempotently: an event says what the provider now knows (an amount captured, a refund succeeded), never "add
this", so applying one twice, or two in another order, converges to the same state.
"""

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from commerce.core.errors import DependencyUnavailable, InvalidInput

if TYPE_CHECKING:
    from ..models import Payment, Refund


class SignatureInvalid(InvalidInput):
    """A webhook or client confirmation whose signature does not verify (bad, missing, stale): 400."""

    default_code = "signature_invalid"


class ProviderUnavailable(DependencyUnavailable):
    """The provider could not be reached or answered 5xx: 503, retry later; nothing was recorded as done."""

    default_code = "provider_unavailable"


class ProviderRefused(InvalidInput):
    """The provider refused the request (4xx: bad card, refund larger than the charge, ...)."""

    default_code = "provider_refused"


class EventKind(StrEnum):
    PAYMENT_AUTHORIZED = "payment_authorized"
    PAYMENT_CAPTURED = "payment_captured"
    PAYMENT_FAILED = "payment_failed"
    PAYMENT_CANCELLED = "payment_cancelled"
    REFUND_SUCCEEDED = "refund_succeeded"
    REFUND_FAILED = "refund_failed"
    DISPUTE_OPENED = "dispute_opened"
    IGNORED = "ignored"


@dataclass(frozen=True)
class NormalizedEvent:
    """What a provider event means for us. Ids are the provider's; amounts are major units (``Decimal``).

    ``provider_order_id`` finds the :class:`~payments.models.Payment` (Stripe PaymentIntent id, Razorpay order id,
    demo payment id). For payment events ``amount`` is the amount authorised or captured so far (not a delta);
    for refund events it is that refund's amount and ``provider_refund_id`` names it.
    """

    kind: EventKind
    event_id: str
    raw_type: str
    provider_order_id: str = ""
    provider_payment_id: str = ""
    provider_refund_id: str = ""
    amount: Decimal | None = None
    currency: str = ""
    method: str = ""
    vpa_handle: str = ""
    error: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StartedPayment:
    """A payment opened at the provider: its id there and what the client needs to complete it."""

    provider_order_id: str
    client: dict[str, Any]


@dataclass(frozen=True)
class MethodInfo:
    """A saved payment method as the provider describes it (never a card number: brand, last four, expiry)."""

    provider_method_id: str
    method: str
    brand: str = ""
    last4: str = ""
    exp_month: int | None = None
    exp_year: int | None = None
    vpa_handle: str = ""


@dataclass(frozen=True)
class RefundResult:
    provider_refund_id: str
    succeeded: bool
    pending: bool = False
    error: str = ""


class Gateway(Protocol):
    #: ``stripe``, ``razorpay`` or ``demo`` (a :class:`~payments.models.Provider` value).
    name: str

    def is_configured(self) -> bool:
        """True when the settings this adapter needs are present (an unconfigured provider is a 400 to start)."""
        ...

    def start(self, *, payment: "Payment", customer_id: str = "", save_method: bool = False) -> StartedPayment:
        """Open the payment at the provider with ``payment.idempotency_key``; amounts in minor units."""
        ...

    def verify_confirmation(self, *, data: dict[str, Any]) -> list[NormalizedEvent]:
        """Verify what the client hands back after paying (Razorpay's signature); ``SignatureInvalid`` if forged."""
        ...

    def parse_webhook(
        self, *, body: bytes, headers: dict[str, str], check_age: bool = True
    ) -> tuple[str, str, list[NormalizedEvent]]:
        """Verify the signature over the raw ``body`` and parse it: ``(event_id, type, events)``.

        ``check_age=False`` skips only the freshness check of a signed timestamp (Stripe's 300 s tolerance): the
        webhook inbox passes it when it re-verifies a body it stored after checking it on receipt, since a retry
        may run hours later. The signature itself is always verified."""
        ...

    def refund(self, *, payment: "Payment", refund: "Refund") -> RefundResult:
        """Refund ``refund.amount`` of ``payment`` with ``refund.idempotency_key``."""
        ...

    def fetch(self, *, payment: "Payment") -> list[NormalizedEvent]:
        """What the provider knows of ``payment`` now (for reconciliation and out-of-order events)."""
        ...

    def customer_create(self, *, email: str, phone: str, name: str) -> str:
        """Create the shopper's customer at the provider (for saved methods); returns its id."""
        ...

    def methods_list(self, *, customer_id: str) -> list[MethodInfo]:
        """The customer's saved methods at the provider."""
        ...

    def method_detach(self, *, customer_id: str, provider_method_id: str) -> None:
        """Detach (Stripe) or delete (Razorpay token) a saved method at the provider."""
        ...
