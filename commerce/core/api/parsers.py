"""The API's only request parser: JSON that cannot crash the server, whatever the bytes.

DRF's ``JSONParser`` hands the body to ``json.load`` and maps ``ValueError`` to a 400. Input found by fuzzing
still got through to a 500, or deeper into the code than it should:

* JSON nested a thousand levels deep makes the C decoder recurse until ``RecursionError``;
* ``"\\ud800"`` (a lone surrogate, legal JSON escape syntax) decodes to a ``str`` that cannot be encoded, so
  the first hash, database write or log line raises ``UnicodeEncodeError``;
* integers of thousands of digits cost quadratic time to convert and overflow every integer column, and
  ``1e999`` becomes ``inf``.

:class:`SafeJSONParser` refuses all of these with a 400 in the error shape before any view sees the data.
Limits (settings): ``API_MAX_JSON_DEPTH`` (32) levels of arrays and objects, integers within a signed 64-bit
column, finite numbers only, UTF-8 only (RFC 8259), and at most ``API_MAX_BODY_BYTES`` (also enforced
earlier, from ``Content-Length``, by ``ApiBodyLimitMiddleware``).
"""

import json
import math
import re
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework.exceptions import APIException, ParseError, UnsupportedMediaType
from rest_framework.parsers import JSONParser

DEFAULT_MAX_DEPTH = 32
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_UTF8_NAMES = {"utf-8", "utf8"}

# One token per match: a whole JSON string (skipped, so brackets inside strings are not counted) or a bracket.
# The unrolled string pattern is linear; on malformed input the count may be off, but json.loads refuses it next.
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
# A \uD800-\uDFFF escape somewhere in the text: only then can the decoded data hold a lone surrogate.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class BodyTooLarge(APIException):
    status_code = 413
    default_code = "request_too_large"
    default_detail = "Request body is too large."


def max_depth() -> int:
    return getattr(settings, "API_MAX_JSON_DEPTH", DEFAULT_MAX_DEPTH)


def check_depth(text: str, limit: int) -> None:
    """Raise ``ParseError(code="too_deep")`` when arrays/objects nest deeper than ``limit``. Linear, no recursion."""
    depth = 0
    for piece in _STRING_OR_BRACKET.findall(text):
        if piece in "[{":
            depth += 1
            if depth > limit:
                raise ParseError(f"JSON is nested deeper than {limit} levels.", code="too_deep")
        elif piece in "]}":
            depth -= 1


def _parse_int(literal: str) -> int:
    # The length test comes first so a 4,000-digit literal never reaches int() (quadratic in the digits).
    if len(literal.lstrip("-")) > 19 or not INT64_MIN <= (value := int(literal)) <= INT64_MAX:
        raise ValueError("integer out of range (signed 64-bit)")
    return value


def _parse_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {literal[:40]}")
    return value


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _has_lone_surrogate(data: Any) -> bool:
    """True when any string (key or value) in the decoded data holds a lone surrogate. Iterative: the data is
    at most :func:`max_depth` deep already, but a stack costs nothing and never recurses."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class SafeJSONParser(JSONParser):
    """``application/json`` only, UTF-8 only; see the module docstring for what it refuses and why."""

    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        parser_context = parser_context or {}
        encoding = str(parser_context.get("encoding") or settings.DEFAULT_CHARSET)
        if encoding.lower() not in _UTF8_NAMES:
            raise UnsupportedMediaType(
                media_type or self.media_type,
                detail=f"Request bodies must be UTF-8 JSON; charset {encoding[:40]!r} is not supported.",
            )
        limit = settings.API_MAX_BODY_BYTES
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise BodyTooLarge(f"Request body exceeds {limit} bytes.")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError("Request body is not valid UTF-8.") from None
        check_depth(text, max_depth())
        try:
            data = json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_refuse_constant)
        except RecursionError:  # belt and braces: check_depth should make this unreachable
            raise ParseError("JSON is nested too deeply.", code="too_deep") from None
        except ValueError as exc:  # JSONDecodeError, and the number checks above
            raise ParseError(f"JSON parse error - {exc}") from None
        if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(data):
            raise ParseError("JSON strings must not contain lone surrogates (\\ud800-\\udfff).")
        return data
