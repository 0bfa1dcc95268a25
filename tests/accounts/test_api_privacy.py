"""Tokens and personal data stay out of caches and cookies: every accounts answer, errors included, is
``Cache-Control: no-store`` + ``Pragma: no-cache``, and no API sign-in creates a Django session or sets a
``sessionid``/``csrftoken`` cookie (django-axes switched on, as in production)."""

from datetime import UTC, datetime

import pytest
from axes.models import AccessLog
from django.contrib.sessions.models import Session
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.api import urls as accounts_urls
from tests.factories import TEST_PASSWORD, UserFactory

from .helpers import PHONE, client_for, last_code, totp_code

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")


def _walk() -> list[tuple[str, str, str]]:
    """``(name, path, method)`` for every method of every view in accounts' URLconf."""
    found = []
    for pattern in accounts_urls.urlpatterns:
        kwargs = dict.fromkeys(pattern.pattern.converters, 999999)
        path = reverse(f"v1:{pattern.name}", kwargs=kwargs)
        view_class = pattern.callback.view_class
        found += [(pattern.name, path, method) for method in METHODS if hasattr(view_class, method)]
    return found


ENDPOINTS = _walk()


def assert_no_store(response) -> None:
    assert response["Cache-Control"] == "no-store"
    assert response["Pragma"] == "no-cache"


def call(client: APIClient, path: str, method: str):
    return getattr(client, method)(path, {}, format="json")


def test_the_walk_covers_every_accounts_endpoint():
    assert len({name for name, _, _ in ENDPOINTS}) == len(accounts_urls.urlpatterns)
    assert {(path, method) for _, path, method in ENDPOINTS} >= {
        ("/api/v1/auth/register", "post"),
        ("/api/v1/auth/token", "post"),
        ("/api/v1/auth/token/refresh", "post"),
        ("/api/v1/auth/otp/request", "post"),
        ("/api/v1/auth/otp/verify", "post"),
        ("/api/v1/auth/captcha", "get"),
        ("/api/v1/me", "get"),
        ("/api/v1/me", "patch"),
        ("/api/v1/me/2fa/totp", "post"),
        ("/api/v1/me/2fa/totp/confirm", "post"),
        ("/api/v1/me/2fa/backup-codes", "post"),
        ("/api/v1/me/sessions/999999", "delete"),
    }


@pytest.mark.parametrize(("name", "path", "method"), ENDPOINTS)
def test_every_answer_to_an_anonymous_client_is_no_store(api_client, name, path, method):
    response = call(api_client, path, method)
    assert response.status_code in (200, 202, 400, 401), response.content
    assert_no_store(response)


@pytest.mark.parametrize(("name", "path", "method"), ENDPOINTS)
def test_every_answer_to_a_signed_in_client_is_no_store(name, path, method):
    response = call(client_for(UserFactory()), path, method)
    assert response.status_code in (200, 201, 202, 204, 400, 401, 404, 409), response.content
    assert_no_store(response)


def test_secrets_and_tokens_are_no_store(api_client):
    user = UserFactory(email="ann@example.com")
    signed_in = api_client.post("/api/v1/auth/token", {"email": "ann@example.com", "password": TEST_PASSWORD})
    assert signed_in.status_code == 200
    assert_no_store(signed_in)
    refreshed = api_client.post("/api/v1/auth/token/refresh", {"refresh": signed_in.json()["refresh"]})
    assert refreshed.status_code == 200
    assert_no_store(refreshed)
    totp = client_for(user).post("/api/v1/me/2fa/totp")
    assert (totp.status_code, set(totp.json())) == (201, {"secret", "provisioning_uri", "qr_code"})
    assert_no_store(totp)


def test_refusals_that_never_reach_the_handler_are_no_store(api_client):
    not_allowed = api_client.get("/api/v1/auth/token")
    assert not_allowed.status_code == 405
    assert_no_store(not_allowed)
    bad_token = APIClient()
    bad_token.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    unauthenticated = bad_token.get("/api/v1/me")
    assert unauthenticated.status_code == 401
    assert_no_store(unauthenticated)
    options = api_client.options("/api/v1/auth/register")
    assert options.status_code == 200
    assert_no_store(options)


# --- No Django session, no cookie ---------------------------------------------------------------------------


@pytest.fixture
def axes(settings):
    """django-axes on, as in production: its success hook is what used to create a session."""
    settings.AXES_ENABLED = True
    return settings


def assert_sessionless(client: APIClient, *responses) -> None:
    for response in responses:
        assert "Set-Cookie" not in response
        assert list(response.cookies) == []
    assert list(client.cookies) == []
    assert Session.objects.count() == 0


def test_password_sign_in_creates_no_session(api_client, axes):
    UserFactory(email="ann@example.com")
    failed = api_client.post("/api/v1/auth/token", {"email": "ann@example.com", "password": "wrong"})
    ok = api_client.post("/api/v1/auth/token", {"email": "ann@example.com", "password": TEST_PASSWORD})
    assert (failed.status_code, ok.status_code) == (401, 200)
    assert_sessionless(api_client, failed, ok)
    # axes still logs the sign-in, with no session to name.
    assert list(AccessLog.objects.values_list("username", "session_hash")) == [("ann@example.com", "")]


def test_staff_sign_in_with_two_factor_creates_no_session(api_client, axes, staff_with_totp, time_machine):
    time_machine.move_to(datetime(2026, 1, 5, 12, 0, tzinfo=UTC), tick=False)
    _, device = staff_with_totp
    body = {"email": "staff@example.com", "password": TEST_PASSWORD}
    needs_otp = api_client.post("/api/v1/auth/token", body)
    ok = api_client.post("/api/v1/auth/token", {**body, "otp": totp_code(device)})
    assert (needs_otp.json()["code"], ok.status_code) == ("otp_required", 200)
    assert_sessionless(api_client, needs_otp, ok)


def test_phone_otp_sign_in_creates_no_session(api_client, axes, post):
    requested = post(api_client, "/api/v1/auth/otp/request", {"phone": PHONE})
    verified = post(api_client, "/api/v1/auth/otp/verify", {"phone": PHONE, "code": last_code(PHONE)})
    assert (requested.status_code, verified.status_code) == (202, 200)
    assert_sessionless(api_client, requested, verified)


def test_register_and_refresh_create_no_session(api_client, axes):
    registered = api_client.post("/api/v1/auth/register", {"email": "new@example.com", "password": "a-long-pass-77x"})
    assert registered.status_code == 201
    refreshed = api_client.post("/api/v1/auth/token/refresh", {"refresh": registered.json()["refresh"]})
    assert refreshed.status_code == 200
    me = APIClient()
    me.credentials(HTTP_AUTHORIZATION=f"Bearer {refreshed.json()['access']}")
    profile = me.get("/api/v1/me")
    assert profile.status_code == 200
    assert_sessionless(api_client, registered, refreshed)
    assert_sessionless(me, profile)
