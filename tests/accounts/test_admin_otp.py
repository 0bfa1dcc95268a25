"""The admin requires TOTP: real sign-ins through the test client, setup for staff without a device."""

import re

import pyotp
import pytest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AuditEntry, SmsDevice
from commerce.notifications import sms
from tests.factories import TEST_PASSWORD, UserFactory

from .helpers import PHONE, last_code, totp_code, wrong

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
SETUP = "/admin/otp/setup/"


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    return time_machine


def admin_login(client, email, password=TEST_PASSWORD, otp=""):
    return client.post(LOGIN, {"username": email, "password": password, "otp_token": otp, "next": "/admin/"})


def test_staff_sign_in_with_password_and_totp(client, staff_with_totp, frozen):
    user, device = staff_with_totp
    response = admin_login(client, "STAFF@example.com", otp=totp_code(device))
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/accounts/user/").status_code == 200
    entry = AuditEntry.objects.get(action="staff.login")
    assert (entry.actor, entry.after) == (user, {"channel": "admin", "otp_verified": True})
    assert entry.ip_address == "127.0.0.1"


def test_the_login_page_asks_for_the_authenticator_code(client):
    page = client.get(LOGIN)
    assert page.status_code == 200
    assert 'name="otp_token"' in page.content.decode()


def test_staff_with_totp_cannot_sign_in_without_the_code(client, staff_with_totp):
    response = admin_login(client, "staff@example.com")
    assert response.status_code == 200
    assert "Enter the code from your authenticator app." in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/")["Location"] == "/admin/login/?next=/admin/"


def test_a_wrong_code_is_refused_and_audited(client, staff_with_totp):
    user, device = staff_with_totp
    response = admin_login(client, "staff@example.com", otp=wrong(totp_code(device)))
    assert response.status_code == 200
    assert "The authenticator code is wrong or was already used." in response.content.decode()
    assert "_auth_user_id" not in client.session
    failed = AuditEntry.objects.get(action="staff.login_failed")
    assert (failed.target_id, failed.actor_label, failed.after) == (
        str(user.pk),
        "staff@example.com",
        {"channel": "admin", "reason": "otp_invalid"},
    )


def test_a_wrong_password_is_audited_for_the_admin(client, staff_with_totp):
    response = admin_login(client, "staff@example.com", password="wrong", otp="123456")
    assert response.status_code == 200
    failed = AuditEntry.objects.get(action="staff.login_failed")
    assert failed.actor is None
    assert failed.after == {"channel": "admin", "reason": "bad_credentials"}


def test_a_backup_code_signs_in_to_the_admin_once(client, staff_with_totp):
    from accounts.services.two_factor import backup_codes_generate

    user, _ = staff_with_totp
    code = backup_codes_generate(user=user)[0]
    assert admin_login(client, "staff@example.com", otp=code).status_code == 302
    client.logout()
    again = admin_login(client, "staff@example.com", otp=code)
    assert again.status_code == 200
    assert "_auth_user_id" not in client.session


def test_non_staff_cannot_sign_in_to_the_admin(client):
    UserFactory(email="shopper@example.com")
    response = admin_login(client, "shopper@example.com")
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_a_password_session_is_not_enough(client, staff_with_totp):
    user, _ = staff_with_totp
    client.force_login(user)  # signed in without OTP verification
    assert client.get("/admin/").status_code == 302
    assert client.get("/admin/accounts/user/")["Location"].startswith("/admin/login/")


def test_staff_without_a_device_is_led_to_set_one_up(client, frozen):
    user = UserFactory(email="new.staff@example.com", is_staff=True, is_superuser=True)

    signed_in = admin_login(client, "new.staff@example.com")
    assert signed_in.status_code == 302
    assert client.get("/admin/")["Location"] == SETUP
    assert client.get("/admin/accounts/user/")["Location"] == SETUP
    assert client.get(LOGIN)["Location"] == SETUP

    page = client.get(SETUP)
    assert page.status_code == 200
    html = page.content.decode()
    secret = re.search(r'<code id="otp-secret">([A-Z2-7]+)</code>', html).group(1)
    assert 'src="data:image/svg+xml;base64,' in html
    assert client.get(SETUP).content.decode().count(secret) == 1  # reloading keeps the same secret
    device = TOTPDevice.objects.get(user=user)
    assert device.confirmed is False

    refused = client.post(SETUP, {"otp_token": wrong(pyotp.TOTP(secret).now())})
    assert refused.status_code == 200
    assert "The code is wrong" in refused.content.decode()
    assert client.get("/admin/")["Location"] == SETUP

    frozen.shift(5)
    done = client.post(SETUP, {"otp_token": pyotp.TOTP(secret).now()})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", done.content.decode())
    assert len(codes) == 10
    device.refresh_from_db()
    assert device.confirmed is True
    assert client.get("/admin/").status_code == 200
    assert AuditEntry.objects.filter(action="2fa.totp_enabled", actor=user).count() == 1


def test_setup_page_is_only_for_signed_in_staff_without_a_device(client, staff_with_totp):
    assert client.get(SETUP)["Location"] == LOGIN
    user, _ = staff_with_totp
    client.force_login(user)
    assert client.get(SETUP)["Location"] == LOGIN  # has a device: sign in with it


def test_staff_without_a_device_can_sign_out(client):
    UserFactory(email="new.staff@example.com", is_staff=True)
    admin_login(client, "new.staff@example.com")
    response = client.post("/admin/logout/")
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_admin_sign_in_locks_out_after_repeated_failures(client, staff_with_totp, settings, frozen):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 3
    _, device = staff_with_totp
    for _ in range(2):
        assert admin_login(client, "staff@example.com", password="wrong").status_code == 200
    locked = admin_login(client, "staff@example.com", password="wrong")
    assert locked.status_code == 429
    assert locked["Retry-After"] == "900"
    assert "Too many failed sign-in attempts." in locked.content.decode()

    right = admin_login(client, "staff@example.com", otp=totp_code(device))
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session

    frozen.shift(15 * 60 + 1)
    assert admin_login(client, "staff@example.com", otp=totp_code(device)).status_code == 302


def test_staff_whose_only_factor_is_sms_must_pass_it_before_setting_up_the_app(
    client, django_capture_on_commit_callbacks
):
    user = UserFactory(email="sms.staff@example.com", is_staff=True, phone=PHONE, phone_verified=True)
    SmsDevice.objects.create(user=user, name="SMS", phone=PHONE, confirmed=True)

    with django_capture_on_commit_callbacks(execute=True):
        challenge = admin_login(client, "sms.staff@example.com")
    assert challenge.status_code == 200
    assert "We sent a code by SMS." in challenge.content.decode()
    assert [m.to for m in sms.outbox] == [PHONE]
    assert "_auth_user_id" not in client.session
    assert client.get(SETUP)["Location"] == LOGIN

    bad = admin_login(client, "sms.staff@example.com", otp=wrong(last_code(PHONE)))
    assert bad.status_code == 200
    assert "_auth_user_id" not in client.session

    ok = admin_login(client, "sms.staff@example.com", otp=last_code(PHONE))
    assert ok.status_code == 302
    # Signed in, but SMS does not open the admin: the app setup comes next.
    assert client.get("/admin/")["Location"] == SETUP
    assert client.get(SETUP).status_code == 200
