"""CAPTCHA: the provider adapters (HTTP faked at the transport boundary), the settings guard rails, sign-up,
and sign-in after repeated failures from one client."""

import json
import logging
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import requests
import time_machine
from django.core.cache import cache
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_redis.exceptions import ConnectionInterrupted
from drf_spectacular.generators import SchemaGenerator

from accounts.captcha import (
    CaptchaResult,
    CaptchaUnavailable,
    captcha_verifier,
    providers,
    signin_captcha_required,
    signin_failure_record,
    signin_failures,
)
from accounts.captcha.providers import HCaptchaVerifier, RecaptchaVerifier, TurnstileVerifier
from accounts.models import User
from commerce.notifications import sms
from tests.factories import TEST_PASSWORD, UserFactory

from .helpers import PHONE, last_code, totp_code, wrong

ROOT = Path(__file__).resolve().parent.parent.parent
REGISTER = "/api/v1/auth/register"
TOKEN = "/api/v1/auth/token"
OTP_REQUEST = "/api/v1/auth/otp/request"
OTP_VERIFY = "/api/v1/auth/otp/verify"
CAPTCHA = "/api/v1/auth/captcha"
SECRET = "0x4AAAAAAAtest-secret-never-logged"
NEW_ACCOUNT = {"email": "new@example.com", "password": "a-long-unusual-pass-77"}
REQUIRED = {
    "code": "captcha_required",
    "detail": "Solve the CAPTCHA and send its token as `captcha`.",
    "fields": {"captcha": ["Solve the CAPTCHA and send its token as `captcha`."]},
}
INVALID = {
    "code": "captcha_invalid",
    "detail": "The CAPTCHA was not solved or has expired. Solve it again.",
    "fields": {"captcha": ["The CAPTCHA was not solved or has expired. Solve it again."]},
}
UNAVAILABLE = {"code": "service_unavailable", "detail": "The CAPTCHA service is not answering. Try again in a moment."}


# --- A fake transport ---------------------------------------------------------------------------------------


class FakeTransport(requests.adapters.BaseAdapter):
    """Answers each request with the next of ``answers``: ``(status, body)`` or an exception to raise.
    Remembers what was sent and with which ``send`` options (the timeout)."""

    def __init__(self, *answers):
        super().__init__()
        self.answers = list(answers)
        self.sent: list[requests.PreparedRequest] = []
        self.options: list[dict] = []

    def send(self, request, **kwargs):
        self.sent.append(request)
        self.options.append(kwargs)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, body = answer
        response = requests.Response()
        response.status_code = status
        response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response.headers["Content-Type"] = "application/json"
        response.encoding = "utf-8"
        response.url = request.url
        response.request = request
        return response

    def close(self):
        pass

    def form(self, n: int = 0) -> dict[str, list[str]]:
        return parse_qs(self.sent[n].body)


def session_with(transport: FakeTransport) -> requests.Session:
    session = requests.Session()
    session.mount("https://", transport)
    session.mount("http://", transport)
    return session


@pytest.fixture
def transport(monkeypatch):
    """Every verifier built from settings talks to this transport (queue answers on ``transport.answers``)."""
    fake = FakeTransport()
    monkeypatch.setattr(providers, "http_session", lambda: session_with(fake))
    return fake


# --- Adapters -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("verifier_class", "url"),
    [
        (TurnstileVerifier, "https://challenges.cloudflare.com/turnstile/v0/siteverify"),
        (HCaptchaVerifier, "https://api.hcaptcha.com/siteverify"),
        (RecaptchaVerifier, "https://www.google.com/recaptcha/api/siteverify"),
    ],
)
def test_each_adapter_posts_the_documented_form_to_its_siteverify_endpoint(verifier_class, url):
    fake = FakeTransport((200, {"success": True, "hostname": "shop.example.com", "error-codes": []}))
    verifier = verifier_class(secret_key=SECRET, session=session_with(fake))
    result = verifier.verify(token="token-from-widget", remote_ip="203.0.113.7")
    assert result == CaptchaResult(success=True, error_codes=(), score=None, hostname="shop.example.com")
    [sent] = fake.sent
    assert (sent.method, sent.url) == ("POST", url)
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert fake.form() == {"secret": [SECRET], "response": ["token-from-widget"], "remoteip": ["203.0.113.7"]}
    assert fake.options[0]["timeout"] == 3.0


def test_an_unknown_client_address_is_not_sent():
    fake = FakeTransport((200, {"success": True}))
    TurnstileVerifier(secret_key=SECRET, session=session_with(fake)).verify(token="t", remote_ip="unknown")
    assert fake.form() == {"secret": [SECRET], "response": ["t"]}


def test_a_refused_token_is_a_failed_result_with_the_providers_codes():
    fake = FakeTransport((200, {"success": False, "error-codes": ["timeout-or-duplicate"]}))
    result = TurnstileVerifier(secret_key=SECRET, session=session_with(fake)).verify(token="t", remote_ip="1.2.3.4")
    assert result == CaptchaResult(success=False, error_codes=("timeout-or-duplicate",))


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (0.9, CaptchaResult(success=True, score=0.9, action="signin")),
        (0.5, CaptchaResult(success=True, score=0.5, action="signin")),
        (0.3, CaptchaResult(success=False, error_codes=("score-too-low",), score=0.3, action="signin")),
        (0, CaptchaResult(success=False, error_codes=("score-too-low",), score=0.0, action="signin")),
    ],
)
def test_recaptcha_v3_scores_below_the_minimum_fail(score, expected):
    fake = FakeTransport((200, {"success": True, "score": score, "action": "signin"}))
    verifier = RecaptchaVerifier(secret_key=SECRET, min_score=0.5, session=session_with(fake))
    assert verifier.verify(token="t", remote_ip="1.2.3.4") == expected


def test_recaptcha_v2_has_no_score_and_succeeds_on_success():
    fake = FakeTransport((200, {"success": True, "challenge_ts": "2026-01-05T12:00:00Z"}))
    verifier = RecaptchaVerifier(secret_key=SECRET, min_score=0.9, session=session_with(fake))
    assert verifier.verify(token="t", remote_ip="1.2.3.4") == CaptchaResult(success=True)


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (requests.exceptions.ReadTimeout("read timed out"), "ReadTimeout"),
        (requests.exceptions.ConnectTimeout("connect timed out"), "ConnectTimeout"),
        (requests.exceptions.ConnectionError("refused"), "ConnectionError"),
        ((502, b"<html>Bad gateway</html>"), "HTTPError"),
        ((200, b"<html>Just a moment...</html>"), "JSONDecodeError"),
        ((200, b""), "JSONDecodeError"),
        ((200, ["success"]), "answer is not a JSON object"),
        ((200, {"hostname": "shop.example.com"}), "answer without a boolean success"),
        ((200, {"success": "true"}), "answer without a boolean success"),
        ((200, {"success": True, "score": "high"}), "score is not a number"),
        ((200, {"success": True, "score": None}), "score is not a number"),
    ],
)
def test_an_unusable_provider_answer_is_unavailable_and_logged_without_secrets(caplog, answer, reason):
    fake = FakeTransport(answer)
    verifier = RecaptchaVerifier(secret_key=SECRET, session=session_with(fake))
    with caplog.at_level(logging.WARNING, logger="accounts.captcha"), pytest.raises(CaptchaUnavailable) as exc:
        verifier.verify(token="the-visitors-token", remote_ip="1.2.3.4")
    assert (exc.value.status, exc.value.code) == (503, "service_unavailable")
    assert [r.getMessage() for r in caplog.records] == [f"CAPTCHA verification with recaptcha failed: {reason}"]
    assert SECRET not in caplog.text and "the-visitors-token" not in caplog.text


@pytest.mark.parametrize("code", ["invalid-input-secret", "missing-input-secret", "sitekey-secret-mismatch"])
def test_a_wrong_secret_is_our_fault_not_the_visitors(caplog, code):
    fake = FakeTransport((200, {"success": False, "error-codes": [code]}))
    verifier = HCaptchaVerifier(secret_key=SECRET, session=session_with(fake))
    with caplog.at_level(logging.WARNING, logger="accounts.captcha"), pytest.raises(CaptchaUnavailable):
        verifier.verify(token="t", remote_ip="1.2.3.4")
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("ERROR", f"CAPTCHA verification with hcaptcha failed: provider-side error {code}")
    ]


def test_the_verifier_follows_the_settings(settings):
    settings.CAPTCHA_PROVIDER = ""
    assert captcha_verifier() is None
    settings.CAPTCHA_PROVIDER = "recaptcha"
    settings.CAPTCHA_SECRET_KEY = SECRET
    settings.CAPTCHA_RECAPTCHA_MIN_SCORE = 0.7
    settings.CAPTCHA_TIMEOUT_SECONDS = 2.5
    verifier = captcha_verifier()
    assert (type(verifier), verifier.secret_key, verifier.min_score, verifier.timeout) == (
        RecaptchaVerifier,
        SECRET,
        0.7,
        2.5,
    )
    settings.CAPTCHA_PROVIDER = "always_pass"
    assert captcha_verifier().verify(token="x", remote_ip="1.2.3.4") == CaptchaResult(success=True)
    settings.CAPTCHA_PROVIDER = "always_fail"
    assert captcha_verifier().verify(token="x", remote_ip="1.2.3.4").success is False


# --- Settings guard rails (fresh processes) -----------------------------------------------------------------

PROD_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "p" * 20 + "-Very-Long-And-Random-Production-Secret-Key-0123456789",
    "DJANGO_ALLOWED_HOSTS": "shop.example.com",
    "DATABASE_URL": "postgres://shop:pw@db.internal:5432/shop",
    "SMS_BACKEND": "commerce.notifications.sms.TwilioSmsBackend",
}


def settings_in_fresh_process(env: dict[str, str]) -> subprocess.CompletedProcess:
    code = "import django; from django.conf import settings; django.setup(); print(settings.CAPTCHA_PROVIDER)"
    base = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "config.settings.base"}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("provider", ["always_pass", "always_fail"])
def test_production_refuses_the_test_adapters(provider):
    result = settings_in_fresh_process({**PROD_ENV, "CAPTCHA_PROVIDER": provider})
    assert result.returncode == 1
    assert f"CAPTCHA_PROVIDER={provider} is for tests and development" in result.stderr


def test_production_accepts_a_real_provider_with_its_keys():
    env = {**PROD_ENV, "CAPTCHA_PROVIDER": "turnstile", "CAPTCHA_SECRET_KEY": "s", "CAPTCHA_SITE_KEY": "k"}
    result = settings_in_fresh_process(env)
    assert (result.returncode, result.stdout.strip()) == (0, "turnstile")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CAPTCHA_PROVIDER": "turnstile"}, "CAPTCHA_PROVIDER needs CAPTCHA_SECRET_KEY and CAPTCHA_SITE_KEY."),
        (
            {"CAPTCHA_PROVIDER": "hcaptcha", "CAPTCHA_SITE_KEY": "k"},
            "CAPTCHA_PROVIDER needs CAPTCHA_SECRET_KEY and CAPTCHA_SITE_KEY.",
        ),
        ({"CAPTCHA_PROVIDER": "recaptha"}, "Unknown CAPTCHA_PROVIDER 'recaptha'."),
    ],
)
def test_a_half_configured_captcha_refuses_to_start(env, message):
    result = settings_in_fresh_process(env)
    assert result.returncode == 1
    assert message in result.stderr


def test_captcha_is_off_with_nothing_set():
    result = settings_in_fresh_process({})
    assert (result.returncode, result.stdout.strip()) == (0, "")


# --- Sign-up ------------------------------------------------------------------------------------------------


@pytest.fixture
def captcha_on(settings):
    settings.CAPTCHA_PROVIDER = "always_pass"
    settings.CAPTCHA_SITE_KEY = "test-site-key"
    settings.CAPTCHA_SIGNIN_AFTER_FAILURES = 3
    settings.CAPTCHA_SIGNIN_WINDOW_MINUTES = 15
    return settings


@pytest.fixture
def turnstile(settings, transport):
    settings.CAPTCHA_PROVIDER = "turnstile"
    settings.CAPTCHA_SECRET_KEY = SECRET
    settings.CAPTCHA_SITE_KEY = "0x4AAAAAAAsite-key"
    settings.CAPTCHA_SIGNIN_AFTER_FAILURES = 3
    return transport


@pytest.mark.django_db
def test_sign_up_needs_a_captcha_while_one_is_configured(api_client, captcha_on):
    response = api_client.post(REGISTER, NEW_ACCOUNT)
    assert (response.status_code, response.json()) == (400, REQUIRED)
    assert api_client.post(REGISTER, {**NEW_ACCOUNT, "captcha": ""}).json() == REQUIRED
    assert not User.objects.exists()
    assert api_client.post(REGISTER, {**NEW_ACCOUNT, "captcha": "token"}).status_code == 201
    assert User.objects.get().email == "new@example.com"


@pytest.mark.django_db
def test_sign_up_with_a_refused_captcha_is_captcha_invalid(api_client, captcha_on):
    captcha_on.CAPTCHA_PROVIDER = "always_fail"
    response = api_client.post(REGISTER, {**NEW_ACCOUNT, "captcha": "token"})
    assert (response.status_code, response.json()) == (400, INVALID)
    assert not User.objects.exists()


@pytest.mark.django_db
def test_sign_up_needs_no_captcha_while_none_is_configured(api_client, settings):
    settings.CAPTCHA_PROVIDER = ""
    assert api_client.post(REGISTER, NEW_ACCOUNT).status_code == 201


@pytest.mark.django_db
def test_sign_up_asks_the_provider_with_the_client_address(api_client, turnstile):
    turnstile.answers.append((200, {"success": True}))
    response = api_client.post(REGISTER, {**NEW_ACCOUNT, "captcha": "widget-token"}, REMOTE_ADDR="198.51.100.4")
    assert response.status_code == 201
    assert turnstile.form() == {"secret": [SECRET], "response": ["widget-token"], "remoteip": ["198.51.100.4"]}


@pytest.mark.django_db
def test_sign_up_while_the_provider_is_down_is_a_503_and_creates_nothing(api_client, turnstile):
    turnstile.answers.append(requests.exceptions.ReadTimeout("read timed out"))
    response = api_client.post(REGISTER, {**NEW_ACCOUNT, "captcha": "widget-token"})
    assert (response.status_code, response.json()) == (503, UNAVAILABLE)
    assert not User.objects.exists()


@pytest.mark.django_db
def test_invalid_input_is_refused_before_the_provider_is_asked(api_client, turnstile):
    response = api_client.post(REGISTER, {"email": "not-an-email", "password": "x", "captcha": "widget-token"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert turnstile.sent == []


# --- Sign-in after repeated failures ------------------------------------------------------------------------


def sign_in(client, password, captcha=None, ip="10.0.0.1", email="ann@example.com", **extra):
    body = {"email": email, "password": password, **extra}
    if captcha is not None:
        body["captcha"] = captcha
    return client.post(TOKEN, body, REMOTE_ADDR=ip)


@pytest.mark.django_db
def test_sign_in_needs_a_captcha_after_three_failures_from_one_client(api_client, captcha_on):
    UserFactory(email="ann@example.com")
    assert [sign_in(api_client, "wrong").status_code for _ in range(3)] == [401, 401, 401]

    refused = sign_in(api_client, TEST_PASSWORD)
    assert (refused.status_code, refused.json()) == (400, REQUIRED)
    assert sign_in(api_client, TEST_PASSWORD, ip="10.0.0.2").status_code == 200  # another client
    assert api_client.get(CAPTCHA, REMOTE_ADDR="10.0.0.1").json() == {
        "provider": "always_pass",
        "site_key": "test-site-key",
        "required_for": ["register"],
        "signin_required": True,
    }
    assert api_client.get(CAPTCHA, REMOTE_ADDR="10.0.0.2").json()["signin_required"] is False

    assert sign_in(api_client, TEST_PASSWORD, captcha="token").status_code == 200
    # A successful sign-in with a CAPTCHA forgets the failures.
    assert api_client.get(CAPTCHA, REMOTE_ADDR="10.0.0.1").json()["signin_required"] is False
    assert sign_in(api_client, TEST_PASSWORD).status_code == 200


@pytest.mark.django_db
def test_a_wrong_password_with_a_captcha_still_counts(api_client, captcha_on):
    UserFactory(email="ann@example.com")
    for _ in range(3):
        sign_in(api_client, "wrong")
    assert sign_in(api_client, "wrong", captcha="token").status_code == 401
    assert signin_failures(ip="10.0.0.1") == 4
    assert sign_in(api_client, TEST_PASSWORD).json() == REQUIRED


@pytest.mark.django_db
def test_a_refused_captcha_stops_the_sign_in_before_the_password_is_checked(api_client, captcha_on):
    UserFactory(email="ann@example.com")
    for _ in range(3):
        sign_in(api_client, "wrong")
    captcha_on.CAPTCHA_PROVIDER = "always_fail"
    response = sign_in(api_client, TEST_PASSWORD, captcha="token")
    assert (response.status_code, response.json()) == (400, INVALID)
    assert signin_failures(ip="10.0.0.1") == 3


@pytest.mark.django_db
def test_a_success_without_captcha_does_not_wipe_the_count(api_client, captcha_on):
    UserFactory(email="ann@example.com")
    sign_in(api_client, "wrong")
    sign_in(api_client, "wrong")
    assert sign_in(api_client, TEST_PASSWORD).status_code == 200
    sign_in(api_client, "wrong")
    assert sign_in(api_client, TEST_PASSWORD).json() == REQUIRED


@pytest.mark.django_db
def test_otp_required_is_a_step_not_a_failure(api_client, captcha_on):
    user = UserFactory(email="ann@example.com")
    device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
    answers = [sign_in(api_client, TEST_PASSWORD).json()["code"] for _ in range(4)]
    assert answers == ["otp_required"] * 4
    assert signin_failures(ip="10.0.0.1") == 0
    assert sign_in(api_client, TEST_PASSWORD, otp=wrong(totp_code(device))).json()["code"] == "otp_invalid"
    assert signin_failures(ip="10.0.0.1") == 1


@pytest.mark.django_db
def test_sign_in_while_the_provider_is_down_is_a_503(api_client, turnstile):
    UserFactory(email="ann@example.com")
    for _ in range(3):
        sign_in(api_client, "wrong")
    turnstile.answers.append(requests.exceptions.ConnectionError("unreachable"))
    response = sign_in(api_client, TEST_PASSWORD, captcha="widget-token")
    assert (response.status_code, response.json()) == (503, UNAVAILABLE)
    assert turnstile.form()["remoteip"] == ["10.0.0.1"]


@pytest.mark.django_db
def test_a_captcha_sent_when_none_is_needed_is_not_verified(api_client, turnstile):
    UserFactory(email="ann@example.com")
    assert sign_in(api_client, TEST_PASSWORD, captcha="widget-token").status_code == 200
    assert turnstile.sent == []


@pytest.mark.django_db
def test_wrong_phone_codes_count_and_then_otp_requests_need_a_captcha(api_client, post, captcha_on):
    assert post(api_client, OTP_REQUEST, {"phone": PHONE}).status_code == 202
    code = last_code(PHONE)
    answers = [post(api_client, OTP_VERIFY, {"phone": PHONE, "code": wrong(code)}).status_code for _ in range(3)]
    assert answers == [401, 401, 401]

    refused = post(api_client, OTP_REQUEST, {"phone": PHONE})
    assert (refused.status_code, refused.json()) == (400, REQUIRED)
    assert len(sms.outbox) == 1
    assert post(api_client, OTP_REQUEST, {"phone": PHONE, "captcha": "token"}).status_code == 202
    assert len(sms.outbox) == 2
    assert sign_in(api_client, TEST_PASSWORD, ip="127.0.0.1").json() == REQUIRED


@pytest.fixture
def locmem_cache(settings):
    """A local-memory cache, whose expiry follows the (frozen) clock; Redis keeps its own time."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "captcha"}}
    cache.clear()
    yield
    cache.clear()


@pytest.mark.django_db
def test_the_count_is_forgotten_a_window_after_the_last_failure(api_client, captcha_on, locmem_cache):
    UserFactory(email="ann@example.com")
    with time_machine.travel(datetime(2026, 1, 5, 12, 0, tzinfo=UTC), tick=False) as traveller:
        sign_in(api_client, "wrong")
        traveller.shift(10 * 60)
        sign_in(api_client, "wrong")
        traveller.shift(10 * 60)  # 20 minutes after the first failure, 10 after the last
        sign_in(api_client, "wrong")
        assert signin_captcha_required(ip="10.0.0.1") is True
        traveller.shift(15 * 60 - 1)
        assert sign_in(api_client, TEST_PASSWORD).json() == REQUIRED
        traveller.shift(1)
        assert signin_captcha_required(ip="10.0.0.1") is False
        assert sign_in(api_client, TEST_PASSWORD).status_code == 200


@pytest.mark.redis
def test_on_redis_each_failure_restarts_the_window(captcha_on):
    key = "captcha:signin_failures:10.0.0.1"
    signin_failure_record(ip="10.0.0.1")
    assert cache.ttl(key) in (899, 900)
    cache.expire(key, 60)
    signin_failure_record(ip="10.0.0.1")
    assert (cache.get(key), cache.ttl(key) in (899, 900)) == (2, True)


@pytest.mark.django_db
def test_sign_in_needs_no_captcha_while_the_cache_is_down(api_client, captcha_on, monkeypatch, caplog):
    UserFactory(email="ann@example.com")
    for _ in range(3):
        sign_in(api_client, "wrong")

    def down(*args, **kwargs):
        raise ConnectionInterrupted(connection=None)

    for method in ("get", "add", "incr", "touch", "delete"):
        monkeypatch.setattr(cache, method, down, raising=False)
    with caplog.at_level(logging.WARNING, logger="accounts.captcha"):
        assert signin_captcha_required(ip="10.0.0.1") is False
        signin_failure_record(ip="10.0.0.1")
    assert [r.getMessage() for r in caplog.records] == [
        "Sign-in failure count unavailable, no CAPTCHA asked: ConnectionInterrupted",
        "Sign-in failure not counted: ConnectionInterrupted",
    ]


@pytest.mark.django_db
def test_nothing_is_counted_while_captcha_is_off(api_client, settings):
    settings.CAPTCHA_PROVIDER = ""
    UserFactory(email="ann@example.com")
    for _ in range(4):
        sign_in(api_client, "wrong")
    assert cache.get("captcha:signin_failures:10.0.0.1") is None
    assert sign_in(api_client, TEST_PASSWORD).status_code == 200
    assert api_client.get(CAPTCHA).json() == {
        "provider": None,
        "site_key": None,
        "required_for": [],
        "signin_required": False,
    }


@pytest.mark.django_db
def test_a_threshold_of_zero_asks_on_every_sign_in(api_client, captcha_on):
    captcha_on.CAPTCHA_SIGNIN_AFTER_FAILURES = 0
    UserFactory(email="ann@example.com")
    assert sign_in(api_client, TEST_PASSWORD).json() == REQUIRED
    assert sign_in(api_client, TEST_PASSWORD, captcha="token").status_code == 200


# --- OpenAPI ------------------------------------------------------------------------------------------------


def test_the_schema_documents_captcha_on_the_three_endpoints():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]

    def request_properties(path: str) -> dict:
        ref = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        return components[ref.rsplit("/", 1)[-1]]["properties"]

    for path in ("/api/v1/auth/register", "/api/v1/auth/token", "/api/v1/auth/otp/request"):
        assert request_properties(path)["captcha"]["type"] == "string", path
        assert set(schema["paths"][path]["post"]["responses"]) >= {"400", "503"}, path
    assert "captcha" not in request_properties("/api/v1/me/phone")
    ok = schema["paths"]["/api/v1/auth/captcha"]["get"]["responses"]["200"]["content"]["application/json"]
    assert ok["schema"] == {"$ref": "#/components/schemas/CaptchaConfig"}
    assert set(components["CaptchaConfig"]["properties"]) == {"provider", "site_key", "required_for", "signin_required"}
