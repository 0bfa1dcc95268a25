from datetime import UTC, datetime

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts.models import User
from tests.factories import TEST_PASSWORD, UserFactory

from .helpers import client_for

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register"
TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/token/refresh"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/me"


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def test_register_creates_the_account_and_signs_in(api_client):
    response = api_client.post(
        REGISTER, {"email": "New@Example.com", "password": "a-long-unusual-pass-77", "full_name": "New Person"}
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"user", "access", "refresh"}
    user = User.objects.get()
    assert user.email == "new@example.com"
    assert user.check_password("a-long-unusual-pass-77")
    assert body["user"] == {
        "id": user.pk,
        "email": "new@example.com",
        "phone": None,
        "phone_verified": False,
        "full_name": "New Person",
        "date_joined": body["user"]["date_joined"],
        "is_staff": False,
        "roles": [],
        "two_factor_enabled": False,
    }
    me = bearer(body["access"]).get(ME)
    assert me.status_code == 200
    assert me.json()["email"] == "new@example.com"


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "This password is too short. It must contain at least 8 characters."),
        ("password123", "This password is too common."),
        ("83749261038", "This password is entirely numeric."),
        ("mary.smith.example", "The password is too similar to the email address."),
    ],
)
def test_register_applies_django_password_validators(api_client, password, message):
    response = api_client.post(REGISTER, {"email": "mary.smith@example.com", "password": password})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert message in body["fields"]["password"]
    assert not User.objects.exists()


def test_register_refuses_a_taken_email_in_any_case(api_client):
    UserFactory(email="ann@example.com")
    response = api_client.post(REGISTER, {"email": "ANN@example.com", "password": "a-long-unusual-pass-77"})
    assert response.status_code == 400
    assert response.json() == {
        "code": "email_taken",
        "detail": "An account with this email address already exists.",
        "fields": {"email": ["An account with this email address already exists."]},
    }


def test_register_refuses_a_malformed_email(api_client):
    response = api_client.post(REGISTER, {"email": "not-an-email", "password": "a-long-unusual-pass-77"})
    assert response.status_code == 400
    assert response.json()["fields"] == {"email": ["Enter a valid email address."]}


def test_token_pair_for_email_and_password(api_client, user, time_machine):
    time_machine.move_to(datetime(2026, 3, 1, 9, 30, tzinfo=UTC), tick=False)
    response = api_client.post(TOKEN, {"email": "ANN@example.com ", "password": TEST_PASSWORD})
    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}
    me = bearer(response.json()["access"]).get(ME)
    assert me.status_code == 200
    assert me.json()["id"] == user.pk
    user.refresh_from_db()
    assert user.last_login == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "credentials",
    [
        {"email": "ann@example.com", "password": "wrong-password"},
        {"email": "nobody@example.com", "password": TEST_PASSWORD},
    ],
)
def test_token_refuses_bad_credentials_alike(api_client, user, credentials):
    response = api_client.post(TOKEN, credentials)
    assert response.status_code == 401
    assert response.json() == {
        "code": "no_active_account",
        "detail": "No active account found with the given credentials.",
    }
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_token_refuses_an_inactive_account(api_client):
    UserFactory(email="gone@example.com", is_active=False)
    response = api_client.post(TOKEN, {"email": "gone@example.com", "password": TEST_PASSWORD})
    assert response.status_code == 401
    assert response.json()["code"] == "no_active_account"


def test_token_request_needs_email_and_password(api_client):
    response = api_client.post(TOKEN, {"email": "ann@example.com"})
    assert response.status_code == 400
    assert response.json()["fields"] == {"password": ["This field is required."]}


def test_refresh_rotates_and_the_old_refresh_token_is_dead(api_client, user):
    first = api_client.post(TOKEN, {"email": "ann@example.com", "password": TEST_PASSWORD}).json()

    rotated = api_client.post(REFRESH, {"refresh": first["refresh"]})
    assert rotated.status_code == 200
    second = rotated.json()
    assert set(second) == {"access", "refresh"}
    assert second["refresh"] != first["refresh"]
    assert bearer(second["access"]).get(ME).status_code == 200

    reused = api_client.post(REFRESH, {"refresh": first["refresh"]})
    assert reused.status_code == 401
    assert reused.json() == {"code": "token_not_valid", "detail": "Token is blacklisted"}

    assert api_client.post(REFRESH, {"refresh": second["refresh"]}).status_code == 200


def test_refresh_refuses_garbage_and_access_tokens(api_client, user):
    pair = api_client.post(TOKEN, {"email": "ann@example.com", "password": TEST_PASSWORD}).json()
    for token in ("garbage", pair["access"]):
        response = api_client.post(REFRESH, {"refresh": token})
        assert response.status_code == 401
        assert response.json()["code"] == "token_not_valid"


def test_refresh_refuses_a_deactivated_user(api_client, user):
    pair = api_client.post(TOKEN, {"email": "ann@example.com", "password": TEST_PASSWORD}).json()
    user.is_active = False
    user.save()
    response = api_client.post(REFRESH, {"refresh": pair["refresh"]})
    assert response.status_code == 401
    assert response.json()["code"] == "no_active_account"


def test_logout_blacklists_the_refresh_token(api_client, user):
    pair = api_client.post(TOKEN, {"email": "ann@example.com", "password": TEST_PASSWORD}).json()

    response = api_client.post(LOGOUT, {"refresh": pair["refresh"]})
    assert response.status_code == 204

    refused = api_client.post(REFRESH, {"refresh": pair["refresh"]})
    assert refused.status_code == 401
    assert refused.json() == {"code": "token_not_valid", "detail": "Token is blacklisted"}
    again = api_client.post(LOGOUT, {"refresh": pair["refresh"]})
    assert again.status_code == 401
    assert again.json()["code"] == "token_not_valid"


def test_me_needs_a_token(api_client):
    response = api_client.get(ME)
    assert response.status_code == 401
    assert response.json() == {"code": "not_authenticated", "detail": "Authentication credentials were not provided."}


def test_patch_me_changes_the_name(user_client, user):
    response = user_client.patch(ME, {"full_name": "Ann Other"}, format="json")
    assert response.status_code == 200
    assert response.json()["full_name"] == "Ann Other"
    user.refresh_from_db()
    assert user.full_name == "Ann Other"


def test_patch_me_cannot_change_phone_or_staff_flags(user_client, user):
    response = user_client.patch(ME, {"phone": "+919812345678", "is_staff": True}, format="json")
    assert response.status_code == 200
    user.refresh_from_db()
    assert (user.phone, user.is_staff) == (None, False)


def test_changing_the_email_needs_the_current_password(user_client, user):
    refused = user_client.patch(ME, {"email": "ann@new.example.com"}, format="json")
    assert refused.status_code == 400
    assert refused.json()["code"] == "password_required"
    user.refresh_from_db()
    assert user.email == "ann@example.com"

    accepted = user_client.patch(ME, {"email": "Ann@New.example.com", "current_password": TEST_PASSWORD}, format="json")
    assert accepted.status_code == 200
    assert accepted.json()["email"] == "ann@new.example.com"


def test_changing_the_email_to_a_taken_one_is_refused(user_client):
    UserFactory(email="taken@example.com")
    response = user_client.patch(ME, {"email": "taken@example.com", "current_password": TEST_PASSWORD}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "email_taken"


def test_sessions_list_and_revoke_only_your_own(api_client, user):
    pair = api_client.post(TOKEN, {"email": "ann@example.com", "password": TEST_PASSWORD}).json()
    other = UserFactory()
    other_client = client_for(other)
    other_session = OutstandingToken.objects.get(user=other)
    client = bearer(pair["access"])

    listing = client.get("/api/v1/me/sessions")
    assert listing.status_code == 200
    sessions = listing.json()["results"]
    mine = OutstandingToken.objects.get(user=user)
    assert [s["id"] for s in sessions] == [mine.pk]

    assert client.delete(f"/api/v1/me/sessions/{other_session.pk}").status_code == 404
    assert other_client.get(ME).status_code == 200

    assert client.delete(f"/api/v1/me/sessions/{mine.pk}").status_code == 204
    assert api_client.post(REFRESH, {"refresh": pair["refresh"]}).status_code == 401
    assert client.get("/api/v1/me/sessions").json()["results"] == []


def test_login_is_throttled_per_ip(api_client, user):
    for _ in range(10):
        assert api_client.post(TOKEN, {"email": "x@example.com", "password": "nope"}).status_code == 401
    response = api_client.post(TOKEN, {"email": "ann@example.com", "password": TEST_PASSWORD})
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert 0 < int(response["Retry-After"]) <= 60


def test_login_is_throttled_per_account_across_ips(api_client, user):
    for n in range(10):
        response = api_client.post(TOKEN, {"email": "ann@example.com", "password": "nope"}, REMOTE_ADDR=f"10.0.0.{n}")
        assert response.status_code == 401
    response = api_client.post(TOKEN, {"email": "ANN@example.com", "password": TEST_PASSWORD}, REMOTE_ADDR="10.0.1.1")
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"


def test_a_refresh_is_not_a_login(api_client, user):
    pair = api_client.post(TOKEN, {"email": "ann@example.com", "password": TEST_PASSWORD}).json()
    user.refresh_from_db()
    signed_in_at = user.last_login
    assert api_client.post(REFRESH, {"refresh": pair["refresh"]}).status_code == 200
    user.refresh_from_db()
    assert user.last_login == signed_in_at
