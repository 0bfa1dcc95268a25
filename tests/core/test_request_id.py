import json
import logging
import subprocess
import sys

import pytest

from commerce.core.logging import RequestIdFilter
from commerce.core.request_id import sanitize_request_id

pytestmark = [pytest.mark.urls("tests.core.urls"), pytest.mark.django_db]


def test_sane_request_id_is_kept_and_visible_inside_the_request(api_client):
    response = api_client.get("/api/v1/_test/request-id", HTTP_X_REQUEST_ID="abc-123.DEF:9")
    assert response["X-Request-ID"] == "abc-123.DEF:9"
    assert response.json() == {"request_id": "abc-123.DEF:9"}


@pytest.mark.parametrize("bad", ["has space", "x" * 129, "semi;colon", "ünï", "a\nb"])
def test_insane_request_id_is_replaced(api_client, bad):
    response = api_client.get("/api/v1/_test/request-id", HTTP_X_REQUEST_ID=bad)
    generated = response["X-Request-ID"]
    assert generated != bad
    assert len(generated) == 32
    assert response.json() == {"request_id": generated}


def test_missing_request_id_is_generated_per_request(api_client):
    first = api_client.get("/api/v1/health")["X-Request-ID"]
    second = api_client.get("/api/v1/health")["X-Request-ID"]
    assert len(first) == 32
    assert first != second


def test_sanitize_keeps_good_ids():
    assert sanitize_request_id("req_1") == "req_1"


def test_log_records_outside_a_request_carry_a_dash():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    assert RequestIdFilter().filter(record) is True
    assert record.request_id == "-"


def test_json_log_format_carries_the_request_id(tmp_path):
    script = (
        "import django, logging\n"
        "django.setup()\n"
        "from commerce.core.request_id import set_request_id\n"
        "set_request_id('rid-42')\n"
        "logging.getLogger('commerce.test').warning('hello %s', 'world')\n"
    )
    env = {"DJANGO_SETTINGS_MODULE": "config.settings.base", "LOG_FORMAT": "json", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["message"] == "hello world"
    assert line["request_id"] == "rid-42"
    assert line["level"] == "WARNING"
    assert line["logger"] == "commerce.test"
