"""The one answer to "which client sent this request?", for throttles, django-axes, audit rows and click hashes.

Behind ``NUM_PROXIES`` trusted reverse proxies, the client is the address the outermost trusted proxy saw:
the ``NUM_PROXIES``-th entry from the right of ``X-Forwarded-For`` (entries further left are written by the
client and cannot be trusted). With ``NUM_PROXIES = 0`` it is ``REMOTE_ADDR``. The result is always a valid,
normalised IP address string, or ``"unknown"`` when none can be found, so callers can key on it safely.
"""

import ipaddress
from typing import Any

from django.conf import settings

UNKNOWN = "unknown"


def _normalise(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def num_proxies() -> int:
    return int(settings.REST_FRAMEWORK.get("NUM_PROXIES") or 0)


def client_ip(request: Any) -> str:
    """The client's address as described in the module docstring (``request`` may be Django's or DRF's)."""
    meta = request.META
    proxies = num_proxies()
    if proxies > 0:
        hops = [hop for hop in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if hops:
            candidate = hops[-min(proxies, len(hops))]
            normalised = _normalise(candidate)
            if normalised is not None:
                return normalised
    return _normalise(meta.get("REMOTE_ADDR", "") or "") or UNKNOWN
