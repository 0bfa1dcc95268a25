"""Back-office pieces shared by the apps' admins: key/value editing of flat JSON objects, and list cells.

Key/value editing
    :class:`KeyValueField` (with its :class:`KeyValueWidget`) edits a JSON object of text, such as a variant's
    ``options`` or a product's ``attributes``, as rows of two inputs (key, value) instead of raw JSON. The form
    shows the stored rows plus a few blank ones to add (no JavaScript: "Save and continue editing" brings fresh
    blank rows). It cleans the rows into a ``dict`` of str to str, so the model's JSONField keeps its stored
    shape, and refuses, with one form error per problem: a value without a key, a key used twice, a key or value
    too long, a NUL character (PostgreSQL cannot store it in JSON) and more rows than allowed. Blank rows are
    ignored; keys and values are trimmed. A stored value that is not text (a number, a list) is shown as JSON
    and saved back as that text.

List cells
    :func:`money_cell` shows an amount with its currency code ("499.00 INR", right-aligned, unambiguous in any
    locale); :func:`percent_cell` a rate ("10 %"); :func:`thumbnail` a small ``<img>`` with alt text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import format_html
from django.utils.safestring import SafeString

from commerce.core.money import quantize

DEFAULT_MAX_ROWS = 30
DEFAULT_MAX_KEY_LENGTH = 64
DEFAULT_MAX_VALUE_LENGTH = 200
DEFAULT_EXTRA_ROWS = 3

# The look of the theme's text inputs (django-unfold's input classes), so the rows match the other fields; at
# least 8rem wide, so a row stays legible in a tabular inline.
INPUT_CLASSES = (
    "border border-base-200 bg-white font-medium min-w-32 placeholder-base-400 rounded-default shadow-xs "
    "text-font-default-light text-sm px-3 py-2 w-full focus:outline-2 focus:-outline-offset-2 "
    "focus:outline-primary-600 dark:bg-base-900 dark:border-base-700 dark:text-font-default-dark"
)

Pair = tuple[str, str]


def _as_text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def to_pairs(value: object) -> list[Pair]:
    """Rows of (key, value) text from whatever a form holds: the stored dict (or its JSON text) when unbound,
    the posted rows when bound. Anything that is not an object becomes one keyless row, so the form refuses it
    on save instead of dropping it silently."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        text = value
        try:
            value = json.loads(text)
        except ValueError:
            return [("", text)]
    if isinstance(value, Mapping):
        return [(str(key), _as_text(item)) for key, item in value.items()]
    if isinstance(value, list) and all(isinstance(row, tuple | list) and len(row) == 2 for row in value):
        return [(_as_text(key), _as_text(item)) for key, item in value]
    return [("", _as_text(value))]


@dataclass(frozen=True)
class _Row:
    key: str
    value: str
    key_name: str
    value_name: str
    key_id: str
    value_id: str
    number: int


class KeyValueWidget(forms.Widget):
    """Rows of key and value text inputs named ``<name>_key_<i>`` and ``<name>_value_<i>``."""

    template_name = "core/widgets/key_value.html"

    def __init__(
        self,
        attrs: dict[str, Any] | None = None,
        *,
        extra_rows: int = DEFAULT_EXTRA_ROWS,
        max_key_length: int = DEFAULT_MAX_KEY_LENGTH,
        max_value_length: int = DEFAULT_MAX_VALUE_LENGTH,
    ) -> None:
        super().__init__(attrs)
        self.extra_rows = extra_rows
        self.max_key_length = max_key_length
        self.max_value_length = max_value_length

    def _posted(self, data: Mapping[str, Any], name: str) -> dict[int, dict[str, str]]:
        pattern = re.compile(rf"{re.escape(name)}_(key|value)_(\d{{1,4}})")
        rows: dict[int, dict[str, str]] = {}
        for field_name in data:
            match = pattern.fullmatch(field_name)
            if match:
                rows.setdefault(int(match[2]), {})[match[1]] = str(data.get(field_name) or "")
        return rows

    def value_from_datadict(self, data: Mapping[str, Any], files: Any, name: str) -> list[Pair]:
        rows = self._posted(data, name)
        return [(rows[index].get("key", ""), rows[index].get("value", "")) for index in sorted(rows)]

    def value_omitted_from_data(self, data: Mapping[str, Any], files: Any, name: str) -> bool:
        return not self._posted(data, name)

    def id_for_label(self, id_: str) -> str:
        return f"{id_}_key_0" if id_ else id_

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        base_id = context["widget"]["attrs"].get("id") or f"id_{name}"
        pairs = to_pairs(value) + [("", "")] * self.extra_rows
        context["widget"].update(
            rows=[
                _Row(
                    key=key,
                    value=item,
                    key_name=f"{name}_key_{index}",
                    value_name=f"{name}_value_{index}",
                    key_id=f"{base_id}_key_{index}",
                    value_id=f"{base_id}_value_{index}",
                    number=index + 1,
                )
                for index, (key, item) in enumerate(pairs)
            ],
            table_id=f"{base_id}_rows",
            input_classes=INPUT_CLASSES,
            max_key_length=self.max_key_length,
            max_value_length=self.max_value_length,
        )
        return context

    def format_value(self, value: Any) -> Any:
        return value


class KeyValueField(forms.Field):
    """A JSON object of text edited as key/value rows; cleans to ``dict[str, str]`` (see the module docstring)."""

    widget = KeyValueWidget
    default_error_messages = {
        "too_many_rows": "Use at most %(max)d rows (%(count)d filled).",
        "blank_key": "Row %(row)d has a value but no key.",
        "duplicate_key": "The key “%(key)s” is used more than once.",
        "key_too_long": "Row %(row)d: the key has %(length)d characters; at most %(max)d are allowed.",
        "value_too_long": "Row %(row)d: the value has %(length)d characters; at most %(max)d are allowed.",
        "null_character": "Row %(row)d contains a NUL character.",
    }

    def __init__(
        self,
        *,
        max_rows: int = DEFAULT_MAX_ROWS,
        max_key_length: int = DEFAULT_MAX_KEY_LENGTH,
        max_value_length: int = DEFAULT_MAX_VALUE_LENGTH,
        extra_rows: int = DEFAULT_EXTRA_ROWS,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "widget",
            KeyValueWidget(extra_rows=extra_rows, max_key_length=max_key_length, max_value_length=max_value_length),
        )
        super().__init__(**kwargs)
        self.max_rows = max_rows
        self.max_key_length = max_key_length
        self.max_value_length = max_value_length

    def _row_errors(self, row: int, key: str, value: str) -> list[ValidationError]:
        errors = []
        if "\x00" in key or "\x00" in value:
            errors.append(self._error("null_character", row=row))
        if len(key) > self.max_key_length:
            errors.append(self._error("key_too_long", row=row, length=len(key), max=self.max_key_length))
        if len(value) > self.max_value_length:
            errors.append(self._error("value_too_long", row=row, length=len(value), max=self.max_value_length))
        return errors

    def _error(self, code: str, **params: object) -> ValidationError:
        return ValidationError(self.error_messages[code], code=code, params=params)

    def to_python(self, value: Any) -> dict[str, str]:
        filled = [
            (row, key.strip(), item.strip())
            for row, (key, item) in enumerate(to_pairs(value), start=1)
            if key.strip() or item.strip()
        ]
        errors: list[ValidationError] = []
        if len(filled) > self.max_rows:
            errors.append(self._error("too_many_rows", max=self.max_rows, count=len(filled)))
        cleaned: dict[str, str] = {}
        for row, key, item in filled:
            if not key:
                errors.append(self._error("blank_key", row=row))
                continue
            row_errors = self._row_errors(row, key, item)
            if key in cleaned:
                row_errors.append(self._error("duplicate_key", key=key[: self.max_key_length]))
            errors.extend(row_errors)
            if not row_errors:
                cleaned[key] = item
        if errors:
            raise ValidationError(errors)
        return cleaned

    def has_changed(self, initial: Any, data: Any) -> bool:
        if self.disabled:
            return False
        try:
            return self.to_python(data) != self.to_python(initial)
        except ValidationError:
            return True


def money_text(amount: Decimal | int | str | None, currency: str) -> str:
    """``"499.00 INR"``: the amount at the currency's places and the ISO code; empty for no amount."""
    if amount is None or amount == "":
        return ""
    return f"{quantize(amount, currency):f} {currency}"


def money_cell(amount: Decimal | int | str | None, currency: str, *, empty: str = "-") -> SafeString:
    """A right-aligned list cell with the amount and its currency code."""
    text = money_text(amount, currency) or empty
    return format_html('<span class="block text-right whitespace-nowrap">{}</span>', text)


def percent_text(rate: Decimal | int | str) -> str:
    """``"10 %"``, ``"12.5 %"``: a rate without trailing zeros."""
    value = Decimal(str(rate))
    text = format(value.quantize(Decimal("1")) if value == value.to_integral() else value.normalize(), "f")
    return f"{text} %"


def percent_cell(rate: Decimal | int | str) -> SafeString:
    return format_html('<span class="block text-right whitespace-nowrap">{}</span>', percent_text(rate))


THUMBNAIL_SIZE = 40


def thumbnail(src: str, alt: str, *, size: int = THUMBNAIL_SIZE, empty: str = "-") -> SafeString:
    """A small lazily loaded ``<img>`` (``empty`` when there is no source). The source is the stored file's
    URL or an external URL; the content security policy's ``img-src`` must allow it."""
    if not src:
        return format_html("{}", empty)
    return format_html(
        '<img src="{}" alt="{}" width="{}" height="{}" loading="lazy" class="h-10 w-10 object-cover rounded-default">',
        src,
        alt,
        size,
        size,
    )
