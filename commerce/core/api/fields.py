"""DRF fields for money: the one JSON shape of every amount, and strict amount query parameters.

Every amount in a response is one object, ``{"amount": "499.00", "currency": "INR"}``: the amount is a string
quantized to the currency's minor unit (``"499.00"`` in INR, ``"500"`` in JPY), so a client needs one parser and
never meets a float. :class:`MoneyField` renders it from two attributes of the instance (the amount and the
currency code); in the OpenAPI schema it is the single ``Money`` component, referenced by ``$ref`` wherever an
amount appears.

Amounts sent *in* a query string (``?min_price=499``) stay plain decimals; :class:`AmountQueryField` accepts
only plain ASCII digits with an optional fraction, so exponent notation, ``NaN``/``Infinity``, digit separators
and non-ASCII digits are a 400 before ``Decimal`` gets to interpret them.
"""

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import get_attribute

from commerce.core.money import normalize_currency, quantize

# An amount as rendered: digits with the currency's places after the point (none for JPY and KRW).
AMOUNT_PATTERN = r"^-?\d+(\.\d+)?$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"
MONEY_COMPONENT = "Money"


# The ``Money`` schema component. Responses are rendered by ``MoneyField``; this serializer only documents them,
# and its docstring is the component's description in the OpenAPI schema.
class MoneySerializer(serializers.Serializer[Any]):
    """An amount with its currency, the one shape of every amount in the API. The amount is a decimal string
    with the currency's decimal places: "499.00" in INR, "500" in JPY."""

    amount = serializers.RegexField(
        AMOUNT_PATTERN,
        read_only=True,
        help_text="Decimal string with the currency's decimal places: '499.00' (INR), '500' (JPY).",
    )
    currency = serializers.RegexField(CURRENCY_PATTERN, read_only=True, help_text="ISO 4217 code, e.g. 'INR'.")

    class Meta:
        ref_name = MONEY_COMPONENT


def money(amount: Decimal | int | str, currency: str) -> dict[str, str]:
    """``{"amount": "499.00", "currency": "INR"}``: the amount rounded half-up to the currency's places."""
    code = normalize_currency(currency)
    return {"amount": f"{quantize(amount, code):f}", "currency": code}


# What get_attribute hands to to_representation: the amount and the currency code.
AmountWithCurrency = tuple[Any, str]


@extend_schema_field(MoneySerializer)
class MoneyField(serializers.Field[AmountWithCurrency, Any, dict[str, str], Any]):
    """A read-only amount rendered as a ``Money`` object, or ``null`` when the amount is null.

    The amount comes from ``source`` (the field name by default); the currency from the attribute or key named
    by ``currency_field`` on the same instance (dotted paths work: ``"product.currency"``), or from ``currency``:
    a fixed code or a callable returning one (``currency=default_currency`` for amounts that have no currency
    column, such as the search price bands). Works on model instances and on dicts alike.
    """

    def __init__(
        self,
        *,
        currency_field: str = "currency",
        currency: str | Callable[[], str] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs["read_only"] = True
        super().__init__(**kwargs)
        self.currency_field = currency_field
        self.currency = currency

    def _currency_of(self, instance: Any) -> str:
        if self.currency is not None:
            return self.currency() if callable(self.currency) else self.currency
        return str(get_attribute(instance, self.currency_field.split(".")))

    def get_attribute(self, instance: Any) -> AmountWithCurrency | None:
        amount = super().get_attribute(instance)
        if amount is None:
            # The serializer renders None as null without calling to_representation.
            return None
        return amount, self._currency_of(instance)

    def to_representation(self, value: AmountWithCurrency) -> dict[str, str]:
        amount, currency = value
        return money(amount, currency)


class AmountQueryField(serializers.DecimalField):
    """An amount in a query string or a JSON body: a plain decimal such as ``499`` or ``499.5``.

    Everything ``Decimal()`` would also accept but no client writes on purpose is refused with the field's
    ``invalid`` error: ``1e3``, ``NaN``, ``Infinity``, ``1_000``, ``+5``, ``.5``, surrounding blanks and non-ASCII
    digits (as whole numbers are in ``commerce.core.api.query``). Then the usual ``DecimalField`` checks apply
    (``max_digits``, ``decimal_places``, ``min_value``), so huge values and more decimals than the column holds
    are refused too. Defaults to the money columns' 12 digits and 2 places. The schema states the exact pattern.
    """

    PLAIN_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?", re.ASCII)
    default_error_messages = {"invalid": "Enter a plain decimal amount, such as 499 or 499.50."}

    def __init__(self, *, max_digits: int = 12, decimal_places: int = 2, **kwargs: Any) -> None:
        super().__init__(max_digits=max_digits, decimal_places=decimal_places, **kwargs)

    def to_internal_value(self, data: Any) -> Decimal:
        # A JSON number arrives as int or float; its shortest repr is what the client wrote ("1999.5"), and a
        # float too large or too small for plain notation ("1e+20") fails the pattern like any exponent.
        if isinstance(data, bool) or not isinstance(data, str | int | float | Decimal):
            self.fail("invalid")
        if not self.PLAIN_DECIMAL.fullmatch(str(data)):
            self.fail("invalid")
        value: Decimal = super().to_internal_value(data)
        return value


class AmountQueryFieldSchema(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]  # registers it
    """Documents :class:`AmountQueryField` with the pattern it enforces (no exponent, no blanks, bounded digits),
    instead of ``DecimalField``'s looser one, so a contract test generates only values the server accepts."""

    target_class = AmountQueryField

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        field: AmountQueryField = self.target
        whole = (field.max_digits or 12) - (field.decimal_places or 0)
        sign = "" if field.min_value is not None and field.min_value >= 0 else "-?"
        fraction = rf"(\.[0-9]{{1,{field.decimal_places}}})?" if field.decimal_places else ""
        return {"type": "string", "pattern": rf"^{sign}[0-9]{{1,{whole}}}{fraction}$", "example": "499.50"}
