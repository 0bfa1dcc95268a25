"""Demo data of the accounts app: the demo superuser.

The password comes from ``DEMO_ADMIN_PASSWORD``, or is generated and printed once when the user is created.
An existing user is left alone unless ``DEMO_ADMIN_PASSWORD`` is set and differs from the stored password.
"""

import secrets

from django.conf import settings

from .models import User


def seed(*, stdout) -> None:
    email = settings.DEMO_ADMIN_EMAIL
    wanted = settings.DEMO_ADMIN_PASSWORD
    user = User.objects.filter(email=User.objects.normalize_email(email)).first()
    if user is None:
        password = wanted or secrets.token_urlsafe(12)
        User.objects.create_superuser(email=email, password=password, full_name="Demo Admin")
        stdout.write(f"Demo admin created: {email} / {password}")
        return
    if wanted and not user.check_password(wanted):
        user.set_password(wanted)
        user.save(update_fields=["password"])
        stdout.write(f"Demo admin {email}: password reset from DEMO_ADMIN_PASSWORD.")
        return
    stdout.write(f"Demo admin exists: {email} (password unchanged; set DEMO_ADMIN_PASSWORD to reset it).")
