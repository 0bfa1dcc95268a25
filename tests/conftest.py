"""Shared fixtures and the service markers.

Tests marked ``postgres``, ``redis`` or ``celery_worker`` need real servers. In the embedded default (no
``DATABASE_URL``/``REDIS_URL``) they are *deselected* and the header says how many; with
``REQUIRE_SERVICES=1`` (the full CI run) a missing service is an error instead, so nothing is silently left out.
"""

import os

import pytest
from django.conf import settings
from rest_framework.test import APIClient


def _service_available(marker: str) -> bool:
    engine = settings.DATABASES["default"]["ENGINE"]
    postgres = engine.endswith("postgresql")
    redis_ok = bool(settings.REDIS_URL)
    return {"postgres": postgres, "redis": redis_ok, "celery_worker": postgres and redis_ok}[marker]


def pytest_collection_modifyitems(config, items):
    required = os.environ.get("REQUIRE_SERVICES") == "1"
    keep, drop = [], []
    for item in items:
        missing = [m for m in ("postgres", "redis", "celery_worker") if item.get_closest_marker(m)]
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
