"""Errors of the accounts services that the core error types do not cover (401 and 429).

The API turns them into DRF's ``AuthenticationFailed`` (with ``WWW-Authenticate``) and a 429 with
``Retry-After``; the body keeps the one error shape, ``{"code", "detail"}``.
"""

from commerce.core.errors import DomainError


class AuthenticationError(DomainError):
    """Credentials, token or one-time code not accepted (401). ``code`` tells which, e.g. ``otp_required``."""

    status = 401
    default_code = "authentication_failed"


class TooManyRequests(DomainError):
    """Refused for now (429); ``wait`` is the number of seconds after which trying again makes sense."""

    status = 429
    default_code = "throttled"

    def __init__(self, detail: str, *, code: str | None = None, wait: int | None = None) -> None:
        super().__init__(detail, code=code)
        self.wait = wait
