"""The one money shape: ``MoneyField`` renders every amount as ``{"amount", "currency"}``, the schema documents it
as one ``Money`` component referenced wherever an amount appears, and amount query parameters are plain decimals."""

import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from drf_spectacular.generators import SchemaGenerator
from hypothesis import given
from hypothesis import strategies as st
from rest_framework import serializers

from commerce.core.api.fields import AMOUNT_PATTERN, CURRENCY_PATTERN, AmountQueryField, MoneyField, money
from commerce.core.money import MAX_AMOUNT, SUPPORTED_CURRENCIES, MoneyError, currency_places, quantize

MONEY_REF = "#/components/schemas/Money"
# Properties that hold an amount wherever they appear in a response. Money's own "amount" is its string part.
MONEY_PROPERTIES = {
    "price",
    "compare_at_price",
    "min_price",
    "min",
    "max",
    "amount",
    "max_discount",
    "min_order_amount",
}
# Properties that may be null (no variants, no former price, no cap, an open-ended price band).
NULLABLE_MONEY = {
    ("ProductList", "min_price"),
    ("ProductDetail", "min_price"),
    ("ProductVariant", "compare_at_price"),
    ("PercentageDiscount", "max_discount"),
    ("PriceFacet", "max"),
}
# Search parameters saved for reuse are query parameters (plain decimals, echoed back as saved), not amounts
# in a response; request bodies are not responses either.
NOT_RESPONSES = {"SavedSearchParams"}
# Money names used for something else: the search facet "price" is the list of price bands.
NOT_AMOUNTS = {("Facets", "price")}


class PriceSerializer(serializers.Serializer):
    price = MoneyField()
    was = MoneyField(source="compare_at", allow_null=True)
    cap = MoneyField(currency_field="offer.currency", allow_null=True)
    band = MoneyField(currency="USD", allow_null=True)


def render(**attrs):
    defaults = {"price": Decimal("499"), "compare_at": None, "cap": None, "band": None, "currency": "INR"}
    return PriceSerializer(SimpleNamespace(**{**defaults, **attrs})).data


# --- rendering -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (Decimal("499"), "INR", {"amount": "499.00", "currency": "INR"}),
        (Decimal("499.5"), "USD", {"amount": "499.50", "currency": "USD"}),
        (Decimal("0.005"), "EUR", {"amount": "0.01", "currency": "EUR"}),  # ROUND_HALF_UP, not to even
        (Decimal("500.00"), "JPY", {"amount": "500", "currency": "JPY"}),
        (Decimal("1234.50"), "KRW", {"amount": "1235", "currency": "KRW"}),
        (Decimal("9999999999.99"), "INR", {"amount": "9999999999.99", "currency": "INR"}),
        (Decimal("1E+3"), "INR", {"amount": "1000.00", "currency": "INR"}),  # never exponent notation
        ("0", "inr", {"amount": "0.00", "currency": "INR"}),
        (7, "GBP", {"amount": "7.00", "currency": "GBP"}),
        (Decimal("-12.5"), "INR", {"amount": "-12.50", "currency": "INR"}),
    ],
)
def test_money_quantizes_to_the_currencys_places(amount, currency, expected):
    assert money(amount, currency) == expected


@given(
    amount=st.decimals(min_value=Decimal("-9999999999.99"), max_value=MAX_AMOUNT, places=2),
    currency=st.sampled_from(SUPPORTED_CURRENCIES),
)
def test_every_rendered_amount_matches_the_schema_pattern_and_keeps_its_value(amount, currency):
    rendered = money(amount, currency)
    places = currency_places(currency)
    assert re.fullmatch(AMOUNT_PATTERN, rendered["amount"])
    assert re.fullmatch(CURRENCY_PATTERN, rendered["currency"])
    assert len(rendered["amount"].partition(".")[2]) == places
    assert Decimal(rendered["amount"]) == quantize(amount, currency)


def test_money_refuses_floats_and_bad_codes():
    with pytest.raises(MoneyError):
        money(4.99, "INR")
    with pytest.raises(MoneyError):
        money(Decimal("1"), "RUPEES")


def test_field_takes_the_currency_from_the_instance():
    assert render(price=Decimal("499"), currency="INR")["price"] == {"amount": "499.00", "currency": "INR"}
    assert render(price=Decimal("500.00"), currency="JPY")["price"] == {"amount": "500", "currency": "JPY"}


def test_field_renders_null_for_a_null_amount():
    data = render(compare_at=None, cap=None, band=None)
    assert data["was"] is None
    assert data["cap"] is None
    assert data["band"] is None


def test_field_reads_source_a_dotted_currency_field_and_a_fixed_currency():
    data = render(
        compare_at=Decimal("650"),
        currency="JPY",
        cap=Decimal("250"),
        offer=SimpleNamespace(currency="EUR"),
        band=Decimal("1000"),
    )
    assert data["was"] == {"amount": "650", "currency": "JPY"}
    assert data["cap"] == {"amount": "250.00", "currency": "EUR"}
    assert data["band"] == {"amount": "1000.00", "currency": "USD"}


def test_field_reads_dicts_and_a_callable_currency(settings):
    class BandSerializer(serializers.Serializer):
        min = MoneyField(currency=lambda: settings.DEFAULT_CURRENCY)

    settings.DEFAULT_CURRENCY = "JPY"
    assert BandSerializer({"min": "500.00"}).data == {"min": {"amount": "500", "currency": "JPY"}}
    settings.DEFAULT_CURRENCY = "USD"
    assert BandSerializer({"min": "500.00"}).data == {"min": {"amount": "500.00", "currency": "USD"}}


def test_field_is_read_only():
    field = MoneyField()
    assert field.read_only is True
    serializer = PriceSerializer(data={"price": {"amount": "1.00", "currency": "INR"}})
    assert serializer.is_valid() is True
    assert serializer.validated_data == {}


# --- amount parameters -----------------------------------------------------------------------------------


class AmountFilter(serializers.Serializer):
    low = AmountQueryField(required=False, min_value=Decimal("0"))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("499", Decimal("499.00")), ("499.5", Decimal("499.50")), ("0.01", Decimal("0.01")), (1999.5, Decimal("1999.50"))],
)
def test_plain_amounts_are_accepted(raw, expected):
    serializer = AmountFilter(data={"low": raw})
    assert serializer.is_valid() is True
    assert serializer.validated_data == {"low": expected}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("1e3", "Enter a plain decimal amount, such as 499 or 499.50."),
        ("NaN", "Enter a plain decimal amount, such as 499 or 499.50."),
        ("Infinity", "Enter a plain decimal amount, such as 499 or 499.50."),
        ("1_000", "Enter a plain decimal amount, such as 499 or 499.50."),
        ("\u0661\u0662", "Enter a plain decimal amount, such as 499 or 499.50."),
        (1e20, "Enter a plain decimal amount, such as 499 or 499.50."),  # a JSON number that prints as 1e+20
        (True, "Enter a plain decimal amount, such as 499 or 499.50."),
        (["1"], "Enter a plain decimal amount, such as 499 or 499.50."),
        ("12345678901", "Ensure that there are no more than 10 digits before the decimal point."),
        ("1.005", "Ensure that there are no more than 2 decimal places."),
        ("-1", "Ensure this value is greater than or equal to 0."),
    ],
)
def test_anything_but_a_plain_amount_is_refused(raw, message):
    serializer = AmountFilter(data={"low": raw})
    assert serializer.is_valid() is False
    assert serializer.errors == {"low": [message]}


# --- schema ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def money_ref(prop: dict) -> tuple[bool, bool]:
    """(is a reference to Money, is nullable) for a property schema as drf-spectacular writes it."""
    if prop.get("$ref") == MONEY_REF:
        return True, bool(prop.get("nullable"))
    all_of = prop.get("allOf", [])
    return all_of == [{"$ref": MONEY_REF}], bool(prop.get("nullable"))


def test_schema_has_one_money_component(schema):
    assert schema["components"]["schemas"]["Money"] == {
        "type": "object",
        "description": "An amount with its currency, the one shape of every amount in the API. The amount is a "
        'decimal string\nwith the currency\'s decimal places: "499.00" in INR, "500" in JPY.',
        "properties": {
            "amount": {
                "type": "string",
                "readOnly": True,
                "description": "Decimal string with the currency's decimal places: '499.00' (INR), '500' (JPY).",
                "pattern": r"^-?\d+(\.\d+)?$",
            },
            "currency": {
                "type": "string",
                "readOnly": True,
                "description": "ISO 4217 code, e.g. 'INR'.",
                "pattern": "^[A-Z]{3}$",
            },
        },
        "required": ["amount", "currency"],
    }


def test_every_money_property_refers_to_the_money_component(schema):
    seen = set()
    for name, component in schema["components"]["schemas"].items():
        if name == "Money" or name in NOT_RESPONSES or name.endswith("Request"):
            continue
        for prop_name, prop in component.get("properties", {}).items():
            if prop_name not in MONEY_PROPERTIES or (name, prop_name) in NOT_AMOUNTS:
                continue
            is_ref, nullable = money_ref(prop)
            assert is_ref, f"{name}.{prop_name} is not a Money reference: {prop}"
            assert nullable is ((name, prop_name) in NULLABLE_MONEY), f"{name}.{prop_name} nullable={nullable}"
            seen.add((name, prop_name))
    # The amounts of the catalog and the offers, so that a renamed component cannot make this test vacuous.
    assert {
        ("ProductList", "min_price"),
        ("ProductDetail", "min_price"),
        ("ProductVariant", "price"),
        ("ProductVariant", "compare_at_price"),
        ("PriceFacet", "min"),
        ("PriceFacet", "max"),
        ("Offer", "min_order_amount"),
        ("OfferDetail", "min_order_amount"),
        ("TrendingOffer", "min_order_amount"),
        ("FixedDiscount", "amount"),
        ("PercentageDiscount", "max_discount"),
    } <= seen


def test_no_response_carries_a_bare_decimal_amount(schema):
    """A decimal string in a response is a per cent (never an amount: those are Money objects)."""
    percents = {
        ("Merchant", "default_cashback_rate"),
        ("PercentageDiscount", "percent"),
        ("OrderLine", "tax_rate"),  # the line's tax rate, per cent
        ("Reward", "cashback_rate"),  # a loyalty cashback booster's rate, per cent
        ("RewardCoupon", "cashback_rate"),
    }
    decimals = {
        (name, prop_name)
        for name, component in schema["components"]["schemas"].items()
        if name not in NOT_RESPONSES and not name.endswith("Request")
        for prop_name, prop in component.get("properties", {}).items()
        if prop.get("format") == "decimal"
    }
    assert decimals == percents


def test_offer_discount_is_one_of_two_shapes_told_apart_by_type(schema):
    components = schema["components"]["schemas"]
    assert components["OfferDiscount"] == {
        "oneOf": [
            {"$ref": "#/components/schemas/PercentageDiscount"},
            {"$ref": "#/components/schemas/FixedDiscount"},
        ],
        "discriminator": {
            "propertyName": "type",
            "mapping": {
                "percentage": "#/components/schemas/PercentageDiscount",
                "fixed": "#/components/schemas/FixedDiscount",
            },
        },
    }
    assert components["Offer"]["properties"]["discount"]["allOf"] == [{"$ref": "#/components/schemas/OfferDiscount"}]
    for name in ("Offer", "ProductList", "ProductVariant"):
        assert "currency" not in components[name]["properties"]


def test_amount_parameters_document_the_pattern_they_enforce(schema):
    parameters = {param["name"]: param for param in schema["paths"]["/api/v1/products"]["get"]["parameters"]}
    for name in ("min_price", "max_price"):
        assert parameters[name]["schema"] == {
            "type": "string",
            "pattern": r"^[0-9]{1,10}(\.[0-9]{1,2})?$",
            "example": "499.50",
        }
