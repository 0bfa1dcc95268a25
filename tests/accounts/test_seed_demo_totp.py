import re
from io import StringIO

import pyotp
import pytest
from django.core.management import call_command
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User

pytestmark = pytest.mark.django_db


def seed(settings) -> str:
    settings.DEMO_ADMIN_PASSWORD = "demo-pass-123!"
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def printed_secret(output: str) -> str:
    return re.search(r"^Demo admin TOTP secret: ([A-Z2-7]+)$", output, re.M).group(1)


def test_the_demo_admin_gets_a_confirmed_totp_device_and_its_secret_is_printed(settings):
    output = seed(settings)
    admin = User.objects.get(email="admin@example.com")
    device = TOTPDevice.objects.get(user=admin)
    assert device.confirmed is True
    secret = printed_secret(output)
    assert pyotp.TOTP(secret).now() == pyotp.TOTP(secret).now()
    assert f"Demo admin TOTP URI: otpauth://totp/Commerce%3Aadmin%40example.com?secret={secret}" in output


def test_a_second_run_creates_nothing_and_prints_the_same_secret(settings):
    first = printed_secret(seed(settings))
    second_output = seed(settings)
    assert TOTPDevice.objects.count() == 1
    assert printed_secret(second_output) == first
    assert "TOTP device created" not in second_output


def test_the_printed_secret_signs_in_to_the_admin(settings, client):
    secret = printed_secret(seed(settings))
    response = client.post(
        "/admin/login/",
        {"username": "admin@example.com", "password": "demo-pass-123!", "otp_token": pyotp.TOTP(secret).now()},
    )
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200
