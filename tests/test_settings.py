"""Both configuration modes, the production guard rails and Sentry's scrubbing, checked in fresh processes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from config.sentry import scrub_event

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import json, django
from django.conf import settings
django.setup()
import sentry_sdk
print(json.dumps({
    "engine": settings.DATABASES["default"]["ENGINE"],
    "db_name": str(settings.DATABASES["default"]["NAME"]),
    "conn_health_checks": settings.DATABASES["default"]["CONN_HEALTH_CHECKS"],
    "conn_max_age": settings.DATABASES["default"]["CONN_MAX_AGE"],
    "cache": settings.CACHES["default"]["BACKEND"],
    "eager": settings.CELERY_TASK_ALWAYS_EAGER,
    "broker": settings.CELERY_BROKER_URL,
    "email": settings.EMAIL_BACKEND,
    "sms": settings.SMS_BACKEND,
    "debug": settings.DEBUG,
    "secret_dev": settings.SECRET_KEY.startswith("django-insecure"),
    "sentry": sentry_sdk.get_client().is_active(),
}))
"""
PROD_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "p" * 20 + "-Very-Long-And-Random-Production-Secret-Key-0123456789",
    "DJANGO_ALLOWED_HOSTS": "shop.example.com",
    "DATABASE_URL": "postgres://shop:pw@db.internal:5432/shop",
    "SMS_BACKEND": "commerce.notifications.sms.TwilioSmsBackend",
}


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    base = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "config.settings.base"}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


def probe(env: dict[str, str]) -> dict:
    result = run(env, "-c", PROBE)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_embedded_default_with_nothing_set():
    values = probe({})
    assert values["engine"] == "django_prometheus.db.backends.sqlite3"
    assert values["db_name"].endswith("db.sqlite3")
    assert values["cache"] == "django_prometheus.cache.backends.locmem.LocMemCache"
    assert values["eager"] is True
    assert values["broker"] == "memory://"
    assert values["email"] == "django.core.mail.backends.console.EmailBackend"
    assert values["sms"] == "commerce.notifications.sms.ConsoleSmsBackend"
    assert values["debug"] is True
    assert values["secret_dev"] is True
    assert values["sentry"] is False
    assert values["conn_health_checks"] is True


def test_full_stack_from_environment():
    values = probe(
        {
            "DATABASE_URL": "postgres://u:p@127.0.0.1:5432/shop",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.com:587",
        }
    )
    assert values["engine"] == "django_prometheus.db.backends.postgresql"
    assert values["db_name"] == "shop"
    assert values["cache"] == "commerce.core.redis_guard.DegradingRedisCache"
    assert values["eager"] is False
    assert values["broker"] == "redis://127.0.0.1:6379/0"
    assert values["email"] == "django.core.mail.backends.smtp.EmailBackend"
    assert values["conn_max_age"] == 60


def test_sentry_is_initialised_only_with_a_dsn():
    assert probe({"SENTRY_DSN": "https://public@127.0.0.1/1"})["sentry"] is True


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL"])
def test_production_refuses_to_start_without_required_settings(missing):
    env = {key: value for key, value in PROD_ENV.items() if key != missing}
    result = run(env, "-c", PROBE)
    assert result.returncode != 0
    assert f"{missing} must be set in production." in result.stderr


def test_production_refuses_the_console_sms_backend():
    result = run({**PROD_ENV, "SMS_BACKEND": "commerce.notifications.sms.ConsoleSmsBackend"}, "-c", PROBE)
    assert result.returncode != 0
    assert "SMS_BACKEND must be a real provider in production" in result.stderr


def test_production_refuses_the_demo_gateway():
    result = run({**PROD_ENV, "PAYMENTS_DEMO_ENABLED": "true"}, "-c", PROBE)
    assert result.returncode != 0
    assert "PAYMENTS_DEMO_ENABLED must not be set in production" in result.stderr


def test_production_switches_the_demo_gateway_off():
    probe_demo = "import django, json; django.setup(); from django.conf import settings; "
    probe_demo += "from payments.gateways.registry import enabled_providers; "
    probe_demo += "print(json.dumps([settings.PAYMENTS_DEMO_ENABLED, enabled_providers()]))"
    result = run(PROD_ENV, "-c", probe_demo)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [False, []]


def test_check_deploy_is_clean_in_production():
    result = run(PROD_ENV, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_logs_are_json_and_debug_off():
    values = probe(PROD_ENV)
    assert values["debug"] is False
    assert values["secret_dev"] is False


def test_sentry_scrubs_auth_and_payment_bodies():
    event = {
        "request": {
            "url": "https://shop.example.com/api/v1/auth/token",
            "data": {"email": "a@b.co", "password": "secret"},
            "cookies": {"sessionid": "abc"},
            "headers": {"Authorization": "Bearer xyz", "User-Agent": "ua"},
        }
    }
    scrubbed = scrub_event(event)
    assert scrubbed["request"]["data"] == "[Filtered]"
    assert "cookies" not in scrubbed["request"]
    assert scrubbed["request"]["headers"] == {"Authorization": "[Filtered]", "User-Agent": "ua"}


@pytest.mark.parametrize(
    ("url", "filtered"),
    [
        ("https://x/api/v1/orders/A1/payments", True),
        ("https://x/api/v1/webhooks/stripe", True),
        ("https://x/api/v1/payments/razorpay/verify", True),
        ("https://x/api/v1/products", False),
        ("https://x/api/v1/orders/A1", False),
    ],
)
def test_sentry_scrubbing_is_by_path(url, filtered):
    event = scrub_event({"request": {"url": url, "data": {"q": "shoes"}}})
    assert (event["request"]["data"] == "[Filtered]") is filtered
