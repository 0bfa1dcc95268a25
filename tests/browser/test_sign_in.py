"""Staff sign in to the back office with email, password and the code of their authenticator app."""

import datetime as dt

import pyotp
import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.services.two_factor import totp_secret
from tests.factories import StaffFactory

from .conftest import fill_sign_in, submit, totp_code

pytestmark = [pytest.mark.browser]


def test_staff_sign_in_with_a_totp_code_lands_on_the_admin_index(page, make_staff, live_server):
    user, device = make_staff("ops@example.com", superuser=True)
    assert totp_code(device) == "446612"  # the fixed key at the frozen instant: the clock is not the wall clock

    fill_sign_in(page, email=user.email, code=totp_code(device))

    assert page.url == f"{live_server.url}/admin/"
    assert page.locator("input[name=otp_token]").count() == 0
    # The navigation to the catalog is there: this is the signed-in index, not an error page.
    assert page.locator("a[href='/admin/catalog/product/']").first.is_visible()


def test_a_wrong_code_shows_the_error_and_stays_on_the_sign_in_page(page, make_staff, live_server, frozen_clock):
    user, device = make_staff("ops@example.com", superuser=True)
    wrong = "000000"
    assert wrong != totp_code(device)

    fill_sign_in(page, email=user.email, code=wrong)

    assert page.url == f"{live_server.url}/admin/login/"
    assert page.get_by_text("The authenticator code is wrong or was already used.").is_visible()
    # Right after a failure even the right code is refused (django-otp's throttle: 1 s after the first failure)...
    fill_sign_in(page, email=user.email, code=totp_code(device))
    assert page.url == f"{live_server.url}/admin/login/"
    # ...and once the throttle has passed (same TOTP step), it signs in.
    frozen_clock.shift(dt.timedelta(seconds=2))
    fill_sign_in(page, email=user.email, code=totp_code(device))
    assert page.url == f"{live_server.url}/admin/"


def test_staff_without_an_authenticator_set_it_up_after_the_password(page, browser_db, live_server):
    user = StaffFactory(email="new.staff@example.com", is_superuser=True)

    fill_sign_in(page, email=user.email, code="")

    assert page.url == f"{live_server.url}/admin/otp/setup/"
    assert page.get_by_role("img", name="QR code for your authenticator app").is_visible()
    secret = page.locator("#otp-secret").inner_text().strip()
    page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
    submit(page, page.get_by_role("button", name="Turn on two-factor authentication"))

    assert page.get_by_text("Two-factor authentication is on").first.is_visible()
    device = TOTPDevice.objects.get(user=user)
    assert device.confirmed is True
    assert totp_secret(device) == secret
    # The session is verified now: the admin opens without another sign-in.
    page.goto("/admin/")
    assert page.url == f"{live_server.url}/admin/"
    assert page.locator("a[href='/admin/catalog/product/']").first.is_visible()
