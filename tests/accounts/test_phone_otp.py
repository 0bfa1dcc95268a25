from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import PhoneOTP, User
from commerce.notifications import sms
from commerce.notifications.models import Notification
from tests.factories import UserFactory

from .helpers import OTHER_PHONE, PHONE, codes_sent_to, last_code, totp_code, wrong

pytestmark = pytest.mark.django_db

REQUEST = "/api/v1/auth/otp/request"
VERIFY = "/api/v1/auth/otp/verify"
SENT = {"detail": "A code is on its way by SMS. It expires in 5 minutes."}


def test_request_sends_a_six_digit_code_by_sms(api_client, post):
    response = post(api_client, REQUEST, {"phone": PHONE})
    assert response.status_code == 202
    assert response.json() == SENT
    assert [m.to for m in sms.outbox] == [PHONE]
    code = last_code(PHONE)
    assert len(code) == 6 and code.isdigit()
    assert sms.outbox[0].body.startswith(f"{code} is your login code. It expires in 5 minutes.")
    assert Notification.objects.get().template == "otp_login"


def test_the_code_is_stored_hashed(api_client, post):
    post(api_client, REQUEST, {"phone": PHONE})
    code = last_code(PHONE)
    row = PhoneOTP.objects.get()
    assert (row.phone, row.purpose, row.attempts, row.used_at) == (PHONE, "login", 0, None)
    assert len(row.code_hash) == 64
    assert code not in row.code_hash
    assert row.expires_at == row.created_at + timedelta(minutes=5)


@pytest.mark.parametrize("raw", ["98123 45678", "+91 98123-45678", "09812345678"])
def test_phone_numbers_are_normalised_to_e164(api_client, post, raw):
    assert post(api_client, REQUEST, {"phone": raw}).status_code == 202
    assert [m.to for m in sms.outbox] == [PHONE]


@pytest.mark.parametrize("raw", ["", "abc", "12", "+99 123", "9" * 40, 9812345678, None])
def test_garbage_phone_numbers_are_a_400_with_fields(api_client, post, raw):
    response = post(api_client, REQUEST, {"phone": raw})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["fields"]) == ["phone"]
    assert sms.outbox == []
    assert not PhoneOTP.objects.exists()


def test_first_login_creates_the_account_with_a_verified_phone(api_client, post):
    post(api_client, REQUEST, {"phone": PHONE})
    response = post(api_client, VERIFY, {"phone": "98123 45678", "code": last_code(PHONE)})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "refresh", "created", "user"}
    assert body["created"] is True
    user = User.objects.get()
    assert (user.phone, user.phone_verified, user.email, user.has_usable_password()) == (PHONE, True, None, False)
    assert body["user"]["phone"] == PHONE and body["user"]["email"] is None
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert api_client.get("/api/v1/me").json()["id"] == user.pk


def test_login_with_a_known_phone_signs_into_that_account(api_client, post):
    known = UserFactory(phone=PHONE, phone_verified=False)
    post(api_client, REQUEST, {"phone": PHONE})
    response = post(api_client, VERIFY, {"phone": PHONE, "code": last_code(PHONE)})
    assert response.status_code == 200
    assert response.json()["created"] is False
    assert response.json()["user"]["id"] == known.pk
    known.refresh_from_db()
    assert known.phone_verified is True
    assert User.objects.count() == 1


def test_a_code_works_once(api_client, post):
    post(api_client, REQUEST, {"phone": PHONE})
    code = last_code(PHONE)
    assert post(api_client, VERIFY, {"phone": PHONE, "code": code}).status_code == 200
    again = post(api_client, VERIFY, {"phone": PHONE, "code": code})
    assert again.status_code == 401
    assert again.json() == {"code": "otp_invalid", "detail": "The code is wrong or no longer valid."}


def test_a_code_expires_after_five_minutes(api_client, post, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    post(api_client, REQUEST, {"phone": PHONE})
    code = last_code(PHONE)
    time_machine.shift(timedelta(minutes=5))
    response = post(api_client, VERIFY, {"phone": PHONE, "code": code})
    assert response.status_code == 401
    assert response.json() == {"code": "otp_expired", "detail": "The code has expired. Request a new one."}
    assert not User.objects.exists()


def test_a_code_still_works_just_before_expiry(api_client, post, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    post(api_client, REQUEST, {"phone": PHONE})
    time_machine.shift(timedelta(minutes=4, seconds=59))
    assert post(api_client, VERIFY, {"phone": PHONE, "code": last_code(PHONE)}).status_code == 200


def test_a_new_request_replaces_the_old_code(api_client, post, monkeypatch):
    codes = iter(["111111", "222222"])
    monkeypatch.setattr("accounts.services.otp._new_code", lambda: next(codes))
    post(api_client, REQUEST, {"phone": PHONE})
    post(api_client, REQUEST, {"phone": PHONE})
    old, new = codes_sent_to(PHONE)
    assert (old, new) == ("111111", "222222")
    assert PhoneOTP.objects.count() == 1
    assert post(api_client, VERIFY, {"phone": PHONE, "code": old}).json()["code"] == "otp_invalid"
    assert post(api_client, VERIFY, {"phone": PHONE, "code": new}).status_code == 200


def test_five_wrong_codes_kill_the_code_even_for_the_right_one(api_client, post):
    post(api_client, REQUEST, {"phone": PHONE})
    code = last_code(PHONE)
    answers = [post(api_client, VERIFY, {"phone": PHONE, "code": wrong(code)}).json()["code"] for _ in range(5)]
    assert answers == ["otp_invalid"] * 4 + ["otp_attempts_exceeded"]

    sixth = post(api_client, VERIFY, {"phone": PHONE, "code": code})
    assert sixth.status_code == 401
    assert sixth.json() == {"code": "otp_attempts_exceeded", "detail": "Too many wrong codes. Request a new one."}
    assert PhoneOTP.objects.get().attempts == 5
    assert not User.objects.exists()


def test_four_wrong_codes_still_leave_the_right_one_working(api_client, post):
    post(api_client, REQUEST, {"phone": PHONE})
    code = last_code(PHONE)
    for _ in range(4):
        post(api_client, VERIFY, {"phone": PHONE, "code": wrong(code)})
    assert post(api_client, VERIFY, {"phone": PHONE, "code": code}).status_code == 200


def test_malformed_codes_count_as_wrong_attempts(api_client, post):
    post(api_client, REQUEST, {"phone": PHONE})
    for code in ("12345", "abcdef", "1234567"):
        response = post(api_client, VERIFY, {"phone": PHONE, "code": code})
        assert response.json()["code"] == "otp_invalid"
    assert PhoneOTP.objects.get().attempts == 3


def test_verify_without_a_requested_code_is_refused(api_client, post):
    response = post(api_client, VERIFY, {"phone": PHONE, "code": "123456"})
    assert response.status_code == 401
    assert response.json()["code"] == "otp_invalid"


def test_requests_are_throttled_per_phone(api_client, post):
    for _ in range(3):
        assert post(api_client, REQUEST, {"phone": PHONE}).status_code == 202
    response = post(api_client, REQUEST, {"phone": "98123 45678"}, REMOTE_ADDR="10.9.9.9")
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert 0 < int(response["Retry-After"]) <= 600
    assert len(sms.outbox) == 3
    assert post(api_client, REQUEST, {"phone": OTHER_PHONE}).status_code == 202


def test_requests_are_throttled_per_ip(api_client, post):
    for n in range(10):
        assert post(api_client, REQUEST, {"phone": f"+91981234{n:04d}"}).status_code == 202
    response = post(api_client, REQUEST, {"phone": "+919812349999"})
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert int(response["Retry-After"]) > 0
    assert post(api_client, REQUEST, {"phone": "+919812349999"}, REMOTE_ADDR="10.1.2.3").status_code == 202


def test_verify_counts_against_the_ip_throttle(api_client, post):
    post(api_client, REQUEST, {"phone": PHONE})
    for _ in range(9):
        post(api_client, VERIFY, {"phone": PHONE, "code": "000000"})
    response = post(api_client, VERIFY, {"phone": PHONE, "code": last_code(PHONE)})
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"


def _request_and_capture(api_client, post, phone):
    with CaptureQueriesContext(connection) as queries:
        response = post(api_client, REQUEST, {"phone": phone})
    return response, len(queries)


def test_known_and_unknown_phones_get_identical_answers_and_work(api_client, post):
    UserFactory(phone=PHONE, phone_verified=True)
    known, known_queries = _request_and_capture(api_client, post, PHONE)
    unknown, unknown_queries = _request_and_capture(api_client, post, OTHER_PHONE)

    assert known.status_code == unknown.status_code == 202
    assert known.content == unknown.content
    drop = {"X-Request-ID", "Date"}
    assert {k: v for k, v in known.headers.items() if k not in drop} == {
        k: v for k, v in unknown.headers.items() if k not in drop
    }
    # The same work for both: one code row and one SMS each, and the same queries.
    assert known_queries == unknown_queries
    assert sorted(m.to for m in sms.outbox) == sorted([PHONE, OTHER_PHONE])
    assert PhoneOTP.objects.count() == 2


def test_wrong_codes_get_identical_answers_for_known_and_unknown_phones(api_client, post):
    UserFactory(phone=PHONE, phone_verified=True)
    post(api_client, REQUEST, {"phone": PHONE})
    post(api_client, REQUEST, {"phone": OTHER_PHONE})
    known = post(api_client, VERIFY, {"phone": PHONE, "code": wrong(last_code(PHONE))})
    unknown = post(api_client, VERIFY, {"phone": OTHER_PHONE, "code": wrong(last_code(OTHER_PHONE))})
    assert known.status_code == unknown.status_code == 401
    assert known.content == unknown.content


def test_an_account_with_an_authenticator_app_also_needs_its_code(api_client, post, totp_user, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    user, device = totp_user
    user.phone, user.phone_verified = PHONE, True
    user.save()
    post(api_client, REQUEST, {"phone": PHONE})
    code = last_code(PHONE)

    missing = post(api_client, VERIFY, {"phone": PHONE, "code": code})
    assert missing.status_code == 401
    assert missing.json()["code"] == "otp_required"
    assert PhoneOTP.objects.get().attempts == 0  # a missing code is not a wrong one

    wrong_totp = post(api_client, VERIFY, {"phone": PHONE, "code": code, "otp": wrong(totp_code(device))})
    assert wrong_totp.json()["code"] == "otp_invalid"
    assert PhoneOTP.objects.get().attempts == 1

    time_machine.shift(5)  # django-otp's back-off after a failure
    ok = post(api_client, VERIFY, {"phone": PHONE, "code": code, "otp": totp_code(device)})
    assert ok.status_code == 200
    assert ok.json()["user"]["id"] == user.pk


def test_a_disabled_account_cannot_sign_in_by_phone(api_client, post):
    UserFactory(phone=PHONE, phone_verified=True, is_active=False)
    post(api_client, REQUEST, {"phone": PHONE})
    response = post(api_client, VERIFY, {"phone": PHONE, "code": last_code(PHONE)})
    assert response.status_code == 401
    assert response.json() == {"code": "account_disabled", "detail": "This account is disabled."}
