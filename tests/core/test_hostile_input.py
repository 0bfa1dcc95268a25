"""Hostile input is a 4xx in the error shape, never a 500: JSON bodies (depth, numbers, unicode, charset),
page numbers, one-time codes and headers."""

import io
import json

import pyotp
import pytest
import time_machine
from django.core.cache import cache
from django.test import override_settings
from django_otp.plugins.otp_totp.models import TOTPDevice
from drf_spectacular.generators import SchemaGenerator
from rest_framework.exceptions import ParseError

from accounts.services.two_factor import totp_secret
from commerce.core.api.parsers import BodyTooLarge, SafeJSONParser, check_depth
from tests.accounts.helpers import client_for
from tests.factories import UserFactory

pytestmark = [pytest.mark.urls("tests.core.urls"), pytest.mark.django_db]

ECHO = "/api/v1/_test/echo"
VALID = '"amount": "1.00", "email": "a@b.co"'


def post_raw(client, path, body, content_type="application/json"):
    data = body if isinstance(body, bytes) else body.encode()
    return client.generic("POST", path, data, content_type=content_type)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# --- nesting -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [ECHO, "/api/v1/auth/token", "/api/v1/auth/register"])
def test_json_nested_a_thousand_levels_is_400_too_deep(api_client, path):
    response = post_raw(api_client, path, '{"email": ' + nested(1000) + "}")
    assert response.status_code == 400
    assert response.json() == {"code": "too_deep", "detail": "JSON is nested deeper than 32 levels."}


def test_nesting_up_to_the_limit_is_accepted(api_client):
    # The object itself is level 1, so 31 more levels of arrays make 32.
    response = post_raw(api_client, ECHO, "{" + VALID + ', "extra": ' + nested(31) + "}")
    assert response.status_code == 200
    assert response.json() == {"amount": "1.00"}


def test_one_level_over_the_limit_is_refused(api_client):
    response = post_raw(api_client, ECHO, "{" + VALID + ', "extra": ' + nested(32) + "}")
    assert response.status_code == 400
    assert response.json()["code"] == "too_deep"


def test_brackets_inside_strings_do_not_count(api_client):
    text = "[" * 500 + '\\"{' * 100
    response = post_raw(api_client, ECHO, "{" + VALID + ", " + json.dumps("note") + ": " + json.dumps(text) + "}")
    assert response.status_code == 200


@override_settings(API_MAX_JSON_DEPTH=100_000)
def test_recursion_error_in_the_decoder_is_400_not_500(api_client):
    response = post_raw(api_client, ECHO, nested(100_000))
    assert response.status_code == 400
    assert response.json() == {"code": "too_deep", "detail": "JSON is nested too deeply."}


def test_check_depth_counts_objects_and_arrays_alike():
    check_depth('{"a": [{"b": []}]}', 4)
    with pytest.raises(ParseError) as exc:
        check_depth('{"a": [{"b": []}]}', 3)
    assert exc.value.get_codes() == "too_deep"


# --- encoding and unicode ----------------------------------------------------------------------------------


def test_invalid_utf8_is_400(api_client):
    response = post_raw(api_client, ECHO, b'{"amount": "1.00", "email": "\xff\xfe@b.co"}')
    assert response.status_code == 400
    assert response.json() == {"code": "parse_error", "detail": "Request body is not valid UTF-8."}


def test_utf8_encoded_surrogate_bytes_are_invalid_utf8(api_client):
    response = post_raw(api_client, ECHO, b'{"amount": "1.00", "email": "\xed\xa0\x80@b.co"}')
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


@pytest.mark.parametrize("escape", ["\\ud800", "\\uDFFF", "\\udbff\\u0041"])
def test_lone_surrogate_escape_in_a_value_is_400(api_client, escape):
    response = post_raw(api_client, ECHO, '{"amount": "1.00", "email": "' + escape + '@b.co"}')
    assert response.status_code == 400
    assert response.json() == {
        "code": "parse_error",
        "detail": "JSON strings must not contain lone surrogates (\\ud800-\\udfff).",
    }


def test_lone_surrogate_in_a_key_is_400(api_client):
    response = post_raw(api_client, ECHO, "{" + VALID + ', "\\ud800": 1}')
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_surrogate_pair_and_escaped_backslash_are_fine(api_client):
    body = '{"amount": "1.00", "email": "a@b.co", "note": "\\ud83d\\ude00 and \\\\ud800"}'
    response = post_raw(api_client, ECHO, body)
    assert response.status_code == 200


@pytest.mark.parametrize("charset", ["latin-1", "utf-16", "raw_unicode_escape"])
def test_a_charset_other_than_utf8_is_415(api_client, charset):
    response = post_raw(api_client, ECHO, "{" + VALID + "}", content_type=f"application/json; charset={charset}")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_explicit_utf8_charset_is_fine(api_client):
    response = post_raw(api_client, ECHO, "{" + VALID + "}", content_type="application/json; charset=UTF-8")
    assert response.status_code == 200


def test_form_bodies_are_415(api_client):
    response = post_raw(api_client, ECHO, "amount=1&email=a@b.co", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


# --- numbers -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    ["9" * 5000, "-" + "9" * 5000, str(2**63), str(-(2**63) - 1), "1e999", "-1e999", "NaN", "Infinity", "-Infinity"],
)
def test_numbers_no_column_can_hold_are_400(api_client, number):
    response = post_raw(api_client, ECHO, "{" + VALID + ', "n": ' + number + "}")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


@pytest.mark.parametrize("number", [str(2**63 - 1), str(-(2**63)), "0", "-0", "1.5e10", "12.50"])
def test_numbers_in_range_are_fine(api_client, number):
    response = post_raw(api_client, ECHO, "{" + VALID + ', "n": ' + number + "}")
    assert response.status_code == 200


def test_a_huge_integer_amount_is_a_validation_error_not_a_500(api_client):
    response = post_raw(api_client, ECHO, '{"amount": 123456789012345678, "email": "a@b.co"}')
    assert response.status_code == 400
    assert response.json()["fields"] == {"amount": ["Ensure that there are no more than 12 digits in total."]}


# --- size --------------------------------------------------------------------------------------------------


@override_settings(API_MAX_BODY_BYTES=16)
def test_parser_refuses_a_body_over_the_limit_even_without_content_length():
    with pytest.raises(BodyTooLarge) as exc:
        SafeJSONParser().parse(io.BytesIO(b'{"a": "' + b"x" * 32 + b'"}'), "application/json", {})
    assert exc.value.status_code == 413
    assert exc.value.get_codes() == "request_too_large"


@override_settings(API_MAX_BODY_BYTES=64)
def test_oversized_body_is_413_in_the_error_shape(api_client):
    response = post_raw(api_client, ECHO, '{"email": "' + "x" * 100 + '"}')
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"


# --- page numbers ------------------------------------------------------------------------------------------

NOT_DIGITS = ["²", "①", "٣", "\uff11", "1_0", " 1", "1 ", "+1", "-1", "1.0", "0x10", "", "last"]


@pytest.mark.parametrize("raw", [*NOT_DIGITS, "0", "000"])
def test_page_accepts_only_ascii_digits(api_client, raw):
    response = api_client.get("/api/v1/_test/users", {"page": raw})
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "detail": "Must be a positive whole number.",
        "fields": {"page": ["Must be a positive whole number."]},
    }


@pytest.mark.parametrize("raw", ["1234567890", "9" * 5000])
def test_huge_page_numbers_are_out_of_range(api_client, raw):
    response = api_client.get("/api/v1/_test/users", {"page": raw})
    assert response.status_code == 400
    assert response.json()["fields"] == {"page": ["This page is out of range."]}


@pytest.mark.parametrize("raw", NOT_DIGITS)
def test_page_size_accepts_only_ascii_digits(api_client, raw):
    response = api_client.get("/api/v1/_test/users", {"page_size": raw})
    assert response.status_code == 400
    assert response.json()["fields"] == {"page_size": ["Must be a whole number."]}


@pytest.mark.parametrize("raw", ["0", "101", "1234567890", "9" * 5000])
def test_page_size_is_from_1_to_100(api_client, raw):
    response = api_client.get("/api/v1/_test/users", {"page_size": raw})
    assert response.status_code == 400
    assert response.json()["fields"] == {"page_size": ["Must be between 1 and 100."]}


def test_page_out_of_range_is_400(api_client):
    UserFactory()
    response = api_client.get("/api/v1/_test/users", {"page": "999999999"})
    assert response.status_code == 400
    assert response.json()["fields"] == {"page": ["This page is out of range."]}


def test_ascii_page_numbers_work(api_client):
    users = UserFactory.create_batch(3)
    response = api_client.get("/api/v1/_test/users", {"page": "02", "page_size": "2"})
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [users[2].pk]


@pytest.mark.parametrize("path", ["/api/v1/products", "/api/v1/search", "/api/v1/merchants", "/api/v1/offers"])
@pytest.mark.parametrize("raw", ["٣", "²", "99999999999999999999"])
def test_public_lists_refuse_odd_page_numbers(api_client, path, raw):
    response = api_client.get(path, {"page": raw})
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["page"]


@pytest.mark.parametrize("raw", ["٣", "1_0", " 7"])
def test_offer_expiring_within_days_accepts_only_ascii_digits(api_client, raw):
    response = api_client.get("/api/v1/offers", {"expiring_within_days": raw})
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["expiring_within_days"]


# --- query strings and headers -----------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["q=%ED%A0%80", "q=%FF%FE", "q=%00", "brand=%00", "category=%C0%AF"])
def test_odd_bytes_in_query_strings_are_not_500(api_client, query):
    response = api_client.get(f"/api/v1/products?{query}")
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert set(response.json()) == {"code", "detail", "fields"}


ODD_REQUEST_IDS = ["\u00e9\u00ff", "a\x00b", "\u2028", "x" * 500, "\ud800", "abc\n", "abc\r\nX-Evil: 1"]


@pytest.mark.parametrize("value", ODD_REQUEST_IDS)
def test_odd_request_ids_are_replaced_not_echoed(api_client, value):
    response = api_client.get("/api/v1/_test/request-id", HTTP_X_REQUEST_ID=value)
    assert response.status_code == 200
    assert response["X-Request-ID"] == response.json()["request_id"]
    assert response["X-Request-ID"] != value
    assert len(response["X-Request-ID"]) == 32


@pytest.mark.parametrize("value", ["\u00e9\u00ff", "a\x00b", "\ud800", "x" * 10_000])
def test_odd_idempotency_keys_and_other_headers_are_not_500(api_client, value):
    response = api_client.generic(
        "POST",
        ECHO,
        ("{" + VALID + "}").encode(),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=value,
        HTTP_USER_AGENT=value,
        HTTP_X_FORWARDED_FOR=value,
    )
    assert response.status_code == 200


# --- one-time codes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["①②③④⑤⑥", "١٢٣٤٥٦", "\uff11\uff12\uff13\uff14\uff15\uff16", "²²²²²²"])
def test_otp_verify_refuses_non_ascii_digits_cleanly(api_client, code):
    response = api_client.post("/api/v1/auth/otp/verify", {"phone": "+919812345678", "code": code}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "otp_invalid"


def test_totp_confirm_refuses_the_right_code_in_arabic_indic_digits():
    user = UserFactory()
    with time_machine.travel("2026-03-02 10:00:00+00:00", tick=False):
        client = client_for(user)
        assert client.post("/api/v1/me/2fa/totp").status_code == 201
        code = pyotp.TOTP(totp_secret(TOTPDevice.objects.get(user=user))).now()
        arabic = code.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
        response = client.post("/api/v1/me/2fa/totp/confirm", {"code": arabic}, format="json")
        assert response.status_code == 400
        assert response.json()["code"] == "otp_invalid"
        assert client.post("/api/v1/me/2fa/totp/confirm", {"code": code}, format="json").status_code == 200


# --- every POST endpoint -----------------------------------------------------------------------------------


def _body_operations():
    """(method, path, property names) of every operation of the real API that takes a JSON body."""
    schema = SchemaGenerator(urlconf="config.urls").get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is None:
                continue
            ref = body["schema"].get("$ref", "")
            properties = components[ref.rsplit("/", 1)[-1]].get("properties", {}) if ref else {}
            yield method.upper(), path.replace("{id}", "1").replace("{pk}", "1"), sorted(properties) or ["x"]


def test_every_json_body_operation_is_covered():
    operations = {(method, path) for method, path, _ in _body_operations()}
    assert ("POST", "/api/v1/auth/token") in operations
    assert ("PATCH", "/api/v1/me") in operations
    assert ("POST", "/api/v1/me/saved-searches") in operations


def test_a_lone_surrogate_in_any_string_field_of_any_json_body_is_400():
    client = client_for(UserFactory())
    for method, path, fields in _body_operations():
        for field in fields:
            cache.clear()  # sign-in throttles
            body = "{" + ", ".join(f'"{name}": "x"' for name in fields if name != field)
            body += (", " if len(fields) > 1 else "") + f'"{field}": "ab\\udc00cd"' + "}"
            response = client.generic(method, path, body.encode(), content_type="application/json")
            assert (method, path, field, response.status_code) == (method, path, field, 400)
            assert response.json()["code"] == "parse_error"
