from decimal import Decimal

import pytest

from commerce.core.money import (
    MoneyError,
    from_minor_units,
    normalize_currency,
    percent_of,
    quantize,
    to_decimal,
    to_minor_units,
)


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        ("2.345", "INR", Decimal("2.35")),
        ("2.344", "INR", Decimal("2.34")),
        ("-2.345", "INR", Decimal("-2.35")),
        ("0.005", "USD", Decimal("0.01")),
        ("10.5", "JPY", Decimal("11")),
        ("1.2345", "KWD", Decimal("1.235")),
        (7, "INR", Decimal("7.00")),
        (Decimal("499"), "inr", Decimal("499.00")),
    ],
)
def test_quantize_rounds_half_up_to_currency_places(value, currency, expected):
    result = quantize(value, currency)
    assert result == expected
    assert str(result) == str(expected)


def test_quantize_uses_default_currency(settings):
    settings.DEFAULT_CURRENCY = "JPY"
    assert str(quantize("99.5")) == "100"


def test_floats_are_refused():
    with pytest.raises(MoneyError):
        to_decimal(0.1)


@pytest.mark.parametrize("bad", ["abc", "", "NaN", "Infinity", True, "1e999999999999"])
def test_garbage_amounts_are_refused(bad):
    with pytest.raises(MoneyError):
        quantize(bad, "INR")


def test_minor_units_round_trip():
    assert to_minor_units("499.99", "INR") == 49999
    assert to_minor_units("499.995", "INR") == 50000
    assert to_minor_units("500", "JPY") == 500
    assert from_minor_units(49999, "INR") == Decimal("499.99")
    assert from_minor_units(1235, "KWD") == Decimal("1.235")


def test_minor_units_refuse_non_integers():
    with pytest.raises(MoneyError):
        from_minor_units(1.5, "INR")


def test_percent_of_rounds_once():
    assert percent_of(Decimal("333.33"), Decimal("7.5"), "INR") == Decimal("25.00")
    assert percent_of(Decimal("0.10"), Decimal("5"), "INR") == Decimal("0.01")


@pytest.mark.parametrize("bad", ["RUPEE", "12A", "", "€€€"])
def test_bad_currency_codes(bad):
    with pytest.raises(MoneyError):
        normalize_currency(bad)


def test_supported_currencies_are_those_the_columns_hold_exactly():
    from commerce.core.money import SUPPORTED_CURRENCIES

    assert SUPPORTED_CURRENCIES == ("AED", "EUR", "GBP", "INR", "JPY", "KRW", "SGD", "USD")


@pytest.mark.parametrize("code", ["KWD", "bhd", "OMR"])
def test_three_place_currencies_are_refused_not_rounded(code):
    from django.core.exceptions import ValidationError

    from commerce.core.money import validate_currency

    with pytest.raises(ValidationError) as excinfo:
        validate_currency(code)
    assert excinfo.value.code == "unsupported_currency"
    assert "3 decimal places" in excinfo.value.messages[0]


@pytest.mark.parametrize(
    ("code", "error"), [("XYZ", "unsupported_currency"), ("1NR", "invalid_currency"), ("", "invalid_currency")]
)
def test_unknown_or_malformed_currencies_are_refused(code, error):
    from django.core.exceptions import ValidationError

    from commerce.core.money import validate_currency

    with pytest.raises(ValidationError) as excinfo:
        validate_currency(code)
    assert excinfo.value.code == error


def test_supported_currency_passes():
    from commerce.core.money import validate_currency

    assert validate_currency("inr") is None
