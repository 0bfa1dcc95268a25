"""Settings read from the environment (django-environ).

With nothing set this is the *embedded default*: SQLite, local-memory cache, Celery tasks run eagerly,
console email and SMS, DEBUG on and a development secret key. Setting ``DATABASE_URL`` and ``REDIS_URL``
switches to the *full stack*: PostgreSQL, Redis cache/throttles and a Redis Celery broker with real workers.
Every variable is documented in ``.env.example``.
"""

from pathlib import Path
from typing import Any

import environ
from celery.schedules import crontab
from csp import constants as csp
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
if env.bool("DJANGO_READ_DOT_ENV_FILE", default=False):
    env.read_env(str(BASE_DIR / ".env"))

# --- Core -----------------------------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=True)
# Development-only key: production.py refuses to start without DJANGO_SECRET_KEY.
SECRET_KEY = env("DJANGO_SECRET_KEY", default="django-insecure-dev-only-key-change-me-0123456789abcdef")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
RELEASE = env("RELEASE", default="dev")
ENVIRONMENT = env("ENVIRONMENT", default="development")

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

DJANGO_APPS = [
    # The admin theme: before django.contrib.admin so its templates win. BasicAppConfig, because the default
    # config replaces ``admin.site`` with its own site; accounts.apps makes the one site an AccountsAdminSite
    # (an OTP and unfold site at once).
    "unfold.apps.BasicAppConfig",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
]
THIRD_PARTY_APPS = [
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    "corsheaders",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
]
# Ordered from the lowest layer to the highest (docs/architecture.md); seed_demo follows this order.
LOCAL_APPS = [
    "commerce.core",
    "commerce.notifications",
    "accounts",
    "commerce.catalog",
    "commerce.offers",
    "commerce.orders",
    "payments",
    "cashback",
    "loyalty",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "commerce.core.middleware.RequestIdMiddleware",
    # Before anything that can answer early (413, CommonMiddleware), so those answers carry CORS headers too.
    "corsheaders.middleware.CorsMiddleware",
    "commerce.core.middleware.ApiBodyLimitMiddleware",
    "commerce.core.middleware.MetricsAccessMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # AxesMiddleware must stay last but one: it turns lockouts into responses.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------------
DATABASES: dict[str, dict[str, Any]] = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Metrics per database: wrap the engine in django-prometheus' instrumented twin.
DATABASES["default"]["ENGINE"] = (
    DATABASES["default"]["ENGINE"]
    .replace("django.db.backends.", "django_prometheus.db.backends.")
    .replace("postgresql_psycopg2", "postgresql")
)
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")

# --- Cache, Redis ---------------------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
# When Redis is down the site degrades instead of failing (commerce/core/redis_guard.py): calls time out after
# REDIS_SOCKET_TIMEOUT seconds, and after a failure Redis is skipped for REDIS_CIRCUIT_SECONDS.
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=0.3)
REDIS_CIRCUIT_SECONDS = env.float("REDIS_CIRCUIT_SECONDS", default=5.0)
if REDIS_URL:
    _REDIS_CACHE = {
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="commerce"),
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "CONNECTION_POOL_CLASS": "commerce.core.redis_guard.GuardedConnectionPool",
            "SOCKET_CONNECT_TIMEOUT": REDIS_SOCKET_TIMEOUT,
            "SOCKET_TIMEOUT": REDIS_SOCKET_TIMEOUT,
        },
    }
    CACHES = {
        # Treats an unreachable Redis as a miss (reads) or a no-op (writes): cached reads fall through to the DB.
        "default": {"BACKEND": "commerce.core.redis_guard.DegradingRedisCache", **_REDIS_CACHE},
        # The same keys, but errors raise: throttles and health checks decide what an outage means for them.
        "strict": {"BACKEND": "django_prometheus.cache.backends.redis.RedisCache", **_REDIS_CACHE},
    }
else:
    # Both aliases share one in-process store (same LOCATION).
    CACHES = {
        alias: {"BACKEND": "django_prometheus.cache.backends.locmem.LocMemCache", "LOCATION": "commerce-default"}
        for alias in ("default", "strict")
    }

# --- Auth -----------------------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"

# django-axes: slow down then lock out repeated password failures, per account and per IP.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)  # hours
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_USERNAME_FORM_FIELD = "email"
AXES_VERBOSE = False
# Locked-out clients get 429 + Retry-After: the API error shape under /api/, a page in the admin.
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
# The client address as the throttles and the audit log see it (X-Forwarded-For behind NUM_PROXIES proxies),
# None when unknown (axes stores it in an IP column). With this set, axes' AXES_IPWARE_* settings are unused.
AXES_CLIENT_IP_CALLABLE = "commerce.core.client_ip.client_ip_or_none"
# django-otp: the issuer name authenticator apps show; TOTP secrets are not shown in the admin.
OTP_TOTP_ISSUER = "Commerce"
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# CAPTCHA on sign-up, and on sign-in after repeated failures from one client (accounts/captcha/). Off while
# CAPTCHA_PROVIDER is empty; a real provider without its keys refuses to start rather than run unprotected.
CAPTCHA_PROVIDER = env("CAPTCHA_PROVIDER", default="")  # turnstile, hcaptcha, recaptcha; always_pass/_fail: tests
CAPTCHA_SECRET_KEY = env("CAPTCHA_SECRET_KEY", default="")
CAPTCHA_SITE_KEY = env("CAPTCHA_SITE_KEY", default="")
CAPTCHA_RECAPTCHA_MIN_SCORE = env.float("CAPTCHA_RECAPTCHA_MIN_SCORE", default=0.5)
CAPTCHA_SIGNIN_AFTER_FAILURES = env.int("CAPTCHA_SIGNIN_AFTER_FAILURES", default=3)
CAPTCHA_SIGNIN_WINDOW_MINUTES = env.int("CAPTCHA_SIGNIN_WINDOW_MINUTES", default=15)
CAPTCHA_TIMEOUT_SECONDS = env.float("CAPTCHA_TIMEOUT_SECONDS", default=3.0)
if CAPTCHA_PROVIDER not in ("", "turnstile", "hcaptcha", "recaptcha", "always_pass", "always_fail"):
    raise environ.ImproperlyConfigured(f"Unknown CAPTCHA_PROVIDER {CAPTCHA_PROVIDER!r}.")
if CAPTCHA_PROVIDER in ("turnstile", "hcaptcha", "recaptcha") and not (CAPTCHA_SECRET_KEY and CAPTCHA_SITE_KEY):
    raise environ.ImproperlyConfigured("CAPTCHA_PROVIDER needs CAPTCHA_SECRET_KEY and CAPTCHA_SITE_KEY.")

# --- Back office (the admin, themed by django-unfold) -------------------------------------------------------
# The name in the admin's header, sign-in page and browser tab.
ADMIN_SITE_NAME = env("ADMIN_SITE_NAME", default="Commerce back office")
# The sidebar, grouped by job: (group title, [(label, Material Symbols icon, "app_label.ModelName"), ...]).
# commerce/core/admin_navigation.py shows an item only to users whose ModelAdmin lets them view that model and
# leaves out groups with nothing to show, so a group may wait here for its first item.
ADMIN_NAVIGATION: list[tuple[str, list[tuple[str, str, str]]]] = [
    (
        "Sales",
        [
            ("Orders", "receipt_long", "orders.Order"),
            ("Sales overview", "monitoring", "orders.SalesOverview"),
            ("Invoices", "request_quote", "orders.Invoice"),
            ("Shipping", "local_shipping", "orders.MerchantShipping"),
            ("Tax rates", "percent", "orders.CategoryTaxRate"),
        ],
    ),
    (
        "Catalog",
        [
            ("Products", "inventory_2", "catalog.Product"),
            ("Variants", "style", "catalog.ProductVariant"),
            ("Categories", "category", "catalog.Category"),
            ("Merchants", "storefront", "catalog.Merchant"),
            ("Memberships", "badge", "catalog.MerchantMembership"),
            ("Saved searches", "manage_search", "catalog.SavedSearch"),
        ],
    ),
    (
        "Offers",
        [
            ("Offers", "local_offer", "offers.Offer"),
            ("Redemptions", "redeem", "offers.OfferRedemption"),
            ("Clicks", "ads_click", "offers.OfferClick"),
            ("Daily stats", "query_stats", "offers.OfferDailyStats"),
        ],
    ),
    ("Customers", [("Users", "person", "accounts.User")]),
    (
        "Finance",
        [
            ("Payments", "payments", "payments.Payment"),
            ("Refunds", "currency_exchange", "payments.Refund"),
            ("Webhook events", "webhook", "payments.WebhookEvent"),
        ],
    ),
    (
        "Cashback",
        [
            ("Cashback review", "fact_check", "cashback.CashbackEntry"),
            ("Cashback history", "history", "cashback.CashbackEntryEvent"),
            ("Risk assessments", "shield", "cashback.RiskAssessment"),
            ("Withdrawals", "outbox", "cashback.Withdrawal"),
            ("Wallets", "account_balance_wallet", "cashback.Wallet"),
            ("Wallet ledger", "receipt_long", "cashback.WalletEntry"),
            ("Conversions", "conversion_path", "cashback.Conversion"),
            ("Conversion reports", "inbox", "cashback.ConversionReport"),
            ("Cashback terms", "tune", "cashback.MerchantCashback"),
        ],
    ),
    (
        "Loyalty",
        [
            ("Members", "loyalty", "loyalty.PointsAccount"),
            ("Points ledger", "receipt_long", "loyalty.PointsEntry"),
            ("Tier changes", "trending_up", "loyalty.TierChange"),
            ("Checkout holds", "lock_clock", "loyalty.PointsHold"),
            ("Rewards redeemed", "redeem", "loyalty.RewardRedemption"),
            ("Achievements earned", "military_tech", "loyalty.AchievementAward"),
            ("Referrals", "group_add", "loyalty.Referral"),
            ("Programme settings", "settings", "loyalty.Programme"),
            ("Earning rules", "rule", "loyalty.EarningRule"),
            ("Campaigns", "campaign", "loyalty.Campaign"),
            ("Tiers", "workspace_premium", "loyalty.Tier"),
            ("Rewards", "card_giftcard", "loyalty.Reward"),
            ("Achievements", "emoji_events", "loyalty.Achievement"),
        ],
    ),
    (
        "System",
        [
            ("Notifications", "mail", "notifications.Notification"),
            ("Audit log", "history", "accounts.AuditEntry"),
            ("Roles", "admin_panel_settings", "auth.Group"),
            ("SMS devices", "sms", "accounts.SmsDevice"),
            ("Authenticator apps", "phonelink_lock", "otp_totp.TOTPDevice"),
            ("Backup codes", "password", "otp_static.StaticDevice"),
            ("Issued tokens", "key", "token_blacklist.OutstandingToken"),
            ("Revoked tokens", "key_off", "token_blacklist.BlacklistedToken"),
            ("Lockouts", "lock_person", "axes.AccessAttempt"),
            ("Sign-in log", "login", "axes.AccessLog"),
            ("Sign-in failures", "report", "axes.AccessFailureLog"),
        ],
    ),
]
# django-unfold. Every asset comes from the package's static files (no CDN); the admin's CSP is in
# accounts/admin_csp.py. accounts.apps copies ADMIN_SITE_NAME into admin.site.site_header/site_title too.
UNFOLD: dict[str, Any] = {
    "SITE_TITLE": "commerce.core.admin_navigation.admin_site_name",
    "SITE_HEADER": "commerce.core.admin_navigation.admin_site_name",
    "SITE_SYMBOL": "storefront",
    # An empty icon, as on the home page: no /favicon.ico request (and 404) on every admin page.
    "SITE_FAVICONS": [{"rel": "icon", "href": "data:,"}],
    "SITE_URL": "/",
    "SHOW_HISTORY": True,
    "SHOW_VIEW_ON_SITE": True,
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": False,
        "navigation": "commerce.core.admin_navigation.sidebar_navigation",
    },
    # The admin index is the dashboard: cards registered by the apps (commerce/core/dashboard.py).
    "DASHBOARD_CALLBACK": "commerce.core.dashboard.dashboard_callback",
}

# --- Static and media -----------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "/media/"
MEDIA_ROOT = env("MEDIA_ROOT", default=str(BASE_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env("STATICFILES_STORAGE", default="django.contrib.staticfiles.storage.StaticFilesStorage")
    },
}

# --- Backups (manage.py backup / restore / backup_verify / migrate_safe; commerce/core/backups/) -----------
# Retention: 0 turns a rule off. Backups hold personal data and password hashes: files are private to the
# process user, and a bucket must not be public.
BACKUP_DIR = env("BACKUP_DIR", default=str(BASE_DIR / "backups"))
BACKUP_KEEP = env.int("BACKUP_KEEP", default=14)
BACKUP_MAX_AGE_DAYS = env.int("BACKUP_MAX_AGE_DAYS", default=0)
BACKUP_S3_BUCKET = env("BACKUP_S3_BUCKET", default="")
if BACKUP_S3_BUCKET:
    # Empty credentials fall back to boto3's own chain (instance role, AWS_* variables, ~/.aws).
    STORAGES["backups"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": BACKUP_S3_BUCKET,
            "location": env("BACKUP_S3_PREFIX", default="backups"),
            "endpoint_url": env("BACKUP_S3_ENDPOINT_URL", default="") or None,
            "region_name": env("BACKUP_S3_REGION", default="") or None,
            "access_key": env("BACKUP_S3_ACCESS_KEY_ID", default="") or None,
            "secret_key": env("BACKUP_S3_SECRET_ACCESS_KEY", default="") or None,
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
else:
    STORAGES["backups"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": BACKUP_DIR, "file_permissions_mode": 0o600, "directory_permissions_mode": 0o700},
    }

# --- Metrics --------------------------------------------------------------------------------------------
# Who may read /metrics; empty means anyone (the embedded default). Production defaults to private ranges.
METRICS_ALLOWED_CIDRS = env.list("METRICS_ALLOWED_CIDRS", default=[])

# --- Money ----------------------------------------------------------------------------------------------
DEFAULT_CURRENCY = env("DEFAULT_CURRENCY", default="INR")

# --- Email and SMS --------------------------------------------------------------------------------------
EMAIL_URL = env("EMAIL_URL", default="")
if EMAIL_URL:
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Commerce <no-reply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
SMS_BACKEND = env("SMS_BACKEND", default="commerce.notifications.sms.ConsoleSmsBackend")
TWILIO_ACCOUNT_SID = env("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env("TWILIO_FROM_NUMBER", default="")

# --- REST API -------------------------------------------------------------------------------------------
# Bodies larger than this are refused with 413 before they are read.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=1_048_576)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES
# JSON bodies nested deeper than this (arrays and objects) are refused with 400 too_deep before parsing.
API_MAX_JSON_DEPTH = env.int("API_MAX_JSON_DEPTH", default=32)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework_simplejwt.authentication.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # The only parser: JSON with depth, number and unicode limits (commerce.core.api.parsers).
    "DEFAULT_PARSER_CLASSES": ["commerce.core.api.parsers.SafeJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "commerce.core.api.pagination.StandardPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # drf-spectacular's AutoSchema plus the error responses and parameter limits each operation really has.
    "DEFAULT_SCHEMA_CLASS": "commerce.core.api.schema.ErrorDocumentingAutoSchema",
    "EXCEPTION_HANDLER": "commerce.core.api.exceptions.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "commerce.core.api.throttling.AnonThrottle",
        "commerce.core.api.throttling.UserThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("THROTTLE_ANON", default="120/min"),
        "user": env("THROTTLE_USER", default="600/min"),
        "login": env("THROTTLE_LOGIN", default="10/min"),
        "otp_phone": env("THROTTLE_OTP_PHONE", default="3/10min"),
        "otp_ip": env("THROTTLE_OTP_IP", default="10/10min"),
        # Merchants' signed conversion reports, per client IP (merchants' servers are not shoppers).
        "conversions": env("THROTTLE_CONVERSIONS", default="600/min"),
    },
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": __import__("datetime").timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": __import__("datetime").timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "SIGNING_KEY": env("JWT_SIGNING_KEY", default=SECRET_KEY),
    "AUTH_HEADER_TYPES": ("Bearer",),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Commerce API",
    "DESCRIPTION": "Coupon, cashback and loyalty commerce: catalog, offers, cart, orders, payments, wallet.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # Swagger UI and Redoc from our own static files (drf-spectacular-sidecar): the docs work offline and
    # under the Content-Security-Policy below.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No validator badge: it would load an image from validator.swagger.io and tell it our schema URL.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # Choice sets whose field names (status, kind, method) other components use too: named explicitly.
    "ENUM_NAME_OVERRIDES": {
        "CashbackStatusEnum": "cashback.models.CashbackStatus",
        "WalletEntryKindEnum": "cashback.models.WalletEntryKind",
        "WithdrawalMethodEnum": "cashback.models.WithdrawalMethod",
        "WithdrawalStatusEnum": "cashback.models.WithdrawalStatus",
        "OfferKindEnum": "commerce.offers.models.OfferKind",
        "OrderStatusEnum": "commerce.orders.models.OrderStatus",
        "PointsEntryKindEnum": "loyalty.models.PointsEntryKind",
        "RewardKindEnum": "loyalty.models.RewardKind",
    },
}

# --- Browser security: Content-Security-Policy and CORS -------------------------------------------------
# django-csp 4 (dict format). Pages load only our own files; the few inline <script>/<style> elements (home
# page, Swagger UI, Redoc) carry the per-request nonce (``request.csp_nonce``). ``data:`` images are the
# admin's TOTP QR code and Swagger UI's icons. Redoc adds ``worker-src blob:`` on its own page.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF, csp.NONCE],
        "style-src": [csp.SELF, csp.NONCE],
        "img-src": [csp.SELF, "data:"],
        "object-src": [csp.NONE],
        "base-uri": [csp.SELF],
        "form-action": [csp.SELF],
        "frame-ancestors": [csp.NONE],
    },
}

# django-cors-headers: only the storefront origins listed here may call the API from a browser (none by
# default). Bearer tokens, not cookies, authenticate API calls, so credentials are not allowed.
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_HEADERS = ["authorization", "content-type", "idempotency-key", "x-device-id", "x-request-id"]
CORS_EXPOSE_HEADERS = ["X-Request-ID", "Retry-After"]
CORS_ALLOW_CREDENTIALS = False

# --- Celery ---------------------------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=REDIS_URL or "cache+memory://")
# Without a broker, tasks run in-process (embedded default); with one, real workers consume them.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 3600
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_DEFAULT_QUEUE = "default"
# The named queues; workers consume all three unless told otherwise (make worker QUEUES=...).
TASK_QUEUE_NAMES = ("default", "notifications", "webhooks")
CELERY_TASK_QUEUES = [Queue(name) for name in TASK_QUEUE_NAMES]
CELERY_TASK_ROUTES = {
    "commerce.notifications.tasks.*": {"queue": "notifications"},
    "payments.tasks.*": {"queue": "webhooks"},
}
# Tasks are written to be idempotent, so a message is acknowledged only after it ran: a worker that
# dies mid-task leaves it to be redelivered rather than lost.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
# Must exceed the longest task (the hard limit) or Redis redelivers messages still being worked on.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE: dict = {
    # Unpaid orders past ORDER_PAYMENT_TIMEOUT_MINUTES: stock and coupon use released, order marked expired.
    "orders-expire-unpaid": {
        "task": "commerce.orders.tasks.expire_unpaid_orders",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
    # Checkout Idempotency-Key records older than IDEMPOTENCY_KEY_TTL_HOURS.
    "orders-purge-idempotency-records": {
        "task": "commerce.orders.tasks.purge_idempotency_records",
        "schedule": 3600.0,
        "options": {"expires": 3600},
    },
    # "Frequently bought together" counts from paid orders.
    "orders-recount-co-purchases": {
        "task": "commerce.orders.tasks.recount_co_purchases",
        "schedule": 3600.0,
        "options": {"expires": 3600},
    },
    # Buffered offer views/clicks (Redis) into the database; expires so a stalled beat never piles up runs.
    "offers-flush-events": {
        "task": "commerce.offers.tasks.flush_offer_events",
        "schedule": 10.0,
        "options": {"expires": 10},
    },
    # Requeue notifications whose task was lost (broker down at commit); dead-letter ones stuck mid-send.
    "notifications-requeue-stale": {
        "task": "commerce.notifications.tasks.requeue_stale",
        "schedule": 300.0,
        "options": {"expires": 300},
    },
    # Webhooks whose task was lost published again, then payments left pending 15 min fetched from their provider.
    # Refunds left pending (provider down or lost task) sent again with their idempotency key.
    "payments-retry-refunds": {
        "task": "payments.tasks.retry_pending_refunds",
        "schedule": 300.0,
        "options": {"expires": 300},
    },
    "payments-reconcile": {
        "task": "payments.tasks.reconcile_payments",
        "schedule": 300.0,
        "options": {"expires": 300},
    },
    # Order cashback past delivery plus CASHBACK_RETURN_WINDOW_DAYS confirmed; confirmed cashback risk-scored and
    # credited (low risk) or queued for staff review (high risk).
    "cashback-confirm-due": {
        "task": "cashback.tasks.entries.confirm_due_cashback",
        "schedule": 3600.0,
        "options": {"expires": 3600},
    },
    "cashback-process-confirmed": {
        "task": "cashback.tasks.entries.process_confirmed_cashback",
        "schedule": 300.0,
        "options": {"expires": 300},
    },
    # Affiliate links checked with a HEAD request; broken ones send clicks to the offer's fallback URL.
    "offers-check-links": {
        "task": "cashback.tasks.conversions.check_offer_links",
        "schedule": 6 * 3600.0,
        "options": {"expires": 3600},
    },
    # Payouts in flight at the payout provider: their status fetched, paid or failed recorded.
    "withdrawals-refresh-payouts": {
        "task": "cashback.tasks.withdrawals.refresh_payouts",
        "schedule": 600.0,
        "options": {"expires": 600},
    },
    # Loyalty: pending order points past the return window made available (and referrals rewarded); points past
    # their expiry expired, oldest first, with reminders 7 days before; tiers reviewed (downgrades after the grace).
    "loyalty-confirm-due": {
        "task": "loyalty.tasks.earning.confirm_due_points",
        "schedule": 3600.0,
        "options": {"expires": 3600},
    },
    "loyalty-expire-points": {
        "task": "loyalty.tasks.ledger.expire_points",
        "schedule": crontab(hour=1, minute=15),
        "options": {"expires": 3600},
    },
    "loyalty-expiry-reminders": {
        "task": "loyalty.tasks.ledger.send_expiry_reminders",
        "schedule": crontab(hour=9, minute=0),
        "options": {"expires": 3600},
    },
    # Leaderboards rebuilt from the ledger, repairing updates lost while Redis was down.
    "loyalty-rebuild-leaderboards": {
        "task": "loyalty.tasks.leaderboard.rebuild_leaderboards",
        "schedule": crontab(hour=3, minute=30),
        "options": {"expires": 3600},
    },
    "loyalty-review-tiers": {
        "task": "loyalty.tasks.tiers.review_tiers",
        "schedule": crontab(hour=3, minute=0),
        "options": {"expires": 3600},
    },
    # Every wallet's balances checked against its ledger; a mismatch is logged at ERROR and counted in /metrics.
    "wallets-audit-nightly": {
        "task": "cashback.tasks.audit.audit_wallets",
        "schedule": crontab(hour=2, minute=30),
        "options": {"expires": 3600},
    },
}

# --- Orders ---------------------------------------------------------------------------------------------
# Prices include tax; the tax component of each line uses its category's rate (admin: "Category tax rates"),
# its parent category's, or this default (per cent).
ORDER_DEFAULT_TAX_RATE = env.str("ORDER_DEFAULT_TAX_RATE", default="18.00")
# Shipping of merchants without their own row (admin: "Merchant shipping"): a flat fee per order, waived when
# the amount after discounts reaches the threshold.
ORDER_SHIPPING_FLAT_FEE = env.str("ORDER_SHIPPING_FLAT_FEE", default="49.00")
ORDER_FREE_SHIPPING_THRESHOLD = env.str("ORDER_FREE_SHIPPING_THRESHOLD", default="499.00")
# Unpaid orders expire (stock and coupon use released) this long after they are placed.
ORDER_PAYMENT_TIMEOUT_MINUTES = env.int("ORDER_PAYMENT_TIMEOUT_MINUTES", default=30)
# Checkout Idempotency-Key records are kept this long.
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=24)
# "Frequently bought together" counts paid orders placed in this many days.
ORDER_CO_PURCHASE_WINDOW_DAYS = env.int("ORDER_CO_PURCHASE_WINDOW_DAYS", default=365)
# The seller printed on invoices.
INVOICE_SELLER_NAME = env.str("INVOICE_SELLER_NAME", default="Commerce Platform Pvt. Ltd.")
INVOICE_SELLER_ADDRESS = env.str("INVOICE_SELLER_ADDRESS", default="12 MG Road, Bengaluru 560001, Karnataka, India")
INVOICE_SELLER_TAX_ID = env.str("INVOICE_SELLER_TAX_ID", default="29ABCDE1234F1Z5")

# --- Payments -------------------------------------------------------------------------------------------
# Each gateway is enabled when its keys are set. STRIPE_API_BASE / RAZORPAY_API_BASE point the SDKs at a test
# double (stripe-mock, a local fake) instead of the providers.
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")
# Handed to the client with the PaymentIntent's client secret (Stripe.js needs it).
STRIPE_PUBLISHABLE_KEY = env.str("STRIPE_PUBLISHABLE_KEY", default="")
RAZORPAY_KEY_ID = env.str("RAZORPAY_KEY_ID", default="")
RAZORPAY_KEY_SECRET = env.str("RAZORPAY_KEY_SECRET", default="")
RAZORPAY_WEBHOOK_SECRET = env.str("RAZORPAY_WEBHOOK_SECRET", default="")
RAZORPAY_API_BASE = env.str("RAZORPAY_API_BASE", default="")
# Read timeout (seconds) of calls to Razorpay; connecting gives up after 3 s.
RAZORPAY_TIMEOUT_SECONDS = env.int("RAZORPAY_TIMEOUT_SECONDS", default=10)
# Saved payment methods are refreshed from a provider at most this often per shopper.
PAYMENT_METHODS_REFRESH_SECONDS = env.int("PAYMENT_METHODS_REFRESH_SECONDS", default=300)
# The demo gateway (no keys; `POST payments/demo/{id}/complete` drives the webhook path). Production refuses it.
PAYMENTS_DEMO_ENABLED = env.bool("PAYMENTS_DEMO_ENABLED", default=True)

# --- Cashback and wallet ----------------------------------------------------------------------------------
# An order's cashback is confirmed this many days after delivery when nothing was refunded (the return window).
CASHBACK_RETURN_WINDOW_DAYS = env.int("CASHBACK_RETURN_WINDOW_DAYS", default=30)
# The hourly sweep creates cashback missed by a lost task for orders paid in this many days.
CASHBACK_BACKFILL_DAYS = env.int("CASHBACK_BACKFILL_DAYS", default=3)
# The most cashback one order or conversion earns, in DEFAULT_CURRENCY; empty: no platform cap (merchants may
# still set their own in "Merchant cashback terms").
CASHBACK_MAX_PER_ORDER = env.str("CASHBACK_MAX_PER_ORDER", default="")
# Conversion reports: X-Timestamp must be within this many seconds of now.
CASHBACK_CONVERSION_MAX_AGE_SECONDS = env.int("CASHBACK_CONVERSION_MAX_AGE_SECONDS", default=300)
# After a merchant's conversion secret is rotated, the previous one stays valid this many hours.
CASHBACK_SECRET_GRACE_HOURS = env.int("CASHBACK_SECRET_GRACE_HOURS", default=24)
# Risk: an entry scoring at least this (0-100) goes to staff review; below it is credited at once.
CASHBACK_RISK_REVIEW_THRESHOLD = env.int("CASHBACK_RISK_REVIEW_THRESHOLD", default=50)
# Risk rule weights (points added to the score when the rule fires), as rule=weight pairs; rules not named keep
# their defaults (cashback/services/risk.py lists the rules).
CASHBACK_RISK_WEIGHTS = env.dict("CASHBACK_RISK_WEIGHTS", cast={"value": int}, default={})
# Risk rule thresholds.
CASHBACK_RISK_NEW_ACCOUNT_DAYS = env.int("CASHBACK_RISK_NEW_ACCOUNT_DAYS", default=7)
CASHBACK_RISK_VELOCITY_24H = env.int("CASHBACK_RISK_VELOCITY_24H", default=5)
CASHBACK_RISK_REFUND_RATIO = env.str("CASHBACK_RISK_REFUND_RATIO", default="0.30")
CASHBACK_RISK_REFUND_MIN_ORDERS = env.int("CASHBACK_RISK_REFUND_MIN_ORDERS", default=3)
CASHBACK_RISK_LARGE_AMOUNT = env.str("CASHBACK_RISK_LARGE_AMOUNT", default="2000.00")
# Affiliate links are checked with a HEAD request at most this often; a link failing the check is marked broken
# and its clicks go to the offer's fallback URL.
OFFER_LINK_CHECK_TIMEOUT_SECONDS = env.int("OFFER_LINK_CHECK_TIMEOUT_SECONDS", default=5)
# Withdrawals: the smallest amount a shopper may withdraw, in DEFAULT_CURRENCY.
WITHDRAWAL_MINIMUM = env.str("WITHDRAWAL_MINIMUM", default="100.00")
# Payouts of approved withdrawals go through RazorpayX when these are set; otherwise staff pay them by hand and
# record the bank reference (the manual provider).
RAZORPAYX_KEY_ID = env.str("RAZORPAYX_KEY_ID", default="")
RAZORPAYX_KEY_SECRET = env.str("RAZORPAYX_KEY_SECRET", default="")
RAZORPAYX_ACCOUNT_NUMBER = env.str("RAZORPAYX_ACCOUNT_NUMBER", default="")
RAZORPAYX_API_BASE = env.str("RAZORPAYX_API_BASE", default="https://api.razorpay.com")
RAZORPAYX_TIMEOUT_SECONDS = env.int("RAZORPAYX_TIMEOUT_SECONDS", default=10)

# --- Loyalty ----------------------------------------------------------------------------------------------
# Defaults of the programme settings row (editable in the admin afterwards: "Programme settings").
# What one point is worth at checkout, in DEFAULT_CURRENCY.
LOYALTY_POINT_VALUE = env.str("LOYALTY_POINT_VALUE", default="0.25")
# At most this share (per cent) of an order may be paid with points.
LOYALTY_MAX_REDEEM_PERCENT = env.str("LOYALTY_MAX_REDEEM_PERCENT", default="50")
# Points expire this many months after they become available; members are reminded this many days before.
LOYALTY_EXPIRY_MONTHS = env.int("LOYALTY_EXPIRY_MONTHS", default=12)
LOYALTY_EXPIRY_REMINDER_DAYS = env.int("LOYALTY_EXPIRY_REMINDER_DAYS", default=7)
# GET loyalty lists points expiring within this many days (never fewer than the reminder days).
LOYALTY_EXPIRING_SOON_DAYS = env.int("LOYALTY_EXPIRING_SOON_DAYS", default=30)
# Referral points for the referrer and the new member, once the new member's first order is past its return window.
LOYALTY_REFERRAL_REFERRER_POINTS = env.int("LOYALTY_REFERRAL_REFERRER_POINTS", default=500)
LOYALTY_REFERRAL_REFEREE_POINTS = env.int("LOYALTY_REFERRAL_REFEREE_POINTS", default=250)
# Tiers count qualifying points of this many months; a member below their tier keeps it this many days.
LOYALTY_TIER_WINDOW_MONTHS = env.int("LOYALTY_TIER_WINDOW_MONTHS", default=12)
LOYALTY_TIER_DOWNGRADE_GRACE_DAYS = env.int("LOYALTY_TIER_DOWNGRADE_GRACE_DAYS", default=30)
# How many members GET loyalty/leaderboard lists.
LOYALTY_LEADERBOARD_SIZE = env.int("LOYALTY_LEADERBOARD_SIZE", default=10)
# Week and month boards stay in Redis this many days after their period ends; recorded entry ids are remembered
# this many days so a task run twice never counts an entry twice.
LOYALTY_LEADERBOARD_KEEP_DAYS = env.int("LOYALTY_LEADERBOARD_KEEP_DAYS", default=7)
LOYALTY_LEADERBOARD_DEDUP_DAYS = env.int("LOYALTY_LEADERBOARD_DEDUP_DAYS", default=7)

# --- Logging --------------------------------------------------------------------------------------------
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOG_FORMAT = env("LOG_FORMAT", default="text")  # "text" or "json"
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "commerce.core.logging.RequestIdFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(request_id)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT if LOG_FORMAT in ("text", "json") else "text",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Request errors are logged by the API exception handler with the request id.
        "django.request": {"level": "ERROR"},
    },
}

# --- Sentry ---------------------------------------------------------------------------------------------
SENTRY_DSN = env("SENTRY_DSN", default="")
if SENTRY_DSN:
    from config.sentry import init_sentry

    init_sentry(
        dsn=SENTRY_DSN,
        environment=ENVIRONMENT,
        release=RELEASE,
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
        sample_rate=env.float("SENTRY_SAMPLE_RATE", default=1.0),
    )

# --- Demo -----------------------------------------------------------------------------------------------
DEMO_ADMIN_EMAIL = env("DEMO_ADMIN_EMAIL", default="admin@example.com")
DEMO_ADMIN_PASSWORD = env("DEMO_ADMIN_PASSWORD", default="")
DEMO_SHOPPER_EMAIL = env("DEMO_SHOPPER_EMAIL", default="shopper@example.com")
DEMO_SHOPPER_PASSWORD = env("DEMO_SHOPPER_PASSWORD", default="")
