"""Throttles: fixed windows, one client address everywhere, failing open or closed when the cache is down, and
keys derived safely from any raw input."""

import json
import logging
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
import time_machine
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from prometheus_client import REGISTRY
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from accounts.api.serializers import OtpRequestSerializer, RegisterSerializer, TokenObtainSerializer
from accounts.api.throttles import (
    LoginAccountThrottle,
    LoginIpThrottle,
    OtpIpThrottle,
    OtpPhoneThrottle,
    sms_rate_check,
)
from accounts.models import SmsDevice
from commerce.core import redis_guard
from commerce.core.api.throttling import AnonThrottle, UserThrottle
from commerce.core.redis_guard import RedisUnavailable
from commerce.notifications import sms
from tests.accounts.helpers import PHONE, client_for
from tests.factories import TEST_PASSWORD, UserFactory

# 30 s into a minute: a one-minute window has 30 s left.
NOW = datetime(2026, 3, 14, 12, 0, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_redis_guard():
    redis_guard.reset_state()
    yield
    redis_guard.reset_state()


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def behind_proxy(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}


class BrokenCache:
    """A throttle cache whose Redis is gone."""

    def __init__(self, exc: Exception | None = None) -> None:
        self.exc = exc or RedisConnectionError("Connection refused")
        self.calls = 0

    def _fail(self, *args, **kwargs):
        self.calls += 1
        raise self.exc

    get = set = add = incr = _fail


@pytest.fixture
def broken_cache(monkeypatch):
    broken = BrokenCache()
    monkeypatch.setattr(redis_guard, "strict_cache", lambda: broken)
    return broken


def metric(name: str, scope: str) -> float:
    return REGISTRY.get_sample_value(name, {"scope": scope}) or 0.0


def make_request(user=None, ip="198.51.100.7", xff=None):
    meta = {"REMOTE_ADDR": ip}
    if xff is not None:
        meta["HTTP_X_FORWARDED_FOR"] = xff
    return SimpleNamespace(user=user or AnonymousUser(), META=meta, headers={})


class FrozenAnon(AnonThrottle):
    rate = "3/min"
    now_value = 1_000_020.0

    def get_rate(self):
        return self.rate

    def timer(self):
        return self.now_value


# --- fixed windows ----------------------------------------------------------------------------------------


def test_anon_throttle_counts_per_ip_within_a_window():
    throttle = FrozenAnon()
    results = [throttle.allow_request(make_request(), None) for _ in range(4)]
    assert results == [True, True, True, False]
    # 1_000_020 is 1_000_020 // 60 = 16667 windows in: the window ends at 16668 * 60 = 1_000_080.
    assert throttle.wait() == 60.0
    assert FrozenAnon().allow_request(make_request(ip="198.51.100.8"), None) is True


def test_anon_throttle_resets_in_the_next_window():
    throttle = FrozenAnon()
    for _ in range(3):
        throttle.allow_request(make_request(), None)
    later = FrozenAnon()
    later.now_value = 1_000_080.0
    assert later.allow_request(make_request(), None) is True


def test_anon_throttle_ignores_signed_in_users_and_user_throttle_ignores_anonymous():
    user = SimpleNamespace(is_authenticated=True, pk=7)
    assert AnonThrottle().ident_for(make_request(user=user)) is None
    assert UserThrottle().ident_for(make_request()) is None
    assert UserThrottle().ident_for(make_request(user=user)) == "7"


@pytest.mark.django_db
def test_default_throttles_answer_429_with_retry_after(api_client, monkeypatch, frozen):
    monkeypatch.setattr(AnonThrottle, "THROTTLE_RATES", {**AnonThrottle.THROTTLE_RATES, "anon": "2/min"})
    cache.clear()
    statuses = [api_client.get("/api/v1/categories").status_code for _ in range(3)]
    response = api_client.get("/api/v1/categories")
    assert statuses == [200, 200, 429]
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert response["Retry-After"] == "30"


# --- the client address ----------------------------------------------------------------------------------


def test_throttles_key_on_the_forwarded_client_behind_a_proxy(behind_proxy):
    proxy = "10.0.0.1"
    assert FrozenAnon().get_ident(make_request(ip=proxy, xff="203.0.113.7")) == "203.0.113.7"
    assert OtpIpThrottle().get_ident(make_request(ip=proxy, xff="1.2.3.4, 203.0.113.7")) == "203.0.113.7"
    throttle = FrozenAnon()
    a = [throttle.allow_request(make_request(ip=proxy, xff="203.0.113.7"), None) for _ in range(4)]
    b = FrozenAnon().allow_request(make_request(ip=proxy, xff="203.0.113.8"), None)
    assert (a, b) == ([True, True, True, False], True)


def test_a_spoofed_forwarded_header_is_ignored_without_proxies(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 0}
    throttle = FrozenAnon()
    spoofed = [throttle.allow_request(make_request(xff=f"203.0.113.{n}"), None) for n in range(4)]
    assert spoofed == [True, True, True, False]


@pytest.mark.django_db
def test_api_throttles_count_per_forwarded_client(api_client, monkeypatch, behind_proxy, frozen):
    monkeypatch.setattr(AnonThrottle, "THROTTLE_RATES", {**AnonThrottle.THROTTLE_RATES, "anon": "2/min"})

    def get(client_address):
        return api_client.get("/api/v1/categories", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=client_address)

    assert [get("203.0.113.7").status_code for _ in range(3)] == [200, 200, 429]
    assert get("203.0.113.8").status_code == 200


# --- the cache is down -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_general_throttles_let_requests_through_when_their_cache_is_down(api_client, broken_cache, caplog):
    before = metric("commerce_throttle_degraded_total", "anon")
    statuses = [api_client.get("/api/v1/categories").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert broken_cache.calls == 3
    assert metric("commerce_throttle_degraded_total", "anon") - before == 3
    # Logged once, not once per request.
    lines = [r.getMessage() for r in caplog.records if r.name == "commerce.core.api.throttling"]
    assert lines == ["Throttle anon cannot reach its cache (Connection refused); letting requests through"]


def test_user_throttle_fails_open_on_a_timeout_too(monkeypatch):
    monkeypatch.setattr(redis_guard, "strict_cache", lambda: BrokenCache(RedisTimeoutError("Timeout reading")))
    user = SimpleNamespace(is_authenticated=True, pk=7)
    throttle = UserThrottle()
    throttle.rate, throttle.num_requests, throttle.duration = "1/min", 1, 60
    before = metric("commerce_throttle_degraded_total", "user")
    assert throttle.allow_request(make_request(user=user), None) is True
    assert metric("commerce_throttle_degraded_total", "user") - before == 1


def test_a_cache_error_that_is_not_an_outage_is_not_hidden(monkeypatch):
    monkeypatch.setattr(redis_guard, "strict_cache", lambda: BrokenCache(KeyError("bug")))
    with pytest.raises(KeyError):
        FrozenAnon().allow_request(make_request(), None)


@pytest.mark.django_db
def test_otp_request_fails_closed_with_503_when_the_throttle_cache_is_down(api_client, broken_cache):
    before = metric("commerce_throttle_unavailable_total", "otp_ip")
    response = api_client.post("/api/v1/auth/otp/request", {"phone": PHONE}, format="json")
    assert response.status_code == 503
    assert response.json() == {
        "code": "service_unavailable",
        "detail": "This service is briefly unavailable. Try again in a few seconds.",
    }
    assert response["Retry-After"] == "5"
    assert metric("commerce_throttle_unavailable_total", "otp_ip") - before == 1


@pytest.mark.django_db
def test_otp_verify_fails_closed_too(api_client, broken_cache):
    response = api_client.post("/api/v1/auth/otp/verify", {"phone": PHONE, "code": "123456"}, format="json")
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"


@pytest.mark.django_db
def test_password_sign_in_is_not_blocked_by_a_down_throttle_cache(api_client, broken_cache):
    UserFactory(email="ann@example.com")
    response = api_client.post("/api/v1/auth/token", {"email": "ann@example.com", "password": "wrong"}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "no_active_account"


@pytest.mark.django_db
def test_sms_second_factor_challenge_fails_closed(broken_cache, django_capture_on_commit_callbacks):
    user = UserFactory(email="sms@example.com", phone=PHONE, phone_verified=True)
    SmsDevice.objects.create(user=user, name="SMS", phone=PHONE, confirmed=True)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(user).post("/api/v1/me/2fa/sms/challenge")
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    check = sms_rate_check(make_request())
    with pytest.raises(RedisUnavailable):
        check(PHONE)


@pytest.mark.django_db
def test_admin_sign_in_sends_no_sms_code_while_the_throttle_cache_is_down(client, broken_cache):
    user = UserFactory(email="sms.staff@example.com", is_staff=True, phone=PHONE, phone_verified=True)
    SmsDevice.objects.create(user=user, name="SMS", phone=PHONE, confirmed=True)
    response = client.post(
        "/admin/login/",
        {"username": "sms.staff@example.com", "password": TEST_PASSWORD, "otp_token": "", "next": "/admin/"},
    )
    assert response.status_code == 200
    assert (
        "SMS codes cannot be sent right now. Try again in a minute, or use a backup code." in response.content.decode()
    )
    assert sms.outbox == []
    assert "_auth_user_id" not in client.session


def test_throttle_outage_logging_is_rate_limited_per_scope(broken_cache, caplog):
    caplog.set_level(logging.WARNING)
    for _ in range(5):
        with pytest.raises(RedisUnavailable):
            OtpPhoneThrottle().allow_ident("abc")
    lines = [r.getMessage() for r in caplog.records if r.name == "commerce.core.api.throttling"]
    assert lines == ["Throttle otp_phone cannot reach its cache (Connection refused); refusing with 503"]


# --- raw input reaching throttles before validation -------------------------------------------------------

SURROGATE = "\ud800"


def test_account_throttle_keys_any_string_including_lone_surrogates():
    ident = LoginAccountThrottle().ident_for(SimpleNamespace(data={"email": f"ann{SURROGATE}@example.com"}))
    assert len(ident) == 32
    assert ident != LoginAccountThrottle().ident_for(SimpleNamespace(data={"email": "ann@example.com"}))


SURROGATE_BODIES = [
    ("/api/v1/auth/token", {"email": SURROGATE, "password": "secret-password"}, "email"),
    ("/api/v1/auth/token", {"email": f"ann{SURROGATE}@example.com", "password": "pw"}, "email"),
    ("/api/v1/auth/token", {"email": "ann@example.com", "password": SURROGATE}, "password"),
    ("/api/v1/auth/token", {"email": "ann@example.com", "password": "pw", "otp": SURROGATE}, "otp"),
    ("/api/v1/auth/otp/request", {"phone": SURROGATE}, "phone"),
    ("/api/v1/auth/otp/request", {"phone": f"98123{SURROGATE}45678"}, "phone"),
    ("/api/v1/auth/register", {"email": f"{SURROGATE}@example.com", "password": "long-enough-pw"}, "email"),
    ("/api/v1/auth/register", {"email": "new@example.com", "password": f"long-enough-{SURROGATE}"}, "password"),
    (
        "/api/v1/auth/register",
        {"email": "new@example.com", "password": "long-enough-pw", "full_name": SURROGATE},
        "full_name",
    ),
]
SERIALIZERS = {
    "/api/v1/auth/token": TokenObtainSerializer,
    "/api/v1/auth/otp/request": OtpRequestSerializer,
    "/api/v1/auth/register": RegisterSerializer,
}
THROTTLES = {
    "/api/v1/auth/token": [LoginIpThrottle, LoginAccountThrottle],
    "/api/v1/auth/otp/request": [OtpIpThrottle, OtpPhoneThrottle],
    "/api/v1/auth/register": [LoginIpThrottle],
}


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "body", "field"), SURROGATE_BODIES)
def test_lone_surrogates_in_sign_in_fields_are_400_not_500(api_client, settings, path, body, field):
    raw = json.dumps(body)  # ASCII JSON with "\ud800" escapes, as a client would send them
    response = api_client.post(path, raw, content_type="application/json")
    assert response.status_code == 400
    payload = response.json()
    if settings.REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"] == ["commerce.core.api.parsers.SafeJSONParser"]:
        # The API's parser refuses them before any view code runs.
        assert payload == {
            "code": "parse_error",
            "detail": "JSON strings must not contain lone surrogates (\\ud800-\\udfff).",
        }
    else:
        assert payload["code"] == "invalid"
        assert field in payload["fields"]


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "body", "field"), SURROGATE_BODIES)
def test_lone_surrogates_pass_the_throttles_and_are_refused_by_the_serializers(path, body, field):
    """Behind a plain JSON parser (lone surrogates decoded as they are), throttles compute their keys without
    raising and the serializer answers 400 for the field."""
    django_request = APIRequestFactory().post(path, json.dumps(body), content_type="application/json")
    request = Request(django_request, parsers=[JSONParser()])
    assert [throttle().allow_request(request, None) for throttle in THROTTLES[path]] == [True] * len(THROTTLES[path])
    serializer = SERIALIZERS[path](data=request.data)
    assert serializer.is_valid() is False
    assert field in serializer.errors
