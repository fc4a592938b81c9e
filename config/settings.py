"""Liaison settings: one module, driven by environment variables.

Production differs from development only by the environment (see README.md and
``.env.example``). Nothing outside ``config/`` reads settings at import time.
"""

import datetime
from pathlib import Path

import environ
from csp.constants import NONE, SELF

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.FileAwareEnv()  # SECRET_KEY_FILE works for Docker/Kubernetes secrets
env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)

_DEV_SECRET_KEY = "django-insecure-dev-only-never-use-in-production"  # noqa: S105
SECRET_KEY = env("SECRET_KEY", default="")
# Old keys still verify signed links (unsubscribe, one-tap) after a rotation.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set and DEBUG is off: set SECRET_KEY (or DEBUG=true "
            "for local development)."
        )
    SECRET_KEY = _DEV_SECRET_KEY

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
# Networks (CIDR) of the load balancers and proxies in front of Liaison: the
# client is the first address of X-Forwarded-For, read from the right, that is
# not one of them (core/client_address.py). Empty: REMOTE_ADDR is the client.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The public origin used to build links in messages (portal, verify page).
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    # daphne first: `runserver` then serves ASGI, so websockets work in development.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_q",
    "phonenumber_field",
    "anymail",
    "config.apps.ConfigConfig",
    "clinic",
    "consent",
    "messaging",
    "conversations",
    "feedback",
    "portal",
    "outreach",
    "campaigns",
    "api",
    "insights",
    "demo",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Sign-in: allauth for passwords, django-otp for the second factor, axes
    # to throttle password guessing (portal/auth/, issue 5).
    "allauth",
    "allauth.account",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_otp.plugins.otp_email",
    "axes",
    "csp",
]

MIDDLEWARE = [
    # First: every later line of the request carries its id.
    "config.request_context.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # HTML pages gzipped (config/compression.py); static files are
    # whitenoise's, served above.
    "config.compression.PageGZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "api.middleware.ApiConditionalGetMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "portal.auth.middleware.SecondFactorMiddleware",
    # Admin pages in the staff member's organization's zone (clinic/time_zones.py).
    "clinic.time_zones.StaffTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "portal.auth.middleware.IdleSessionMiddleware",
    # Last, so it sees every other middleware's answer (STACK.md).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # ``branding``: the clinic's name, logo and theme (clinic/branding.py).
                "portal.context_processors.branding",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

# --- Database -------------------------------------------------------------------
# SQLite by default (embedded, zero set-up); DATABASE_URL=postgres://… for production.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and scheduler share one file: WAL lets readers run beside the
    # writer, IMMEDIATE transactions take the write lock up front instead of
    # failing with "database is locked" on upgrade, busy_timeout waits for it.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
else:
    # A new connection per request costs ~10x a query here (STACK.md): keep them.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and channel layer ----------------------------------------------------
# REDIS_URL switches both to Redis, shared by every web and worker process.
# Redis is never on the critical path (docs/architecture.md, "Redis"): while it
# is unreachable each process keeps its cache in its own memory (limits become
# per-process limits) and live notices are dropped (pages re-read on reconnect).
REDIS_URL = env("REDIS_URL", default="")
# Seconds Redis gets to connect or answer before a caller goes on without it.
REDIS_TIMEOUT = env.float("REDIS_TIMEOUT", default=0.5)
# After a failure, a process goes without Redis this long before trying again.
REDIS_RETRY_SECONDS = env.float("REDIS_RETRY_SECONDS", default=5)
# /healthz answers within this many seconds whatever a dependency does
# (config/health.py); a check still running then counts as failed.
HEALTHZ_TIMEOUT = env.float("HEALTHZ_TIMEOUT", default=0.8)


def redis_caches(url: str) -> dict:
    """CACHES on the Redis at ``url`` (tests point it at a Redis they stop)."""
    return {
        "default": {
            "BACKEND": "core.cache.FailoverRedisCache",
            "LOCATION": url,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="liaison"),
            "OPTIONS": {
                "RETRY_SECONDS": REDIS_RETRY_SECONDS,
                "socket_connect_timeout": REDIS_TIMEOUT,
                "socket_timeout": REDIS_TIMEOUT,
            },
        }
    }


def redis_channel_layers(url: str) -> dict:
    """CHANNEL_LAYERS on the Redis at ``url``."""
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py 8 times reads out after 5 s, as long as the
                # layer's blocking pop: idle websockets crashed (STACK.md).
                "hosts": [
                    {
                        "address": url,
                        "socket_timeout": 30,
                        "socket_connect_timeout": REDIS_TIMEOUT,
                    }
                ],
                "prefix": env("CHANNEL_LAYER_PREFIX", default="liaison"),
            },
        }
    }


if REDIS_URL:
    CACHES = redis_caches(REDIS_URL)
    CHANNEL_LAYERS = redis_channel_layers(REDIS_URL)
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Conversations (issue 8) ---------------------------------------------------------
# Staff should answer a patient's first message within this many hours (the SLA clock).
CONVERSATION_FIRST_RESPONSE_HOURS = env.int(
    "CONVERSATION_FIRST_RESPONSE_HOURS", default=24
)
# A patient who writes within this many days of a conversation being closed
# reopens it; later, a new conversation starts (docs/conversations.md).
CONVERSATION_REOPEN_DAYS = env.int("CONVERSATION_REOPEN_DAYS", default=7)

# --- Partner API (docs/api.md) ---------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "api.permissions.HasScope",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.UpdatedCursorPagination",
    "DEFAULT_SCHEMA_CLASS": "api.schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "api.problems.problem_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DATETIME_FORMAT": "iso-8601",
    "COERCE_DECIMAL_TO_STRING": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Liaison partner API",
    "DESCRIPTION": "REST v1 for EHR, booking and CRM systems. Errors are "
    "application/problem+json (RFC 9457); every POST takes an Idempotency-Key.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and docs are public, like any API's documentation.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Served from our own static files, never a CDN (CSP allows only 'self').
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a "status" field, each with its own choices.
    "ENUM_NAME_OVERRIDES": {
        "AppointmentStatusEnum": "clinic.models.AppointmentStatus",
        "DeliveryStatusEnum": "messaging.models.DeliveryStatus",
        "ConversationStatusEnum": "conversations.models.Conversation.Status",
        "WebhookEventEnum": "api.models.WebhookEvent",
    },
}
# Webhook receivers at private, loopback or link-local addresses are refused
# (SSRF); tests and local development allow them.
WEBHOOKS_ALLOW_PRIVATE = env.bool("WEBHOOKS_ALLOW_PRIVATE", default=DEBUG)

# --- Background work (django-q2) ------------------------------------------------
# The ORM broker keeps the queue in the same database: enqueueing joins the
# caller's transaction and a killed worker's task comes back. The Redis broker
# loses a killed worker's tasks, so it is never used for sends (DESIGN.md).
Q_CLUSTER = {
    "name": "liaison",
    "orm": "default",
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": env.int("Q_TIMEOUT", default=120),
    # django-q2 re-runs a task whose ack has not come after `retry` seconds, so
    # it must be longer than `timeout` or slow tasks run twice.
    "retry": env.int("Q_RETRY", default=300),
    "max_attempts": 5,
    "catch_up": False,
    "save_limit": 250,
    "ack_failures": True,
    "poll": 0.5,
    "label": "Background tasks",
}

# --- Authentication -------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out username or address before any password check.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
    # Clinic staff get their admin permissions from their role (clinic/roles.py).
    "clinic.auth_backends.StaffRoleBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "portal:home"
ACCOUNT_LOGOUT_REDIRECT_URL = "portal:auth_signed_out"

# django-allauth: sign in by username or email; accounts come from enrolment
# invitations, never from open sign-up; the clinic verified the address.
ACCOUNT_ADAPTER = "portal.auth.adapter.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_PREVENT_ENUMERATION = True
# django-axes throttles failed logins (below), with one lockout page.
ACCOUNT_RATE_LIMITS = {"login_failed": False}

# django-otp: the portal and admin ask for a second factor (portal/auth/).
OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", default="Liaison")
OTP_EMAIL_TOKEN_VALIDITY = 600  # staff email codes (otp_email), seconds
OTP_EMAIL_SUBJECT = "Liaison security code"
# Patient codes by email or SMS (sent through messaging), seconds.
OTP_CODE_VALIDITY = env.int("OTP_CODE_VALIDITY", default=600)
OTP_CODE_COOLDOWN = env.int("OTP_CODE_COOLDOWN", default=30)

# django-axes: 5 wrong passwords lock one account from one address (the pair)
# for 15 minutes, so a patient's typos never lock out the others behind the
# same address; any address is stopped after SIGN_IN_FAILURES_PER_ADDRESS
# failures of any account in that time (password spraying). Both steps of the
# admin's sign-in count (portal/auth/lockout.py).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = datetime.timedelta(
    minutes=env.int("AXES_COOLOFF_MINUTES", default=15)
)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
SIGN_IN_FAILURES_PER_ADDRESS = env.int("SIGN_IN_FAILURES_PER_ADDRESS", default=50)
AXES_HANDLER = "portal.auth.lockout.PairAndAddressHandler"
AXES_CLIENT_IP_CALLABLE = "core.client_address.client_ip"
AXES_USERNAME_CALLABLE = "portal.auth.throttling.axes_username"
AXES_LOCKOUT_TEMPLATE = "portal/auth/lockout.html"
AXES_LOCKOUT_CALLABLE = "portal.auth.throttling.lockout_response"  # renders ^
AXES_RESET_ON_SUCCESS = True
# A try while locked neither counts nor moves the time the lockout page gave.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False

# A web process trusts an API key it has read for this many seconds before it
# reads it again: a key revoked (or re-scoped) in another process stops
# working within this delay; 0 reads the key on every request.
API_KEY_CACHE_SECONDS = env.float("API_KEY_CACHE_SECONDS", default=5)

# The KPI dashboard computes its patient-centred figures on a second database
# connection, in parallel (PostgreSQL only; insights/second_connection.py).
INSIGHTS_SECOND_CONNECTION = env.bool("INSIGHTS_SECOND_CONNECTION", default=True)

# Idle sessions end after this many seconds; the page warns a minute before.
SESSION_IDLE_TIMEOUT = env.int("SESSION_IDLE_TIMEOUT", default=900)
PORTAL_PROXY_PRIVACY_AGE = 15  # from this age a patient may hide items from proxies
# Live inbox without a shared channel layer: the web and worker processes of
# `make run` do not share the in-memory layer, so each open inbox re-checks
# the database this often (seconds; 0 turns it off). With Redis, pushes do it.
PORTAL_LIVE_POLL_SECONDS = env.float(
    "PORTAL_LIVE_POLL_SECONDS", default=0 if REDIS_URL else 3
)

# --- Internationalisation -------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
PHONENUMBER_DEFAULT_REGION = None  # phone numbers are always entered in E.164
PHONENUMBER_DB_FORMAT = "E164"

# --- Static files ---------------------------------------------------------------
STATIC_URL = "static/"
# Where collectstatic writes, and nginx serves /static/ from (deploy/nginx).
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Email ----------------------------------------------------------------------
EMAIL_BACKEND = env(
    "EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend"
)
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Liaison <no-reply@localhost>")
# django-anymail: ESP credentials as JSON (e.g. {"MAILGUN_API_KEY": "…"}) and the
# secret its tracking webhooks (/anymail/<esp>/tracking/) check.
ANYMAIL = {
    "WEBHOOK_SECRET": env("ANYMAIL_WEBHOOK_SECRET", default=""),
    **env.json("ANYMAIL_SETTINGS", default={}),
}
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Messaging channels ---------------------------------------------------------
# One backend per channel, like EMAIL_BACKEND (messaging/backends/). The outbox
# backends store what would be sent in the database, visible in admin: the
# default, so nothing leaves a development machine by accident.
_OUTBOX = "messaging.backends.outbox.Backend"
# The platform's provider accounts, passed to whichever backend path names the
# provider. Each organization sends from its own sender identity (number,
# Messaging Service, account: messaging.SenderIdentity, in admin); these
# credentials serve the identities that name no account of their own.
# An empty base URL means the provider's real API.
_TWILIO_OPTIONS = {
    "account_sid": env("TWILIO_ACCOUNT_SID", default=""),
    "auth_token": env("TWILIO_AUTH_TOKEN", default=""),
    "base_url": env("TWILIO_BASE_URL", default=""),
}
_SINCH_SMS_OPTIONS = {
    "service_plan_id": env("SINCH_SERVICE_PLAN_ID", default=""),
    "api_token": env("SINCH_API_TOKEN", default=""),
    "base_url": env("SINCH_BASE_URL", default=""),
    "webhook_secret": env("SINCH_WEBHOOK_SECRET", default=""),
}
_SINCH_VOICE_OPTIONS = {
    "application_key": env("SINCH_APPLICATION_KEY", default=""),
    "application_secret": env("SINCH_APPLICATION_SECRET", default=""),
    "base_url": env("SINCH_VOICE_BASE_URL", default=""),
}
# Fernet keys (comma-separated, the first encrypts) for the secrets kept in
# the database: sender identities' provider tokens, webhook signing secrets
# (messaging/credentials.py). Like SECRET_KEY, a published development key
# stands in while DEBUG is on, so `make run` can create webhooks; with DEBUG
# off a missing key is an error (messaging.E006).
_DEV_CREDENTIALS_KEY = "bGlhaXNvbi1kZXYtb25seS1jcmVkZW50aWFscy1rZXk="
CREDENTIALS_KEY = env.list("CREDENTIALS_KEY", default=[])
if not CREDENTIALS_KEY and DEBUG:
    CREDENTIALS_KEY = [_DEV_CREDENTIALS_KEY]
# Seconds to wait for an SMS provider: past the read timeout a send is
# "unknown" and reconciled, never resent.
_SMS_TIMEOUTS = {
    "connect_timeout": env.float("SMS_CONNECT_TIMEOUT", default=5.0),
    "read_timeout": env.float("SMS_READ_TIMEOUT", default=10.0),
    # Requests in flight at once per worker: a provider's round trip is
    # mostly waiting, so a few overlap well.
    "concurrency": env.int("SMS_CONCURRENCY", default=4),
    # Seconds a provider may take to list a message it accepted: until then
    # reconciliation reads "not found" as "cannot tell yet", never "not sent".
    "reconcile_grace": env.float("SMS_RECONCILE_GRACE", default=60.0),
}
_PROVIDER_OPTIONS = {
    "messaging.backends.sms.twilio.SmsBackend": _TWILIO_OPTIONS | _SMS_TIMEOUTS,
    "messaging.backends.voice.twilio.VoiceBackend": _TWILIO_OPTIONS,
    "messaging.backends.sms.sinch.SmsBackend": _SINCH_SMS_OPTIONS | _SMS_TIMEOUTS,
    "messaging.backends.voice.sinch.VoiceBackend": _SINCH_VOICE_OPTIONS,
}
# Short names for the development backends, so `SMS_BACKEND=console` works.
_SHORT_BACKENDS = {
    name: f"messaging.backends.{name}.Backend"
    for name in ("outbox", "console", "file", "locmem")
}


def _backend(variable: str, default: str) -> str:
    value = env(variable, default=default)
    return _SHORT_BACKENDS.get(value, value)


_SMS_BACKEND = _backend("SMS_BACKEND", _OUTBOX)
_VOICE_BACKEND = _backend("VOICE_BACKEND", _OUTBOX)
_SMS_FAILOVER_BACKEND = _backend("SMS_FAILOVER_BACKEND", "")
_SMS = {"BACKEND": _SMS_BACKEND, "OPTIONS": _PROVIDER_OPTIONS.get(_SMS_BACKEND, {})}
if _SMS_FAILOVER_BACKEND:
    # SMS_BACKEND first; SMS_FAILOVER_BACKEND takes what it could not send.
    _SMS = {
        "BACKEND": "messaging.backends.sms.failover.SmsBackend",
        "OPTIONS": {
            "primary": _SMS,
            "secondary": {
                "BACKEND": _SMS_FAILOVER_BACKEND,
                "OPTIONS": _PROVIDER_OPTIONS.get(_SMS_FAILOVER_BACKEND, {}),
            },
        },
    }
MESSAGING_BACKENDS = {
    "inapp": {"BACKEND": "messaging.backends.inapp.Backend"},
    "email": {"BACKEND": _backend("EMAIL_CHANNEL_BACKEND", _OUTBOX)},
    "sms": _SMS,
    "voice": {
        "BACKEND": _VOICE_BACKEND,
        "OPTIONS": _PROVIDER_OPTIONS.get(_VOICE_BACKEND, {}),
    },
}
MESSAGING_DELIVERY_BATCH = env.int("MESSAGING_DELIVERY_BATCH", default=200)
# At least Q_TIMEOUT (system check messaging.E002): a claim must outlive the
# task that holds it. Renewed while calls are in flight.
MESSAGING_LEASE_SECONDS = env.int("MESSAGING_LEASE_SECONDS", default=300)
MESSAGING_MAX_ATTEMPTS = env.int("MESSAGING_MAX_ATTEMPTS", default=8)

# --- Security -------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Content Security Policy: every script and style is a file served by the app
# (whitenoise), so nothing inline runs; no CDN, no third-party origin. The
# template admin's email preview relaxes inline *styles* for that page only
# (messaging/admin.py), never scripts.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        # The TOTP QR code is inline SVG markup; data: covers admin icons.
        "img-src": [SELF, "data:"],
        # 'self' covers ws:/wss: to the same host (the live inbox) in CSP 3.
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # /healthz is probed over plain HTTP by load balancers.
    SECURE_REDIRECT_EXEMPT = [r"^healthz(/live|/ready)?$", r"^metrics$"]

# --- Retention ---------------------------------------------------------------
# Days each data class is kept before the nightly purge (core.retention;
# docs/deploy.md, "Retention"), e.g. RETENTION_DAYS=access_audit=365,outbox=7.
RETENTION_DAYS = {
    name: int(days) for name, days in env.dict("RETENTION_DAYS", default={}).items()
}

# --- Metrics ---------------------------------------------------------------------
# /metrics (config/metrics.py) answers a bearer token or addresses in these
# networks (CIDR); with neither it answers 404.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_NETWORKS = env.list("METRICS_NETWORKS", default=[])

# --- Logging --------------------------------------------------------------------
# Log lines carry ids, never names, addresses or message bodies (DESIGN.md).
# One JSON line per event (config/log_format.py) unless LOG_FORMAT=text,
# which development uses by default.
LOG_FORMAT = env.str("LOG_FORMAT", default="text" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "config.request_context.RequestIdFilter"}},
    "formatters": {
        "text": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
        },
        "json": {"()": "config.log_format.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # httpx logs every request's full URL at INFO; provider URLs can carry
        # phone numbers in their query strings.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}
