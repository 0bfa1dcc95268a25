import base64
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AuditEntry, PhoneOTP, SmsDevice
from commerce.notifications import sms
from tests.factories import TEST_PASSWORD, UserFactory

from .helpers import PHONE, client_for, last_code, totp_code, wrong

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token"
TOTP = "/api/v1/me/2fa/totp"
CONFIRM = "/api/v1/me/2fa/totp/confirm"
SMS = "/api/v1/me/2fa/sms"
STATUS = "/api/v1/me/2fa"


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    return time_machine


def _enable_totp(client, frozen) -> tuple[TOTPDevice, list[str]]:
    setup = client.post(TOTP).json()
    codes = client.post(CONFIRM, {"code": pyotp.TOTP(setup["secret"]).now()}, format="json").json()["backup_codes"]
    frozen.shift(30)  # the next TOTP code is a fresh one (a code works once)
    return TOTPDevice.objects.get(confirmed=True), codes


def test_totp_setup_returns_secret_uri_and_qr_code(user_client, user):
    response = user_client.post(TOTP)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"secret", "provisioning_uri", "qr_code"}
    device = TOTPDevice.objects.get(user=user)
    assert device.confirmed is False
    assert base64.b32decode(body["secret"]) == device.bin_key
    uri = urlparse(body["provisioning_uri"])
    assert (uri.scheme, uri.netloc, uri.path) == ("otpauth", "totp", "/Commerce%3Aann%40example.com")
    assert parse_qs(uri.query)["secret"] == [body["secret"]]
    assert parse_qs(uri.query)["issuer"] == ["Commerce"]
    prefix = "data:image/svg+xml;base64,"
    assert body["qr_code"].startswith(prefix)
    assert b"<svg" in base64.b64decode(body["qr_code"][len(prefix) :])


def test_starting_again_replaces_the_pending_secret(user_client, user):
    first = user_client.post(TOTP).json()["secret"]
    second = user_client.post(TOTP).json()["secret"]
    assert first != second
    assert TOTPDevice.objects.filter(user=user).count() == 1


def test_confirm_with_a_wrong_code_leaves_totp_off(user_client, user, frozen):
    secret = user_client.post(TOTP).json()["secret"]
    response = user_client.post(CONFIRM, {"code": wrong(pyotp.TOTP(secret).now())}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "code": "otp_invalid",
        "detail": "The code is wrong. Check the time on your phone.",
        "fields": {"code": ["The code is wrong or no longer valid."]},
    }
    assert TOTPDevice.objects.get(user=user).confirmed is False
    assert user_client.get(STATUS).json()["enabled"] is False


def test_confirm_activates_totp_and_issues_backup_codes(user_client, user, frozen):
    secret = user_client.post(TOTP).json()["secret"]
    response = user_client.post(CONFIRM, {"code": pyotp.TOTP(secret).now()}, format="json")
    assert response.status_code == 200
    codes = response.json()["backup_codes"]
    assert len(codes) == len(set(codes)) == 10
    assert TOTPDevice.objects.get(user=user).confirmed is True
    assert sorted(StaticToken.objects.filter(device__user=user).values_list("token", flat=True)) == sorted(codes)
    assert user_client.get(STATUS).json() == {
        "enabled": True,
        "totp": True,
        "sms": False,
        "sms_phone": None,
        "backup_codes_remaining": 10,
    }
    assert list(AuditEntry.objects.filter(actor=user).order_by("id").values_list("action", flat=True)) == [
        "2fa.totp_enabled",
        "2fa.backup_codes_generated",
    ]


def test_confirm_before_setup_and_setup_twice_are_conflicts(user_client, frozen):
    response = user_client.post(CONFIRM, {"code": "123456"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "totp_setup_not_started"
    _enable_totp(user_client, frozen)
    again = user_client.post(TOTP)
    assert again.status_code == 409
    assert again.json()["code"] == "totp_already_enabled"


def test_a_totp_user_must_send_otp_with_the_token_request(api_client, totp_user, frozen):
    user, device = totp_user
    credentials = {"email": user.email, "password": TEST_PASSWORD}

    missing = api_client.post(TOKEN, credentials)
    assert missing.status_code == 401
    assert missing.json() == {
        "code": "otp_required",
        "detail": "This account uses two-factor authentication: send the code as `otp`.",
    }

    bad = api_client.post(TOKEN, {**credentials, "otp": wrong(totp_code(device))})
    assert bad.status_code == 401
    assert bad.json() == {"code": "otp_invalid", "detail": "The two-factor code is wrong or no longer valid."}

    frozen.shift(5)  # django-otp's back-off after a failure
    ok = api_client.post(TOKEN, {**credentials, "otp": totp_code(device)})
    assert ok.status_code == 200
    assert set(ok.json()) == {"access", "refresh"}


def test_a_totp_code_works_once(api_client, totp_user, frozen):
    user, device = totp_user
    credentials = {"email": user.email, "password": TEST_PASSWORD, "otp": totp_code(device)}
    assert api_client.post(TOKEN, credentials).status_code == 200
    replay = api_client.post(TOKEN, credentials)
    assert replay.status_code == 401
    assert replay.json()["code"] == "otp_invalid"


def test_the_password_is_checked_before_the_second_factor(api_client, totp_user):
    user, device = totp_user
    response = api_client.post(TOKEN, {"email": user.email, "password": "wrong", "otp": totp_code(device)})
    assert response.status_code == 401
    assert response.json()["code"] == "no_active_account"


def test_backup_codes_work_once(api_client, user, user_client, frozen):
    _, codes = _enable_totp(user_client, frozen)
    credentials = {"email": user.email, "password": TEST_PASSWORD}

    first = api_client.post(TOKEN, {**credentials, "otp": codes[0].upper()})
    assert first.status_code == 200
    frozen.shift(5)
    second = api_client.post(TOKEN, {**credentials, "otp": codes[0]})
    assert second.status_code == 401
    assert second.json()["code"] == "otp_invalid"
    assert StaticToken.objects.filter(device__user=user).count() == 9
    frozen.shift(5)
    assert api_client.post(TOKEN, {**credentials, "otp": codes[1]}).status_code == 200


def test_removing_totp_needs_a_code_and_is_audited(user_client, user, frozen):
    device, _ = _enable_totp(user_client, frozen)

    missing = user_client.delete(TOTP, {}, format="json")
    assert missing.status_code == 400
    assert missing.json()["code"] == "otp_required"
    bad = user_client.delete(TOTP, {"otp": "000000"}, format="json")
    assert bad.status_code == 400
    assert bad.json()["code"] == "otp_invalid"
    frozen.shift(5)

    assert user_client.delete(TOTP, {"otp": totp_code(device)}, format="json").status_code == 204
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not StaticDevice.objects.filter(user=user).exists()
    removed = AuditEntry.objects.get(action="2fa.device_removed")
    assert (removed.actor, removed.target_type, removed.target_id) == (user, "accounts.user", str(user.pk))
    assert removed.before["type"] == "otp_totp.totpdevice"
    assert removed.ip_address == "127.0.0.1"
    assert user_client.get(STATUS).json()["enabled"] is False


def test_regenerating_backup_codes_replaces_them(user_client, user, frozen):
    device, old = _enable_totp(user_client, frozen)
    response = user_client.post("/api/v1/me/2fa/backup-codes", {"otp": totp_code(device)}, format="json")
    assert response.status_code == 200
    new = response.json()["backup_codes"]
    assert len(new) == 10 and not set(new) & set(old)
    assert sorted(StaticToken.objects.filter(device__user=user).values_list("token", flat=True)) == sorted(new)


# --- SMS as second factor -------------------------------------------------------------------------------


@pytest.fixture
def sms_user(db):
    user = UserFactory(email="sms@example.com", phone=PHONE, phone_verified=True)
    return user, client_for(user)


def test_verifying_a_phone_then_enrolling_it_as_second_factor(user_client, user, post):
    assert post(user_client, "/api/v1/me/phone", {"phone": "98123 45678"}).status_code == 202
    confirmed = post(user_client, "/api/v1/me/phone/verify", {"phone": PHONE, "code": last_code(PHONE)})
    assert confirmed.status_code == 200
    assert (confirmed.json()["phone"], confirmed.json()["phone_verified"]) == (PHONE, True)

    enrolled = user_client.post(SMS)
    assert enrolled.status_code == 201
    assert len(enrolled.json()["backup_codes"]) == 10
    device = SmsDevice.objects.get(user=user)
    assert (device.phone, device.confirmed) == (PHONE, True)
    assert user_client.get(STATUS).json()["sms_phone"] == "+91********78"
    assert AuditEntry.objects.filter(action="2fa.sms_enabled", actor=user).count() == 1


def test_sms_second_factor_needs_a_verified_phone(user_client):
    response = user_client.post(SMS)
    assert response.status_code == 409
    assert response.json()["code"] == "phone_not_verified"


def test_verifying_a_phone_used_by_another_account_is_a_conflict_after_the_code(user_client, user, post):
    UserFactory(phone=PHONE, phone_verified=True)
    post(user_client, "/api/v1/me/phone", {"phone": PHONE})
    bad = post(user_client, "/api/v1/me/phone/verify", {"phone": PHONE, "code": wrong(last_code(PHONE))})
    assert bad.status_code == 400
    assert bad.json()["code"] == "otp_invalid"
    taken = post(user_client, "/api/v1/me/phone/verify", {"phone": PHONE, "code": last_code(PHONE)})
    assert taken.status_code == 409
    assert taken.json()["code"] == "phone_in_use"
    user.refresh_from_db()
    assert user.phone is None


def test_sms_user_gets_a_code_by_sms_and_signs_in_with_it(api_client, sms_user, post):
    user, client = sms_user
    client.post(SMS)
    credentials = {"email": user.email, "password": TEST_PASSWORD}

    challenge = post(api_client, TOKEN, credentials)
    assert challenge.status_code == 401
    assert challenge.json()["code"] == "otp_required"
    assert [m.to for m in sms.outbox] == [PHONE]
    assert "verification code to finish signing in" in sms.outbox[0].body
    assert PhoneOTP.objects.get().purpose == "second_factor"

    ok = post(api_client, TOKEN, {**credentials, "otp": last_code(PHONE)})
    assert ok.status_code == 200
    reused = post(api_client, TOKEN, {**credentials, "otp": last_code(PHONE)})
    assert reused.json()["code"] == "otp_invalid"


def test_sms_second_factor_dies_after_five_wrong_codes(api_client, sms_user, post):
    user, client = sms_user
    client.post(SMS)
    credentials = {"email": user.email, "password": TEST_PASSWORD}
    post(api_client, TOKEN, credentials)
    code = last_code(PHONE)
    for _ in range(5):
        assert post(api_client, TOKEN, {**credentials, "otp": wrong(code)}).json()["code"] == "otp_invalid"
    sixth = post(api_client, TOKEN, {**credentials, "otp": code})
    assert sixth.status_code == 401
    assert sixth.json()["code"] == "otp_invalid"
    assert PhoneOTP.objects.get().attempts == 5


def test_sms_second_factor_codes_expire(api_client, sms_user, post, frozen):
    user, client = sms_user
    client.post(SMS)
    credentials = {"email": user.email, "password": TEST_PASSWORD}
    post(api_client, TOKEN, credentials)
    frozen.shift(300)
    assert post(api_client, TOKEN, {**credentials, "otp": last_code(PHONE)}).json()["code"] == "otp_invalid"


def test_sms_challenges_are_throttled_per_phone(api_client, sms_user, post):
    user, client = sms_user
    client.post(SMS)
    credentials = {"email": user.email, "password": TEST_PASSWORD}
    for n in range(3):
        assert post(api_client, TOKEN, credentials, REMOTE_ADDR=f"10.0.0.{n}").json()["code"] == "otp_required"
    throttled = post(api_client, TOKEN, credentials, REMOTE_ADDR="10.0.0.9")
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "throttled"
    assert int(throttled["Retry-After"]) > 0
    assert len(sms.outbox) == 3


def test_removing_the_sms_factor(api_client, sms_user, post):
    user, client = sms_user
    backup = client.post(SMS).json()["backup_codes"]
    assert client.delete(SMS, {"otp": backup[0]}, format="json").status_code == 204
    assert not SmsDevice.objects.filter(user=user).exists()
    assert not StaticDevice.objects.filter(user=user).exists()
    assert api_client.post(TOKEN, {"email": user.email, "password": TEST_PASSWORD}).status_code == 200


def test_an_sms_only_user_can_request_a_code_to_turn_sms_off(sms_user, post):
    user, client = sms_user
    client.post(SMS)
    sent = post(client, "/api/v1/me/2fa/sms/challenge")
    assert sent.status_code == 202
    assert [m.to for m in sms.outbox] == [PHONE]
    assert client.delete(SMS, {"otp": last_code(PHONE)}, format="json").status_code == 204
    assert not SmsDevice.objects.filter(user=user).exists()


def test_sms_challenge_without_sms_factor_is_a_conflict(user_client):
    response = user_client.post("/api/v1/me/2fa/sms/challenge")
    assert response.status_code == 409
    assert response.json()["code"] == "two_factor_not_enabled"
