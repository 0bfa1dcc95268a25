"""The one answer to "which client sent this request?", for throttles, django-axes, audit rows and click hashes.

Behind ``NUM_PROXIES`` trusted reverse proxies (``REST_FRAMEWORK["NUM_PROXIES"]``, env ``NUM_PROXIES``), the
client is the address the outermost trusted proxy saw: the ``NUM_PROXIES``-th entry from the right of
``X-Forwarded-For`` (entries further left are written by the client and cannot be trusted). With fewer entries
than proxies, the leftmost entry is used (as DRF does). With ``NUM_PROXIES = 0`` the header is ignored and the
client is ``REMOTE_ADDR``.

Entries are parsed as IP addresses: a port (``203.0.113.7:5123``, ``[2001:db8::1]:443``) is dropped, IPv6 is
written in its compressed form and an IPv4-mapped IPv6 address (``::ffff:203.0.113.7``) as the IPv4 address,
so one client has one key. An entry that is not an address (garbage, ``unknown``, an obfuscated ``_hidden``)
falls back to ``REMOTE_ADDR``: that is the trusted proxy, which is all we know.

:func:`client_ip` always returns a valid address string, or ``"unknown"`` when there is none, so callers can
key on it; :func:`client_ip_or_none` returns ``None`` instead, for IP columns (audit rows, django-axes).
"""

import ipaddress
from typing import Any

from django.conf import settings

UNKNOWN = "unknown"
# Longer than any address with a port; anything longer is not worth parsing.
_MAX_ENTRY = 64


def _strip_port(value: str) -> str:
    if value.startswith("["):  # [v6] or [v6]:port
        host, closed, rest = value[1:].partition("]")
        return host if closed and (not rest or (rest[0] == ":" and rest[1:].isascii() and rest[1:].isdigit())) else ""
    if value.count(":") == 1:  # v4:port (a bare IPv6 address has at least two colons)
        host, _, port = value.partition(":")
        return host if port.isascii() and port.isdigit() else ""
    return value


def _normalise(value: str) -> str | None:
    value = value.strip()
    if not value or len(value) > _MAX_ENTRY:
        return None
    try:
        address = ipaddress.ip_address(_strip_port(value))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


def num_proxies() -> int:
    return int(settings.REST_FRAMEWORK.get("NUM_PROXIES") or 0)


def client_ip(request: Any) -> str:
    """The client's address as described in the module docstring (``request`` may be Django's or DRF's)."""
    meta = request.META
    proxies = num_proxies()
    if proxies > 0:
        hops = [hop for hop in str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",") if hop.strip()]
        if hops:
            normalised = _normalise(hops[-min(proxies, len(hops))])
            if normalised is not None:
                return normalised
    return _normalise(str(meta.get("REMOTE_ADDR", "") or "")) or UNKNOWN


def client_ip_or_none(request: Any) -> str | None:
    """:func:`client_ip`, but ``None`` instead of ``"unknown"`` (for ``GenericIPAddressField`` columns).
    This is django-axes' ``AXES_CLIENT_IP_CALLABLE``."""
    address = client_ip(request)
    return None if address == UNKNOWN else address
