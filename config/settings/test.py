"""Settings for the test suite: base settings (embedded or full stack, by the environment), made fast."""

from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SMS_BACKEND = "commerce.notifications.sms.InMemorySmsBackend"
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
# Tests make many logins from one IP; lockout has its own tests that switch it on.
AXES_ENABLED = False

# One test database per test process, so parallel runs on one PostgreSQL server never collide.
if IS_POSTGRES:  # noqa: F405
    import os as _os

    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": f"test_{DATABASES['default']['NAME']}_{_os.getpid()}"  # noqa: F405
    }
