"""Money helpers. Amounts are ``Decimal`` beside an ISO 4217 currency code, never floats.

Rounding is ``ROUND_HALF_UP`` to the currency's minor unit, done here and nowhere else. Conversion to minor
units (paise, cents) is only for payment gateway adapters.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings

# Minor-unit exponent per currency; anything not listed has two decimal places.
CURRENCY_PLACES: dict[str, int] = {
    "INR": 2,
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "AED": 2,
    "SGD": 2,
    "JPY": 0,
    "KRW": 0,
    "BHD": 3,
    "KWD": 3,
    "OMR": 3,
}
# The largest amount a DecimalField(max_digits=12, decimal_places=2) holds.
MAX_AMOUNT = Decimal("9999999999.99")
# Money columns keep two decimal places, so only currencies with at most two minor-unit places can be stored
# exactly. BHD, KWD and OMR (three places) are refused rather than rounded.
STORED_PLACES = 2
SUPPORTED_CURRENCIES: tuple[str, ...] = tuple(
    sorted(code for code, places in CURRENCY_PLACES.items() if places <= STORED_PLACES)
)
CURRENCY_CHOICES: list[tuple[str, str]] = [(code, code) for code in SUPPORTED_CURRENCIES]


class MoneyError(ValueError):
    """An amount that is not a finite decimal, or a currency code that is not three letters."""


def default_currency() -> str:
    return str(settings.DEFAULT_CURRENCY)


def currency_places(currency: str) -> int:
    return CURRENCY_PLACES.get(normalize_currency(currency), 2)


def normalize_currency(currency: str) -> str:
    code = (currency or "").strip().upper()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise MoneyError(f"Not a currency code: {currency!r}.")
    return code


def validate_currency(value: str) -> None:
    """Model/form validator: a supported currency (one whose amounts the money columns hold exactly)."""
    from django.core.exceptions import ValidationError

    try:
        code = normalize_currency(value)
    except MoneyError:
        raise ValidationError("Not a currency code.", code="invalid_currency") from None
    if currency_places(code) > STORED_PLACES:
        raise ValidationError(
            f"{code} amounts have {currency_places(code)} decimal places; amounts here are kept with "
            f"{STORED_PLACES}, so {code} is not supported.",
            code="unsupported_currency",
        )
    if code not in SUPPORTED_CURRENCIES:
        raise ValidationError(
            f"{code} is not a supported currency ({', '.join(SUPPORTED_CURRENCIES)}).", code="unsupported_currency"
        )


def to_decimal(value: Decimal | int | str) -> Decimal:
    """Parse an amount exactly. Floats are refused: they cannot represent most decimal amounts."""
    if isinstance(value, float):
        raise MoneyError("Amounts must not be floats; pass a Decimal, int or string.")
    if isinstance(value, bool):
        raise MoneyError("Not an amount: a boolean.")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise MoneyError(f"Not an amount: {value!r}.") from exc
    if not amount.is_finite():
        raise MoneyError(f"Not a finite amount: {value!r}.")
    return amount


def quantize(value: Decimal | int | str, currency: str | None = None) -> Decimal:
    """Round to the currency's minor unit with ROUND_HALF_UP: ``quantize("2.345", "INR") == Decimal("2.35")``."""
    places = currency_places(currency or default_currency())
    exponent = Decimal(1).scaleb(-places)
    try:
        return to_decimal(value).quantize(exponent, rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:  # more digits than the context's precision holds
        raise MoneyError(f"Amount out of range: {value!r}.") from exc


def to_minor_units(value: Decimal | int | str, currency: str) -> int:
    """Amount in the currency's smallest unit (paise, cents), as gateways want it. Rounds first."""
    return int(quantize(value, currency).scaleb(currency_places(currency)))


def from_minor_units(minor: int, currency: str) -> Decimal:
    """Inverse of :func:`to_minor_units`."""
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise MoneyError(f"Minor units must be an integer: {minor!r}.")
    return quantize(Decimal(minor).scaleb(-currency_places(currency)), currency)


def percent_of(amount: Decimal, rate_percent: Decimal, currency: str | None = None) -> Decimal:
    """``rate_percent`` per cent of ``amount``, rounded once at the end."""
    return quantize(to_decimal(amount) * to_decimal(rate_percent) / Decimal(100), currency)


def allocate(total: Decimal, weights: list[Decimal], currency: str | None = None) -> list[Decimal]:
    """Split ``total`` over ``weights`` in proportion, in whole minor units that add up to ``total`` exactly.

    Each share is rounded down to the minor unit and the units left over go, one each, to the largest
    remainders (ties to the earlier weight): ``allocate(Decimal("10"), [1, 1, 1]) == [3.34, 3.33, 3.33]``.
    All weights zero: everything goes to the first weight. No weights: ``[]`` (and ``total`` must be zero).
    """
    places = currency_places(currency or default_currency())
    minor_total = int(quantize(total, currency).scaleb(places))
    if not weights:
        if minor_total:
            raise MoneyError("Cannot allocate a non-zero amount over no weights.")
        return []
    parts = [to_decimal(weight) for weight in weights]
    if any(part < 0 for part in parts):
        raise MoneyError("Weights must not be negative.")
    weight_sum = sum(parts, Decimal(0))
    if weight_sum == 0:
        parts, weight_sum = [Decimal(1)] + [Decimal(0)] * (len(parts) - 1), Decimal(1)
    exact = [Decimal(minor_total) * part / weight_sum for part in parts]
    floors = [int(share) for share in exact]
    left = minor_total - sum(floors)
    by_remainder = sorted(range(len(parts)), key=lambda index: (-(exact[index] - floors[index]), index))
    for index in by_remainder[:left]:
        floors[index] += 1
    return [Decimal(minor).scaleb(-places) for minor in floors]
