"""A fake RazorpayX Payouts API for tests: a ``requests`` transport adapter answering the endpoints the adapter
uses (``POST /v1/payouts``, ``GET /v1/payouts?reference_id=...``, ``GET /v1/payouts/{id}``) as RazorpayX documents
them, idempotency included (the same ``X-Payout-Idempotency`` returns the first payout; another body with the key
is a ``BAD_REQUEST_ERROR``).

    fake = install_fake_razorpayx(monkeypatch, settings)   # keys set, transport swapped
    fake.calls[-1].json["amount"] == 25000                   # what was sent
    fake.settle("pout_1", "processed", utr="...")            # the bank paid it
    fake.fail_next(method="POST", timeout=True)               # the next create times out
    fake.fail_next(method="POST", after_create=True)          # created, but the answer is lost
    fake.fail_next(status=503)                                # the next call answers 503
"""

import base64
import itertools
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from requests.adapters import BaseAdapter

KEY_ID = "rzp_test_payouts0001"
KEY_SECRET = "razorpayx-test-secret"
ACCOUNT_NUMBER = "2323230000000000"
API_BASE = "https://api.razorpay.com"
CREATED_AT = 1772445600


@dataclass
class Call:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    json: Any


class FakeRazorpayX(BaseAdapter):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Call] = []
        self.payouts: dict[str, dict[str, Any]] = {}
        self.by_key: dict[str, tuple[str, Any]] = {}
        self.ids = itertools.count(1)
        self.create_status = "processing"
        self.refusal: str | None = None
        self._failures: list[dict[str, Any]] = []

    # --- test controls ---------------------------------------------------------------------------------------

    def fail_next(
        self, *, method: str | None = None, timeout: bool = False, status: int = 0, after_create: bool = False
    ) -> None:
        """Make the next call (the next ``method`` call, when given) time out or answer ``status``;
        ``after_create``: the payout is created, then the answer is lost (a timeout)."""
        self._failures.append({"method": method, "timeout": timeout, "status": status, "after_create": after_create})

    def _failure_for(self, method: str) -> dict[str, Any] | None:
        for index, failure in enumerate(self._failures):
            if failure["method"] in (None, method):
                return self._failures.pop(index)
        return None

    def refuse_next(self, description: str) -> None:
        self.refusal = description

    def settle(self, payout_id: str, status: str, *, utr: str | None = None, description: str = "") -> None:
        payout = self.payouts[payout_id]
        payout["status"] = status
        payout["utr"] = utr
        if description:
            payout["status_details"] = {
                "reason": "beneficiary_bank_rejected",
                "description": description,
                "source": "beneficiary_bank",
            }

    def created(self) -> list[Call]:
        return [call for call in self.calls if call.method == "POST"]

    # --- transport -------------------------------------------------------------------------------------------

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = urlsplit(request.url or "")
        body = json.loads(request.body) if request.body else None
        call = Call(request.method or "", url.path, dict(parse_qsl(url.query)), dict(request.headers), body)
        self.calls.append(call)
        failure = self._failure_for(call.method)
        if failure and failure["timeout"]:
            raise requests.ReadTimeout("read timed out")
        if failure and failure["status"]:
            return _response(request, failure["status"], {"error": {"code": "SERVER_ERROR", "description": "down"}})
        if not self._authorised(request):
            return _response(request, 401, {"error": {"code": "BAD_REQUEST_ERROR", "description": "auth"}})
        status, answer = self._route(call)
        if failure and failure["after_create"]:
            raise requests.ReadTimeout("read timed out after the payout was created")
        return _response(request, status, answer)

    def close(self) -> None:
        pass

    def _authorised(self, request: requests.PreparedRequest) -> bool:
        expected = "Basic " + base64.b64encode(f"{KEY_ID}:{KEY_SECRET}".encode()).decode()
        return request.headers.get("Authorization") == expected

    def _route(self, call: Call) -> tuple[int, dict[str, Any]]:
        if call.method == "GET" and call.path == "/v1/payouts":
            items = [p for p in self.payouts.values() if p["reference_id"] == call.params.get("reference_id")]
            return 200, {"entity": "collection", "count": len(items), "items": items}
        if call.method == "GET" and call.path.startswith("/v1/payouts/"):
            payout = self.payouts.get(call.path.rsplit("/", 1)[-1])
            if payout is None:
                return 400, {"error": {"code": "BAD_REQUEST_ERROR", "description": "The id provided does not exist"}}
            return 200, payout
        if call.method == "POST" and call.path == "/v1/payouts":
            return self._create(call)
        return 404, {"error": {"code": "BAD_REQUEST_ERROR", "description": "not found"}}

    def _create(self, call: Call) -> tuple[int, dict[str, Any]]:
        key = call.headers.get("X-Payout-Idempotency", "")
        if not key:
            return 400, {"error": {"code": "BAD_REQUEST_ERROR", "description": "Idempotency key is missing."}}
        if key in self.by_key:
            payout_id, first_body = self.by_key[key]
            if first_body != call.json:
                return 400, {"error": {"code": "BAD_REQUEST_ERROR", "description": "Different request body."}}
            return 200, self.payouts[payout_id]
        if self.refusal is not None:
            description, self.refusal = self.refusal, None
            return 400, {"error": {"code": "BAD_REQUEST_ERROR", "description": description, "field": "vpa"}}
        payout_id = f"pout_{next(self.ids):014d}"
        body = call.json
        self.payouts[payout_id] = {
            "id": payout_id,
            "entity": "payout",
            "fund_account_id": "fa_00000000000001",
            "amount": body["amount"],
            "currency": body["currency"],
            "notes": body.get("notes", {}),
            "fees": 0,
            "tax": 0,
            "status": self.create_status,
            "purpose": body["purpose"],
            "utr": None,
            "mode": body["mode"],
            "reference_id": body["reference_id"],
            "narration": body.get("narration"),
            "batch_id": None,
            "status_details": None,
            "created_at": CREATED_AT,
        }
        self.by_key[key] = (payout_id, body)
        return 200, self.payouts[payout_id]


def _response(request: requests.PreparedRequest, status: int, body: Any) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    response.headers["Content-Type"] = "application/json"
    response.request = request
    response.url = request.url or ""
    return response


def install_fake_razorpayx(monkeypatch: Any, settings: Any) -> FakeRazorpayX:
    """Configure RazorpayX and route every new provider's HTTP through a fresh fake."""
    from cashback.payouts import razorpayx

    settings.RAZORPAYX_KEY_ID = KEY_ID
    settings.RAZORPAYX_KEY_SECRET = KEY_SECRET
    settings.RAZORPAYX_ACCOUNT_NUMBER = ACCOUNT_NUMBER
    settings.RAZORPAYX_API_BASE = API_BASE
    fake = FakeRazorpayX()
    monkeypatch.setattr(razorpayx, "TRANSPORT", fake)
    return fake
