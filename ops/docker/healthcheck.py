"""Container health probe (the Dockerfile's HEALTHCHECK): exit 0 when the URL answers HTTP 200, 1 otherwise.

Uses only the standard library, since the slim base image has no curl. The request carries a ``Host`` header
taken from ``DJANGO_ALLOWED_HOSTS`` (its first usable entry): the probe connects to 127.0.0.1, which a
production host list need not include, and Django answers 400 to a host it does not allow. A leading-dot
entry (``.example.com``) is sent as the bare domain; with no usable entry the probe sends ``localhost``.

Usage: ``python healthcheck.py [URL]`` (default ``http://127.0.0.1:8000/api/v1/health``).
"""

import os
import sys
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8000/api/v1/health"
TIMEOUT_SECONDS = 4.0


def probe_host(allowed_hosts: str) -> str:
    """The Host header to send: the first entry of a comma-separated ALLOWED_HOSTS value that names a host."""
    for entry in allowed_hosts.split(","):
        host = entry.strip().lstrip(".")
        if host and host != "*":
            return host
    return "localhost"


def check(url: str, host: str, timeout: float = TIMEOUT_SECONDS) -> tuple[bool, str]:
    """GET ``url`` with ``Host: host``; healthy only on a 200 answer."""
    if not url.startswith(("http://", "https://")):
        return False, f"refusing to probe a non-HTTP URL: {url!r}"
    request = urllib.request.Request(url, headers={"Host": host, "Accept": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (scheme checked above)
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError) as exc:
        return False, f"unreachable: {exc}"
    if status != 200:
        return False, f"HTTP {status}"
    return True, "HTTP 200"


def main(argv: list[str]) -> int:
    url = argv[1] if len(argv) > 1 else DEFAULT_URL
    healthy, detail = check(url, probe_host(os.environ.get("DJANGO_ALLOWED_HOSTS", "")))
    print(f"{'healthy' if healthy else 'unhealthy'}: {url} {detail}", file=sys.stdout if healthy else sys.stderr)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
