"""Demo data of the accounts app: the demo superuser and its authenticator (TOTP) device.

The password comes from ``DEMO_ADMIN_PASSWORD``, or is generated and printed once when the user is created.
An existing user is left alone unless ``DEMO_ADMIN_PASSWORD`` is set and differs from the stored password.

The admin requires TOTP, so the demo admin gets a confirmed device; its secret and ``otpauth://`` URI are
printed on every run (add it to an authenticator app, or get a current code with
``python -c "import pyotp; print(pyotp.TOTP('<secret>').now())"``). A second run creates nothing new.
"""

import secrets

from django.conf import settings
from django_otp.plugins.otp_totp.models import TOTPDevice

from .models import User
from .services.two_factor import totp_secret

DEMO_DEVICE_NAME = "Demo authenticator"


def seed(*, stdout) -> None:
    user = _seed_user(stdout=stdout)
    _seed_totp(user=user, stdout=stdout)


def _seed_user(*, stdout) -> User:
    email = settings.DEMO_ADMIN_EMAIL
    wanted = settings.DEMO_ADMIN_PASSWORD
    user = User.objects.filter(email=User.objects.normalize_email(email)).first()
    if user is None:
        password = wanted or secrets.token_urlsafe(12)
        user = User.objects.create_superuser(email=email, password=password, full_name="Demo Admin")
        stdout.write(f"Demo admin created: {email} / {password}")
        return user
    if wanted and not user.check_password(wanted):
        user.set_password(wanted)
        user.save(update_fields=["password"])
        stdout.write(f"Demo admin {email}: password reset from DEMO_ADMIN_PASSWORD.")
        return user
    stdout.write(f"Demo admin exists: {email} (password unchanged; set DEMO_ADMIN_PASSWORD to reset it).")
    return user


def _seed_totp(*, user: User, stdout) -> None:
    device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEMO_DEVICE_NAME, confirmed=True)
        stdout.write(f"Demo admin TOTP device created for {user.email}.")
    stdout.write(f"Demo admin TOTP secret: {totp_secret(device)}")
    stdout.write(f"Demo admin TOTP URI: {device.config_url}")
