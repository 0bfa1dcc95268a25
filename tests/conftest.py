"""Shared fixtures and the service markers.

Tests marked ``postgres``, ``redis`` or ``celery_worker`` need real servers (``promtool``: Prometheus' rule tester,
Debian package ``prometheus``; ``browser``: Debian's ``chromium``, driven by Playwright). In the embedded default (no
``DATABASE_URL``/``REDIS_URL``) they are *deselected* and the header says how many; with
``REQUIRE_SERVICES=1`` (the full CI run) a missing service is an error instead, so nothing is silently left out.
"""

import os
import shutil

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from tests.browser.chromium import chromium_path

MARKERS = ("postgres", "redis", "celery_worker", "promtool", "browser")


def _service_available(marker: str) -> bool:
    engine = settings.DATABASES["default"]["ENGINE"]
    postgres = engine.endswith("postgresql")
    redis_ok = bool(settings.REDIS_URL)
    return {
        "postgres": postgres,
        "redis": redis_ok,
        "celery_worker": postgres and redis_ok,
        "promtool": shutil.which("promtool") is not None,
        "browser": chromium_path() is not None,
    }[marker]


def pytest_collection_modifyitems(config, items):
    required = os.environ.get("REQUIRE_SERVICES") == "1"
    keep, drop = [], []
    for item in items:
        missing = [m for m in MARKERS if item.get_closest_marker(m)]
        missing = [m for m in missing if not _service_available(m)]
        if missing and required:
            raise pytest.UsageError(f"REQUIRE_SERVICES=1 but {item.nodeid} needs {', '.join(missing)}")
        (drop if missing else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_report_header(config):
    db = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    return f"services: database={db} redis={'yes' if settings.REDIS_URL else 'no'}"


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _clear_sms_outbox():
    from commerce.notifications.sms import reset_outbox

    reset_outbox()
    yield
    reset_outbox()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def eager_celery():
    """Run Celery tasks in-process, as the embedded default does, even when a broker is configured."""
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


def login_verified(client, user):
    """Sign ``user`` into the Django test ``client`` with a session verified by a confirmed TOTP device,
    exactly as ``django_otp.login`` leaves it after a correct code (the admin requires that for staff)."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client.force_login(user)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
        user=user, name="test device", confirmed=True
    )
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


@pytest.fixture
def admin_login(client):
    """``admin_login(user)``: the test client signed in to the admin as ``user``, second factor passed."""
    return lambda user: login_verified(client, user)
