"""Production settings: everything from base, hardened. Refuses to start without its secrets.

``manage.py check --deploy`` reports no warnings with these settings (asserted in tests/test_settings.py).
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

DEBUG = False

for _required in ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL"):
    if not env(_required, default=""):
        raise ImproperlyConfigured(f"{_required} must be set in production.")

# The console backend would print one-time login codes into the logs.
if SMS_BACKEND.endswith("ConsoleSmsBackend") and not env.bool("SMS_CONSOLE_IN_PRODUCTION", default=False):  # noqa: F405
    raise ImproperlyConfigured(
        "SMS_BACKEND must be a real provider in production (or set SMS_CONSOLE_IN_PRODUCTION=true for a local trial)."
    )

# The test adapters answer without asking anyone: always_pass would switch the CAPTCHA off unnoticed.
if CAPTCHA_PROVIDER in ("always_pass", "always_fail"):  # noqa: F405
    raise ImproperlyConfigured(
        f"CAPTCHA_PROVIDER={CAPTCHA_PROVIDER} is for tests and development; use turnstile, hcaptcha, recaptcha "  # noqa: F405
        "or leave it empty."
    )

# The demo gateway marks orders paid without any money moving.
if env.bool("PAYMENTS_DEMO_ENABLED", default=False):
    raise ImproperlyConfigured("PAYMENTS_DEMO_ENABLED must not be set in production: the demo gateway takes no money.")
PAYMENTS_DEMO_ENABLED = False

SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")

# HTTPS everywhere; the proxy in front sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# Health probes and the Prometheus scraper come over plain HTTP from inside the cluster.
SECURE_REDIRECT_EXEMPT = [r"^api/v1/health", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"

METRICS_ALLOWED_CIDRS = env.list(
    "METRICS_ALLOWED_CIDRS",
    default=["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
)

STORAGES["staticfiles"]["BACKEND"] = "whitenoise.storage.CompressedManifestStaticFilesStorage"  # noqa: F405

LOG_FORMAT = env("LOG_FORMAT", default="json")
LOGGING["handlers"]["console"]["formatter"] = "json" if LOG_FORMAT == "json" else "text"  # noqa: F405
