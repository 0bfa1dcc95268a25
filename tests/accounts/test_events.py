"""Account domain events sent by the accounts endpoints (after commit): ``user_registered`` on sign-up (with the
optional ``referral_code``, the IP and the device id) and on the first OTP sign-in, ``phone_verified`` when a phone
becomes verified, ``profile_completed`` when name, email and verified phone are all present for the first time."""

import pytest

from accounts import events
from accounts.models import User
from tests.factories import UserFactory

from .helpers import PHONE, client_for, last_code

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register"
OTP_REQUEST = "/api/v1/auth/otp/request"
OTP_VERIFY = "/api/v1/auth/otp/verify"
ME = "/api/v1/me"
ME_PHONE = "/api/v1/me/phone"
ME_PHONE_VERIFY = "/api/v1/me/phone/verify"
PASSWORD = "a-long-unusual-pass-77"


@pytest.fixture
def received():
    """Every account event sent, as ``(name, kwargs without signal and sender)``, in order."""
    sent: list[tuple[str, dict]] = []
    receivers = {}
    for name in ("user_registered", "phone_verified", "profile_completed"):

        def record(sender, signal=None, _name=name, **kwargs):
            sent.append((_name, kwargs))

        receivers[name] = record
        getattr(events, name).connect(record, weak=False, dispatch_uid=f"test-{name}")
    yield sent
    for name in receivers:
        getattr(events, name).disconnect(dispatch_uid=f"test-{name}")


def test_register_sends_user_registered_with_the_referral_code(api_client, post, received):
    response = post(
        api_client,
        REGISTER,
        {"email": "new@example.com", "password": PASSWORD, "referral_code": "AB7K9QXZ"},
        HTTP_X_DEVICE_ID="device-1",
        REMOTE_ADDR="203.0.113.9",
    )

    assert response.status_code == 201
    user = User.objects.get(email="new@example.com")
    assert received == [
        (
            "user_registered",
            {"user_id": user.pk, "referral_code": "AB7K9QXZ", "ip": "203.0.113.9", "device_id": "device-1"},
        )
    ]


def test_register_without_a_code_sends_an_empty_one(api_client, post, received):
    response = post(api_client, REGISTER, {"email": "new@example.com", "password": PASSWORD})

    assert response.status_code == 201
    assert [(name, kwargs["referral_code"], kwargs["device_id"]) for name, kwargs in received] == [
        ("user_registered", "", None)
    ]


@pytest.mark.parametrize("code", ["x" * 13, 12345678901234, ["AB"]])
def test_a_referral_code_longer_than_12_characters_is_a_400(api_client, post, received, code):
    response = post(api_client, REGISTER, {"email": "new@example.com", "password": PASSWORD, "referral_code": code})

    assert response.status_code == 400
    assert "referral_code" in response.json()["fields"]
    assert received == []
    assert not User.objects.exists()


def test_a_failed_registration_sends_nothing(api_client, post, received):
    UserFactory(email="new@example.com")

    response = post(api_client, REGISTER, {"email": "new@example.com", "password": PASSWORD, "referral_code": "X"})

    assert response.status_code == 400
    assert received == []


def test_first_otp_sign_in_registers_and_verifies_the_phone(api_client, post, received):
    post(api_client, OTP_REQUEST, {"phone": PHONE})

    response = post(api_client, OTP_VERIFY, {"phone": PHONE, "code": last_code(PHONE)}, HTTP_X_DEVICE_ID="dev-9")

    assert response.status_code == 200
    user = User.objects.get(phone=PHONE)
    assert received == [
        ("user_registered", {"user_id": user.pk, "referral_code": "", "ip": "127.0.0.1", "device_id": "dev-9"}),
        ("phone_verified", {"user_id": user.pk}),
    ]


def test_otp_sign_in_of_a_verified_account_sends_nothing(api_client, post, received):
    UserFactory(phone=PHONE, phone_verified=True)
    post(api_client, OTP_REQUEST, {"phone": PHONE})

    assert post(api_client, OTP_VERIFY, {"phone": PHONE, "code": last_code(PHONE)}).status_code == 200
    assert received == []


def test_otp_sign_in_verifying_a_phone_completes_a_profile(api_client, post, received):
    user = UserFactory(email="ann@example.com", full_name="Ann Lee", phone=PHONE, phone_verified=False)
    post(api_client, OTP_REQUEST, {"phone": PHONE})

    assert post(api_client, OTP_VERIFY, {"phone": PHONE, "code": last_code(PHONE)}).status_code == 200
    assert received == [("phone_verified", {"user_id": user.pk}), ("profile_completed", {"user_id": user.pk})]


def test_verifying_a_phone_sends_phone_verified_then_profile_completed(post, received):
    user = UserFactory(email="ann@example.com", full_name="Ann Lee", phone=None)
    client = client_for(user)
    post(client, ME_PHONE, {"phone": PHONE})

    response = post(client, ME_PHONE_VERIFY, {"phone": PHONE, "code": last_code(PHONE)})

    assert response.status_code == 200
    assert received == [("phone_verified", {"user_id": user.pk}), ("profile_completed", {"user_id": user.pk})]


def test_verifying_a_phone_without_a_name_is_not_a_complete_profile(post, received):
    user = UserFactory(email="ann@example.com", full_name="", phone=None)
    client = client_for(user)
    post(client, ME_PHONE, {"phone": PHONE})

    post(client, ME_PHONE_VERIFY, {"phone": PHONE, "code": last_code(PHONE)})

    assert received == [("phone_verified", {"user_id": user.pk})]


def test_verifying_the_same_phone_again_sends_nothing(post, received):
    user = UserFactory(email="ann@example.com", full_name="Ann Lee", phone=PHONE, phone_verified=True)
    client = client_for(user)
    post(client, ME_PHONE, {"phone": PHONE})

    assert post(client, ME_PHONE_VERIFY, {"phone": PHONE, "code": last_code(PHONE)}).status_code == 200
    assert received == []


def test_adding_the_name_last_completes_the_profile_once(received, django_capture_on_commit_callbacks):
    user = UserFactory(email="ann@example.com", full_name="", phone=PHONE, phone_verified=True)
    client = client_for(user)

    with django_capture_on_commit_callbacks(execute=True):
        assert client.patch(ME, {"full_name": "Ann Lee"}, format="json").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        assert client.patch(ME, {"full_name": "Ann B. Lee"}, format="json").status_code == 200

    assert received == [("profile_completed", {"user_id": user.pk})]


def test_a_refused_profile_change_sends_nothing(received, django_capture_on_commit_callbacks):
    UserFactory(email="taken@example.com")
    user = UserFactory(email=None, full_name="Ann Lee", phone=PHONE, phone_verified=True)
    user.set_unusable_password()
    user.save()
    client = client_for(user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.patch(ME, {"email": "taken@example.com"}, format="json")

    assert response.status_code == 400
    assert received == []
