"""Whole numbers from query strings, read strictly: ASCII digits only.

``str.isdigit()`` and ``int()`` accept far more than a client means by a number: ``"²"`` and ``"①"`` are digits to
``isdigit`` but ``int`` refuses them (a 500 where code checked one and called the other); ``int`` reads
``"٣"`` (Arabic-Indic 3), ``"1_000"`` and ``" 7 "`` without complaint, and so does DRF's ``IntegerField``.
Every whole number the API reads from a query string is matched against :data:`ASCII_DIGITS` first
(pagination) or read with :class:`QueryIntegerField`, which accepts ``[0-9]{1,9}`` and nothing else, so huge
values are a 400 too.
"""

import re
from typing import Any

from rest_framework import serializers

# Nine digits: far beyond any page or count, and no arithmetic on it can overflow a 64-bit column.
_ASCII_INT = re.compile(r"[0-9]{1,9}")
ASCII_DIGITS = re.compile(r"[0-9]+")  # for fullmatch: what "a whole number" means in a query string
QUERY_INT_MAX = 999_999_999


class QueryIntegerField(serializers.IntegerField):
    """``IntegerField`` for query parameters that accepts ASCII digits only (no sign, spaces, underscores or
    other scripts' digits). Bounds default to 0 and :data:`QUERY_INT_MAX`."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", QUERY_INT_MAX)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not _ASCII_INT.fullmatch(str(data)):
            self.fail("invalid")
        return super().to_internal_value(data)
