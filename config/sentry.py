"""Sentry initialisation, only ever called when ``SENTRY_DSN`` is set.

Personal data is scrubbed: ``send_default_pii`` is off, and the bodies, cookies and auth headers of
authentication and payment requests are dropped before an event leaves the process.
"""

from typing import Any

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.integrations.redis import RedisIntegration

# Request bodies under these paths carry passwords, OTP codes, tokens or payment data.
SENSITIVE_PATH_PREFIXES = (
    "/api/v1/auth/",
    "/api/v1/me",
    "/api/v1/checkout",
    "/api/v1/payments/",
    "/api/v1/webhooks/",
    "/api/v1/wallet/",
    "/api/v1/cashback/",
    "/admin/login",
)
_SENSITIVE_ORDERS_SEGMENT = "/payments"


def _is_sensitive(url: str) -> bool:
    path = url.split("://", 1)[-1]
    path = path[path.find("/") :] if "/" in path else "/"
    if path.startswith(SENSITIVE_PATH_PREFIXES):
        return True
    return path.startswith("/api/v1/orders/") and _SENSITIVE_ORDERS_SEGMENT in path


def scrub_event(event: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """``before_send`` hook: strip request bodies of sensitive endpoints, and credentials from all."""
    request = event.get("request")
    if isinstance(request, dict):
        if _is_sensitive(str(request.get("url", ""))):
            request.pop("data", None)
            request["data"] = "[Filtered]"
        request.pop("cookies", None)
        headers = request.get("headers")
        if isinstance(headers, dict):
            for name in list(headers):
                if name.lower() in {"authorization", "cookie", "x-razorpay-signature", "stripe-signature"}:
                    headers[name] = "[Filtered]"
    return event


def init_sentry(*, dsn: str, environment: str, release: str, traces_sample_rate: float, sample_rate: float) -> None:
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        sample_rate=sample_rate,
        traces_sample_rate=traces_sample_rate,
        send_default_pii=False,
        max_request_body_size="never" if environment == "production" else "small",
        before_send=scrub_event,  # type: ignore[arg-type]  # sentry types events as a TypedDict; we treat it as a dict
        integrations=[DjangoIntegration(), CeleryIntegration(), RedisIntegration()],
    )
