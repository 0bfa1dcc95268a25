"""Every error the API can return has the shape {"code", "detail"} (+ "fields" for validation)."""

import json
import logging

import pytest

from tests.factories import UserFactory

pytestmark = [pytest.mark.urls("tests.core.urls"), pytest.mark.django_db]


def test_validation_error_has_fields(api_client):
    response = api_client.post("/api/v1/_test/echo", {"amount": "-5", "email": "nope"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["detail"] == "Invalid input."
    assert set(body["fields"]) == {"amount", "email"}
    assert body["fields"]["email"] == ["Enter a valid email address."]


def test_validation_error_single_message_is_the_detail(api_client):
    response = api_client.post("/api/v1/_test/echo", {"amount": "1.00"}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "detail": "This field is required.",
        "fields": {"email": ["This field is required."]},
    }


def test_valid_input_passes(api_client):
    response = api_client.post("/api/v1/_test/echo", {"amount": "12.5", "email": "a@b.co"}, format="json")
    assert response.status_code == 200
    assert response.json() == {"amount": "12.50"}


def test_django_validation_error_from_a_service_is_400_with_fields(api_client):
    response = api_client.get("/api/v1/_test/model-rule")
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "detail": "Invalid input.",
        "fields": {
            "products": ["Not products of Acme: Kettle."],
            "non_field_errors": ["A cap only applies to percentages."],
        },
    }


def test_django_validation_error_without_fields_is_400_non_field(api_client):
    response = api_client.get("/api/v1/_test/model-rule?form=list")
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "detail": "The offer must end after it starts.",
        "fields": {"non_field_errors": ["The offer must end after it starts."]},
    }


def test_malformed_json_is_400(api_client):
    response = api_client.generic("POST", "/api/v1/_test/echo", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_unauthenticated_is_401_with_www_authenticate(api_client):
    response = api_client.get("/api/v1/_test/private")
    assert response.status_code == 401
    assert response.json() == {"code": "not_authenticated", "detail": "Authentication credentials were not provided."}
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_bad_token_is_401_in_the_shape(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    response = api_client.get("/api/v1/_test/private")
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "token_not_valid"
    assert set(body) == {"code", "detail"}


def test_django_permission_denied_is_403(api_client):
    response = api_client.get("/api/v1/_test/forbidden")
    assert response.status_code == 403
    assert response.json() == {
        "code": "permission_denied",
        "detail": "You do not have permission to perform this action.",
    }


def test_http404_in_a_view_is_404(api_client):
    response = api_client.get("/api/v1/_test/missing")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "Not found."}


def test_unknown_api_url_is_json_404(client, settings):
    settings.DEBUG = False
    response = client.get("/api/v1/no-such-endpoint")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"code": "not_found", "detail": "Not found."}


def test_unknown_non_api_url_stays_html(client, settings):
    settings.DEBUG = False
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_wrong_method_is_405(api_client):
    response = api_client.delete("/api/v1/health")
    assert response.status_code == 405
    assert response.json() == {"code": "method_not_allowed", "detail": 'Method "DELETE" not allowed.'}


def test_domain_conflict_is_409(api_client):
    response = api_client.get("/api/v1/_test/conflict")
    assert response.status_code == 409
    assert response.json() == {"code": "insufficient_stock", "detail": "Only 2 left of SKU TSHIRT-M."}


def test_oversized_body_is_413(api_client, settings):
    settings.API_MAX_BODY_BYTES = 100
    payload = json.dumps({"amount": "1", "email": "a@b.co", "pad": "x" * 200})
    response = api_client.generic("POST", "/api/v1/_test/echo", payload, content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {"code": "request_too_large", "detail": "Request body exceeds 100 bytes."}


def test_non_json_body_is_415(api_client):
    response = api_client.generic("POST", "/api/v1/_test/echo", "amount=1", content_type="text/plain")
    assert response.status_code == 415
    assert response.json() == {
        "code": "unsupported_media_type",
        "detail": 'Unsupported media type "text/plain" in request.',
    }


def test_throttled_is_429_with_retry_after(api_client):
    assert api_client.get("/api/v1/_test/throttled").status_code == 200
    response = api_client.get("/api/v1/_test/throttled")
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "throttled"
    assert body["detail"].startswith("Request was throttled.")
    assert 1 <= int(response["Retry-After"]) <= 60


def test_unexpected_exception_is_500_without_internals(api_client, caplog, monkeypatch):
    captured = []
    monkeypatch.setattr("commerce.core.api.exceptions.sentry_sdk.capture_exception", captured.append)
    with caplog.at_level(logging.ERROR, logger="commerce.api"):
        response = api_client.get("/api/v1/_test/boom", HTTP_X_REQUEST_ID="req-500-check")
    assert response.status_code == 500
    assert response.json() == {"code": "server_error", "detail": "An unexpected error occurred. It has been logged."}
    assert "hunter2" not in response.content.decode()
    assert response["X-Request-ID"] == "req-500-check"
    assert [type(exc) for exc in captured] == [RuntimeError]
    assert any(record.exc_info and "hunter2" in str(record.exc_info[1]) for record in caplog.records)


def test_page_out_of_range_is_400(api_client):
    UserFactory.create_batch(3)
    response = api_client.get("/api/v1/_test/users?page=9")
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "detail": "This page is out of range.",
        "fields": {"page": ["This page is out of range."]},
    }


@pytest.mark.parametrize("page", ["0", "-1", "abc", "1.5"])
def test_bad_page_numbers_are_400(api_client, page):
    response = api_client.get(f"/api/v1/_test/users?page={page}")
    assert response.status_code == 400
    assert response.json()["fields"] == {"page": ["Must be a positive whole number."]}


def test_page_size_bounds(api_client):
    UserFactory.create_batch(3)
    ok = api_client.get("/api/v1/_test/users?page_size=2")
    assert ok.status_code == 200
    assert ok.json()["count"] == 3
    assert len(ok.json()["results"]) == 2
    too_big = api_client.get("/api/v1/_test/users?page_size=1000")
    assert too_big.status_code == 400
    assert too_big.json()["fields"] == {"page_size": ["Must be between 1 and 100."]}


def test_errors_outside_drf_views_under_api_are_json_500(settings):
    from django.test import Client

    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    response = client.get("/api/v1/_test/plain-boom")
    assert response.status_code == 500
    assert response.json() == {"code": "server_error", "detail": "An unexpected error occurred. It has been logged."}
    html = client.get("/_test/plain-boom")
    assert html.status_code == 500
    assert html["Content-Type"].startswith("text/html")


# --- the schema documents the errors ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def test_schema():
    from drf_spectacular.generators import SchemaGenerator

    from tests.core import urls

    # The project's URLs plus the test views made for the schema (the others have no serializer to document).
    fixtures = ("_test/declared/", "_test/open", "_test/users")
    patterns = [p for p in urls.urlpatterns if not str(p.pattern).startswith(("api/v1/_test", "_test"))]
    patterns += [p for p in urls.urlpatterns if str(p.pattern).startswith(tuple(f"api/v1/{f}" for f in fixtures))]
    return SchemaGenerator(patterns=patterns).get_schema(request=None, public=True)


def _statuses(schema, path, method):
    return sorted(schema["paths"][path][method]["responses"])


def test_schema_has_the_error_component(test_schema):
    error = test_schema["components"]["schemas"]["Error"]
    assert error["required"] == ["code", "detail"]
    assert sorted(error["properties"]) == ["code", "detail", "fields"]


def test_schema_infers_error_statuses_and_adds_declared_ones(test_schema):
    path = "/api/v1/_test/declared/{id}"
    assert _statuses(test_schema, path, "get") == ["200", "400", "401", "403", "404", "429", "503"]
    assert _statuses(test_schema, path, "post") == [
        "201", "400", "401", "403", "404", "409", "413", "415", "429", "503",
    ]  # fmt: skip
    conflict = test_schema["paths"][path]["post"]["responses"]["409"]
    assert conflict["description"] == "insufficient_stock"
    assert conflict["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    throttled = test_schema["paths"][path]["get"]["responses"]["429"]
    assert list(throttled["headers"]) == ["Retry-After"]


def test_schema_lists_503_where_a_throttle_fails_closed(test_schema):
    assert "503" in _statuses(test_schema, "/api/v1/me/phone", "post")  # OtpIpThrottle refuses without Redis
    assert "503" not in _statuses(test_schema, "/api/v1/me", "get")  # the general throttles fail open


def test_schema_lists_no_errors_an_open_view_cannot_give(test_schema):
    assert _statuses(test_schema, "/api/v1/_test/open", "get") == ["200"]


def test_schema_fills_in_the_error_body_of_described_responses(test_schema):
    token = test_schema["paths"]["/api/v1/auth/token"]["post"]["responses"]["401"]
    assert token["description"] == "no_active_account, otp_required or otp_invalid"
    assert token["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_schema_carries_the_pagination_and_path_limits(test_schema):
    parameters = {p["name"]: p for p in test_schema["paths"]["/api/v1/_test/users"]["get"]["parameters"]}
    assert parameters["page"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 999_999_999}
    assert parameters["page_size"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 100}
    search = {p["name"]: p for p in test_schema["paths"]["/api/v1/search"]["get"]["parameters"]}
    assert search["page_size"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 100}
    assert search["q"]["schema"]["maxLength"] == 200
    assert search["q"]["allowEmptyValue"] is True
    assert "allowEmptyValue" not in search["page"]
    merchant = test_schema["paths"]["/api/v1/merchants/{slug}"]["get"]["parameters"][0]
    assert merchant["schema"] == {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"}
    offer = test_schema["paths"]["/api/v1/offers/{id}"]["get"]["parameters"][0]
    assert offer["schema"] == {"type": "integer", "minimum": 0}
    autocomplete = test_schema["paths"]["/api/v1/search/autocomplete"]["get"]["parameters"][0]
    assert (autocomplete["required"], "allowEmptyValue" in autocomplete) == (True, False)


def test_a_bad_token_on_a_public_endpoint_that_accepts_tokens_is_401(api_client, test_schema):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    response = api_client.get("/api/v1/offers")
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"
    assert "401" in _statuses(test_schema, "/api/v1/offers", "get")


def test_public_endpoints_without_authentication_ignore_a_bad_token(api_client, test_schema):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert api_client.get("/api/v1/products").status_code == 200
    assert "401" not in _statuses(test_schema, "/api/v1/products", "get")
