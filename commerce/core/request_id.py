"""The id of the request being served, kept in a context variable so every log line can carry it."""

import re
import uuid
from contextvars import ContextVar, Token

REQUEST_ID_HEADER = "X-Request-ID"
# Accept a caller's id only if it is short and made of safe characters (it ends up in logs and headers).
# fullmatch, not match with "$": "$" also matches before a trailing newline, and "abc\n" in a header is a 500.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

_current: ContextVar[str] = ContextVar("request_id", default="-")


def sanitize_request_id(candidate: str | None) -> str:
    """The caller's id if sane, else a fresh one."""
    if candidate and _SANE_REQUEST_ID.fullmatch(candidate):
        return candidate
    return uuid.uuid4().hex


def get_request_id() -> str:
    return _current.get()


def set_request_id(value: str) -> Token[str]:
    """Set the current id; returns a token for :func:`reset_request_id`."""
    return _current.set(value)


def reset_request_id(token: Token[str]) -> None:
    _current.reset(token)
