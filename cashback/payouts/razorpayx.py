"""RazorpayX Payouts: approved withdrawals paid to a UPI address or a bank account (IMPS) over RazorpayX's REST API.

Enabled when ``RAZORPAYX_KEY_ID``, ``RAZORPAYX_KEY_SECRET`` and ``RAZORPAYX_ACCOUNT_NUMBER`` are set (the account
payouts are made *from*); ``RAZORPAYX_API_BASE`` (default ``https://api.razorpay.com``) and
``RAZORPAYX_TIMEOUT_SECONDS`` (read timeout, default 10 s; connect 3 s) are optional. HTTP Basic auth with the key
id and secret, JSON bodies, plain ``requests`` (the ``razorpay`` SDK has no payouts client).

Sending (:meth:`RazorpayXProvider.send`), per RazorpayX's "composite payout" API (``POST /v1/payouts``, contact,
fund account and payout in one call):

* ``amount`` in paise (INR only: RazorpayX pays out rupees), ``mode`` ``UPI`` for a VPA or ``IMPS`` for a bank
  account, ``purpose`` ``cashback``, ``queue_if_low_balance`` true (a payout waiting for our account to be topped
  up is ``queued``, i.e. still processing, rather than failed), ``reference_id`` ``withdrawal-<id>``.
* ``fund_account`` ``{"account_type": "vpa", "vpa": {"address"}}`` or ``{"account_type": "bank_account",
  "bank_account": {"name", "ifsc", "account_number"}}`` with its ``contact`` (``type`` ``customer``,
  ``reference_id`` ``user-<id>``, ``name``: the account holder's name for a bank account, ``Shopper <id>`` for
  UPI). The body is built from the withdrawal alone, so a retry sends exactly the same bytes (RazorpayX refuses
  a retry whose body differs from the first request with that idempotency key).
* ``X-Payout-Idempotency``: :func:`payout_idempotency_key`, derived from the withdrawal (id and creation time,
  keyed with ``SECRET_KEY``): the same for every attempt at one withdrawal, never the same for two withdrawals,
  even across databases sharing one RazorpayX account.
* Before creating, the payouts with our ``reference_id`` are listed (``GET /v1/payouts?reference_id=...``): a
  payout created by an attempt whose answer we lost is found and reported instead of being created again, even
  after RazorpayX forgets the idempotency key.

Statuses: ``processed`` is paid (with the bank's ``utr``); ``queued``, ``pending``, ``scheduled`` and
``processing`` are still processing; ``reversed``, ``failed``, ``cancelled`` and ``rejected`` are failed (the
money came back or never left), with ``status_details.description`` (else ``failure_reason``) as the reason.

Errors: a timeout, a connection error, a 5xx, a 429, 401/403 (our keys) or an answer that is not the JSON we
expect raise :class:`~cashback.payouts.base.PayoutUnavailable`: the outcome is unknown, so the withdrawal is left
as it is and sent again later with the same key. A 400 (``BAD_REQUEST_ERROR``: an invalid VPA or IFSC, ...) is
a refusal: the payout is failed with RazorpayX's description.

Tests swap the HTTP transport: set :data:`TRANSPORT` to a ``requests`` transport adapter
(``tests/cashback/razorpayx_fakes.py``) or pass ``transport=`` to the constructor.
"""

import hashlib
import hmac
import logging
import re
from typing import TYPE_CHECKING, Any

import requests
from django.conf import settings
from requests.adapters import BaseAdapter

from commerce.core.money import normalize_currency, to_minor_units

from .base import PayoutResult, PayoutStatus, PayoutUnavailable

if TYPE_CHECKING:
    from ..models import Withdrawal

logger = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.razorpay.com"
CONNECT_TIMEOUT_SECONDS = 3.0
DEFAULT_READ_TIMEOUT_SECONDS = 10.0
IDEMPOTENCY_HEADER = "X-Payout-Idempotency"
PURPOSE = "cashback"
NARRATION = "Cashback withdrawal"
MODES = {"upi": "UPI", "bank": "IMPS"}
PROCESSING_STATES = frozenset({"queued", "pending", "scheduled", "processing"})
FAILED_STATES = frozenset({"reversed", "failed", "cancelled", "rejected"})
MAX_REASON_LENGTH = 300
# RazorpayX contact names: 3 to 50 of these characters.
_NAME_REFUSED = re.compile(r"[^a-zA-Z0-9 '\-_/(),.]")

#: Test hook: a ``requests`` transport adapter mounted on every new provider's session (``None``: the network).
TRANSPORT: BaseAdapter | None = None


def payout_idempotency_key(withdrawal: "Withdrawal") -> str:
    """``wd`` and 32 hex digits: stable for one withdrawal, distinct between withdrawals (RazorpayX allows 4 to 36
    letters, digits, hyphens, underscores and spaces)."""
    message = f"withdrawal-payout:{withdrawal.pk}:{withdrawal.created_at.isoformat()}".encode()
    digest = hmac.new(str(settings.SECRET_KEY).encode(), message, hashlib.sha256).hexdigest()
    return f"wd{digest[:32]}"


def payout_reference_id(withdrawal: "Withdrawal") -> str:
    return f"withdrawal-{withdrawal.pk}"


def _contact_name(withdrawal: "Withdrawal") -> str:
    name = " ".join(_NAME_REFUSED.sub(" ", withdrawal.account_name).split())[:50].strip()
    return name if len(name) >= 3 else f"Shopper {withdrawal.user_id}"


def payout_body(withdrawal: "Withdrawal", *, account_number: str) -> dict[str, Any]:
    """The composite payout request for ``withdrawal`` (see the module docstring)."""
    contact = {"name": _contact_name(withdrawal), "type": "customer", "reference_id": f"user-{withdrawal.user_id}"}
    if withdrawal.method == "upi":
        fund_account: dict[str, Any] = {"account_type": "vpa", "vpa": {"address": withdrawal.vpa}}
    else:
        fund_account = {
            "account_type": "bank_account",
            "bank_account": {
                "name": withdrawal.account_name,
                "ifsc": withdrawal.ifsc,
                "account_number": withdrawal.account_number,
            },
        }
    fund_account["contact"] = contact
    return {
        "account_number": account_number,
        "amount": to_minor_units(withdrawal.amount, withdrawal.currency),
        "currency": normalize_currency(withdrawal.currency),
        "mode": MODES[withdrawal.method],
        "purpose": PURPOSE,
        "fund_account": fund_account,
        "queue_if_low_balance": True,
        "reference_id": payout_reference_id(withdrawal),
        "narration": NARRATION,
        "notes": {"withdrawal_id": str(withdrawal.pk)},
    }


def payout_result(payout: dict[str, Any]) -> PayoutResult:
    """A RazorpayX payout entity as a :class:`PayoutResult` (an unknown status is a :class:`PayoutUnavailable`)."""
    status = payout.get("status")
    reference = payout.get("id")
    if not isinstance(status, str) or not isinstance(reference, str) or not reference:
        raise PayoutUnavailable("RazorpayX answered with a payout we cannot read; try again shortly.")
    utr = payout.get("utr")
    if status == "processed":
        return PayoutResult(status=PayoutStatus.PAID, reference=reference, utr=utr if isinstance(utr, str) else "")
    if status in PROCESSING_STATES:
        return PayoutResult(status=PayoutStatus.PROCESSING, reference=reference)
    if status in FAILED_STATES:
        details = payout.get("status_details")
        described = details.get("description") if isinstance(details, dict) else None
        reason = described or payout.get("failure_reason") or f"The payout was {status}."
        return PayoutResult(
            status=PayoutStatus.FAILED, reference=reference, failure_reason=str(reason)[:MAX_REASON_LENGTH]
        )
    logger.error("RazorpayX payout %s has an unknown status %r", reference, status)
    raise PayoutUnavailable(f"RazorpayX payout {reference} is in an unknown state ({status}).")


class RazorpayXProvider:
    """:class:`~cashback.payouts.base.PayoutProvider` for RazorpayX. Never touches the database."""

    name = "razorpayx"
    automatic = True

    def __init__(self, *, transport: BaseAdapter | None = None) -> None:
        self.key_id = str(getattr(settings, "RAZORPAYX_KEY_ID", "") or "")
        self.key_secret = str(getattr(settings, "RAZORPAYX_KEY_SECRET", "") or "")
        self.account_number = str(getattr(settings, "RAZORPAYX_ACCOUNT_NUMBER", "") or "")
        base = str(getattr(settings, "RAZORPAYX_API_BASE", "") or DEFAULT_API_BASE).rstrip("/")
        self.api_base = base.removesuffix("/v1")
        read_timeout = float(getattr(settings, "RAZORPAYX_TIMEOUT_SECONDS", DEFAULT_READ_TIMEOUT_SECONDS))
        self.timeout = (CONNECT_TIMEOUT_SECONDS, read_timeout)
        self.session = requests.Session()
        self.session.auth = (self.key_id, self.key_secret)
        adapter = transport if transport is not None else TRANSPORT
        if adapter is not None:
            self.session.mount("https://", adapter)
            self.session.mount("http://", adapter)

    # --- plumbing ---------------------------------------------------------------------------------------

    def _request(self, what: str, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """One call; the JSON answer of a 2xx, :class:`_Refused` for a 400, else :class:`PayoutUnavailable`."""
        try:
            response = self.session.request(method, f"{self.api_base}{path}", timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            logger.warning("RazorpayX: %s failed: %s: %s", what, type(exc).__name__, exc)
            raise PayoutUnavailable(f"RazorpayX could not be reached to {what}; it will be retried.") from exc
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code == 400:
            raise _Refused(_error_description(answer) or "RazorpayX refused the payout.")
        if not 200 <= response.status_code < 300 or not isinstance(answer, dict):
            log = logger.error if response.status_code in (401, 403) else logger.warning
            log("RazorpayX: %s answered %s: %s", what, response.status_code, _error_description(answer))
            raise PayoutUnavailable(
                f"RazorpayX could not {what} now (HTTP {response.status_code}); it will be retried."
            )
        return answer

    # --- the interface ----------------------------------------------------------------------------------

    def existing(self, withdrawal: "Withdrawal") -> dict[str, Any] | None:
        """The payout already created for ``withdrawal`` (by an attempt whose answer was lost), or None."""
        answer = self._request(
            "list payouts",
            "GET",
            "/v1/payouts",
            params={"account_number": self.account_number, "reference_id": payout_reference_id(withdrawal)},
        )
        items = answer.get("items")
        if not isinstance(items, list):
            raise PayoutUnavailable("RazorpayX answered the payout list in a shape we cannot read.")
        reference = payout_reference_id(withdrawal)
        found = [item for item in items if isinstance(item, dict) and item.get("reference_id") == reference]
        return found[0] if found else None

    def send(self, withdrawal: "Withdrawal") -> PayoutResult:
        if normalize_currency(withdrawal.currency) != "INR":
            return PayoutResult(
                status=PayoutStatus.FAILED, failure_reason="RazorpayX pays out Indian rupees (INR) only."
            )
        found = self.existing(withdrawal)
        if found is not None:
            return payout_result(found)
        try:
            payout = self._request(
                "create the payout",
                "POST",
                "/v1/payouts",
                json=payout_body(withdrawal, account_number=self.account_number),
                headers={IDEMPOTENCY_HEADER: payout_idempotency_key(withdrawal)},
            )
        except _Refused as exc:
            return PayoutResult(status=PayoutStatus.FAILED, failure_reason=str(exc)[:MAX_REASON_LENGTH])
        return payout_result(payout)

    def fetch(self, reference: str) -> PayoutResult:
        if not re.fullmatch(r"[A-Za-z0-9_]{1,60}", reference or ""):
            raise PayoutUnavailable(f"{reference!r} is not a RazorpayX payout id.")
        try:
            payout = self._request("fetch the payout", "GET", f"/v1/payouts/{reference}")
        except _Refused as exc:
            raise PayoutUnavailable(f"RazorpayX refused to show payout {reference}: {exc}") from exc
        return payout_result(payout)


class _Refused(Exception):
    """RazorpayX answered 400: the request itself was refused (nothing was paid)."""


def _error_description(answer: Any) -> str:
    if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
        return str(answer["error"].get("description") or answer["error"].get("code") or "")
    return ""
