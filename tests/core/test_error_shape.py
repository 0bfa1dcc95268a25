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
