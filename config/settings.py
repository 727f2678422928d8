"""Settings for the commitment tracker, read from the environment.

Every variable is listed, with its default, in README.md ("Configuration"). The
embedded default (no variable set) is a single-machine set-up: SQLite in ``var/``,
a filesystem Celery broker, and email printed to the console. Production secrets
have no insecure default once ``DEBUG`` is off: a missing ``SECRET_KEY`` stops
start-up instead of running with a known key.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import math
import os
import re
import socket
from collections.abc import Collection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django_stubs_ext import monkeypatch
from kombu.transport import TRANSPORT_ALIASES

from commitments.deadlines import RuleError, validate_time_zone

# Django's generic classes (ModelAdmin[Model], ModelForm[Model]…) subscriptable at run
# time, as the type checker reads them (django-stubs-ext).
monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("TRACKER_VAR_DIR", BASE_DIR / "var"))


# What deploy/tracker.env.example puts where a secret goes: a copy not filled in.
PLACEHOLDER = "CHANGE_ME"


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise ImproperlyConfigured(f"Set the environment variable {name}.")
    return value


def env_secret(name: str, default: str | None = None) -> str:
    """A secret: missing, empty, or the template's placeholder stops start-up."""
    value = env_str(name, default)
    if not value.strip() or PLACEHOLDER in value:
        raise ImproperlyConfigured(
            f"{name} is {value!r}: set it to a secret of this installation's own "
            "(deploy/tracker.env.example says how)."
        )
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true or false).")


def env_int(name: str, default: int, minimum: int = 1, maximum: int | None = None) -> int:
    """A whole number; 0 only where it means none or off (minimum=0)."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer.") from None
    if value < minimum or (maximum is not None and value > maximum):
        most = "" if maximum is None else f" and at most {maximum}"
        raise ImproperlyConfigured(f"{name}={raw!r} is out of range: at least {minimum}{most}.")
    return value


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number of 0 or more.")
    return value


def env_rate(name: str, default: str) -> str:
    """A rate limit as tracker.api.throttling.parse_rate reads it: '120/min'."""
    raw = os.environ.get(name) or default
    if not re.fullmatch(r"[1-9][0-9]*/[smhd][a-z]*", raw):
        raise ImproperlyConfigured(
            f"{name}={raw!r} is not a rate (a number per s, min, hour or day: 120/min)."
        )
    return raw


def masked(url: str) -> str:
    """``url`` as a message may show it: a password in it as ***."""
    return re.sub(r":[^:/@]*@", ":***@", url)


def env_url(name: str, default: str, schemes: Collection[str], need_host: bool = True) -> str:
    """An address with one of ``schemes`` (and a host); an empty one is the default."""
    raw = os.environ.get(name) or default
    try:
        parts = urlsplit(raw)
        ok = parts.scheme in schemes and (bool(parts.hostname) or not need_host)
        parts.port  # noqa: B018 (a port out of range raises)
    except ValueError:
        ok = False
    if not ok:
        raise ImproperlyConfigured(
            f"{name}={masked(raw)!r} is not an address beginning "
            + " or ".join(f"{scheme}://" for scheme in sorted(schemes))
            + (" and naming a host." if need_host else ".")
        )
    return raw


def env_list(name: str, default: str) -> list[str]:
    """Comma-separated; an empty value is the default, an empty item a mistake."""
    raw = os.environ.get(name) or default
    items = [item.strip() for item in raw.split(",")] if raw else []
    if "" in items:
        raise ImproperlyConfigured(f"{name}={raw!r} has an empty item (a comma too many).")
    return items


DEBUG = env_bool("DEBUG", default=False)
SECRET_KEY = env_secret("SECRET_KEY", "insecure-development-key" if DEBUG else None)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
SITE_URL = env_url("SITE_URL", "http://127.0.0.1:8000", {"http", "https"}).rstrip("/")

INSTALLED_APPS = [
    "tracker.ops",  # first: its templates override the API docs'
    # Before the admin: its TranslationAdmin edits both languages side by side.
    "modeltranslation",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # django-rest-knox's tokens, under the name the README uses ("API tokens", not "Knox").
    "tracker.apps.ApiTokensConfig",
    "corsheaders",
    "commitments",
    "tracker",
    "tracker.intake",
    "tracker.archive",
    "tracker.api",
    "simple_history",
    "axes",
]

# The ops middleware goes first: it drops forwarded headers from untrusted peers before
# anything reads them, answers /healthz, /readyz and /metrics before the host check and
# the HTTPS redirect, and counts every answer by status. Axes goes last (its docs).
MIDDLEWARE = [
    "tracker.ops.middleware.OpsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After sessions, before CommonMiddleware (which resolves /ja without its slash):
    # the language comes from the address alone (tracker/public/locale.py).
    "tracker.public.locale.PathLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Names the staff user in the audit trail for saves made by the admin.
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tracker.public.locale.languages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------
# DATABASE_URL: sqlite:////abs/path.db or postgres://user@host:5432/name.
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'tracker.sqlite3'}"
try:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=env_int("CONN_MAX_AGE", 60, minimum=0),
            conn_health_checks=True,
        )
    }
except ValueError as error:  # an unknown scheme, a port that is not a number
    raise ImproperlyConfigured(
        f"DATABASE_URL={masked(DATABASE_URL)!r} is not a database address: {error}"
    ) from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes; the busy timeout makes a
    # writer wait for the lock instead of failing at once with "database is locked".
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (API throttling counters must be shared by every web worker) -----------
REDIS_CACHE_URL = (
    env_url("CACHE_URL", "", {"redis", "rediss"}) if os.environ.get("CACHE_URL") else ""
)
# Redis in production (set with its timeouts under "Deployment and hardening").
CACHES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# English at today's addresses, Japanese under /ja/ (config/urls.py); the interface's
# Japanese is locale/ja/LC_MESSAGES/django.po, compiled by `make` (scripts/compilemessages).
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ja", "日本語")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Storage is always UTC (USE_TZ); TIME_ZONE is the default for people without one of
# their own. Milestones are shown and judged in their agreement's time zone.
TIME_ZONE = os.environ.get("TIME_ZONE") or "UTC"
try:
    validate_time_zone(TIME_ZONE)
except RuleError as error:
    raise ImproperlyConfigured(f"TIME_ZONE={TIME_ZONE!r}: {error}.") from None
USE_I18N = True
# The record in both languages (commitments/translation.py): English is the record's
# own language; a Japanese field left empty reads as the English one, and the pages
# say so (``record_text`` in tracker/templatetags/tracker_public.py).
MODELTRANSLATION_DEFAULT_LANGUAGE = "en"
MODELTRANSLATION_FALLBACK_LANGUAGES = ("en",)
USE_TZ = True
# A time Django formats names its zone (config/formats/en/formats.py).
FORMAT_MODULE_PATH = ["config.formats"]

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
    # Archived copies of cited pages as WARC files (tracker/archive): a directory by
    # default; an S3-compatible bucket in production with django-storages (README.md).
    "archive": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(VAR_DIR / "archive"), "base_url": None},
    },
}
# An S3-compatible bucket instead (pip install django-storages[s3]); boto3 reads the
# credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment.
if os.environ.get("TRACKER_ARCHIVE_S3_BUCKET"):
    STORAGES["archive"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": os.environ["TRACKER_ARCHIVE_S3_BUCKET"],
            "endpoint_url": env_url("TRACKER_ARCHIVE_S3_ENDPOINT", "", {"http", "https"})
            if os.environ.get("TRACKER_ARCHIVE_S3_ENDPOINT")
            else None,
            "location": "archive",
            "file_overwrite": False,
            "default_acl": None,
            "querystring_auth": True,
        },
    }

# --- Email ----------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if os.environ.get("EMAIL_HOST")
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, maximum=65535)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", default=False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured(
        "EMAIL_USE_TLS and EMAIL_USE_SSL are both true: choose one (STARTTLS or TLS)."
    )
# A stuck SMTP server must not hang a worker for ever.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 15)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "tracker@localhost")

# --- Celery ---------------------------------------------------------------------
# The embedded default is Kombu's filesystem transport: no server to install. The
# broker is only a doorbell; the database is the truth (see tracker/alerts/sweep.py).
_BROKER_DIR = VAR_DIR / "broker"
# "localhost" names no server (the filesystem transport has none); without a name Kombu
# warns "No hostname was supplied" at every connection.
CELERY_BROKER_URL = env_url(
    "CELERY_BROKER_URL", "filesystem://localhost/", TRANSPORT_ALIASES, need_host=False
)
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR / "queue"),
        "data_folder_out": str(_BROKER_DIR / "queue"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "control_folder": str(_BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    # Redis redelivers an unacknowledged message after the visibility timeout; it must
    # be longer than any task can run (see the time limits below), or a slow task
    # would run twice.
    # A broker host that drops packets must not hold a web request (the on-commit
    # doorbell) for the operating system's TCP timeout: give up connecting after 5 s.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "socket_connect_timeout": 5}
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# Serialise as JSON: tasks take ids and ISO strings, never pickled objects.
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
# What a task prints (the console email backend's messages, in the embedded default)
# goes to the worker's output as printed, not as one WARNING log record per line.
CELERY_WORKER_REDIRECT_STDOUTS = False
# Acknowledge after the task ran, and give the message back if the worker died
# mid-task: a crash means "run it again", and every task is safe to run twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Hard and soft limits, well under the visibility timeout above.
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_TIME_LIMIT = 300
# Beat runs in UTC; local times (digests at Monday 09:00) are decided in code.
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Beat's schedule, in seconds. Exactly one beat should run (README.md); a second one
# is harmless, since every task is idempotent.
TRACKER_SWEEP_INTERVAL = env_int("TRACKER_SWEEP_INTERVAL", 60)
TRACKER_DELIVERY_INTERVAL = env_int("TRACKER_DELIVERY_INTERVAL", 60)
TRACKER_DIGEST_INTERVAL = env_int("TRACKER_DIGEST_INTERVAL", 300)
TRACKER_DELIVERY_BATCH = env_int("TRACKER_DELIVERY_BATCH", 100)
# Email delivery tasks queued at once for a long list (each claims its own batches):
# as many as the worker runs side by side, so a mailing list uses every process.
TRACKER_EMAIL_SENDERS = env_int("TRACKER_EMAIL_SENDERS", 2)
# Delivery claims a batch for this long (tracker/alerts/delivery.py). A worker killed mid-batch
# leaves its claims to expire, and the rows are sent again after that: it bounds how
# long a crash delays alerts. Keep it longer than a batch can take to send (at worst
# TRACKER_DELIVERY_BATCH emails x EMAIL_TIMEOUT), or a slow batch is sent twice.
TRACKER_DELIVERY_LEASE_SECONDS = env_int("TRACKER_DELIVERY_LEASE_SECONDS", 300)
TRACKER_ALERT_MAX_ATTEMPTS = env_int("TRACKER_ALERT_MAX_ATTEMPTS", 8)
TRACKER_RETRY_BASE_SECONDS = env_int("TRACKER_RETRY_BASE_SECONDS", 60, minimum=0)


def every(seconds: float, task: str) -> dict[str, Any]:
    # A run that waits longer than one interval is superseded by the next.
    return {"task": task, "schedule": float(seconds), "options": {"expires": float(seconds)}}


CELERY_BEAT_SCHEDULE = {
    "sweep-deadlines": every(TRACKER_SWEEP_INTERVAL, "tracker.alerts.tasks.sweep_deadlines"),
    # Dispatches new events, then queues each channel's delivery task (emails and
    # webhooks apart) when it has alerts due: retries and anything a doorbell missed.
    "deliver-alerts": every(TRACKER_DELIVERY_INTERVAL, "tracker.alerts.tasks.deliver_alerts"),
    "send-digests": every(TRACKER_DIGEST_INTERVAL, "tracker.alerts.tasks.send_digests"),
    # The event feed's retention (API_EVENT_RETENTION_DAYS, below): hourly, a few
    # batched DELETEs when there is anything to prune.
    "prune-events": every(3600, "tracker.api.tasks.prune_events"),
    # Cited pages to archive (tracker/archive): new ones, and retries whose time has come.
    "archive-due": every(300, "tracker.archive.tasks.archive_due"),
    # Cited addresses asked again, each once per TRACKER_LINK_CHECK_INTERVAL: does it
    # answer, are the quoted words still there? Hourly runs of a bounded length.
    "archive-check-links": every(3600, "tracker.archive.tasks.check_links"),
    # Watched sources whose time has come (tracker/intake): each has its own interval.
    "intake-fetch-due-sources": every(300, "tracker.intake.tasks.fetch_due_sources"),
}

# --- Logging --------------------------------------------------------------------
LOG_LEVEL = os.environ.get("LOG_LEVEL") or "INFO"
if LOG_LEVEL not in logging.getLevelNamesMapping():
    raise ImproperlyConfigured(
        f"LOG_LEVEL={LOG_LEVEL!r} is not a level (DEBUG, INFO, WARNING, ERROR, CRITICAL)."
    )
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
}

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- REST API (tracker.api; see README.md, "REST API") ------------------------
# Reads are public and rate-limited per client IP; token holders get a higher limit.
# The counters live in the default cache: set CACHE_URL (Redis) so that every web
# worker shares them, or each gunicorn worker would count on its own.
API_ANON_RATE = env_rate("API_ANON_RATE", "120/min")
API_USER_RATE = env_rate("API_USER_RATE", "1200/min")
API_PAGE_SIZE = env_int("API_PAGE_SIZE", 50)
# How long the event feed (/api/v1/events/) keeps its events; 0 keeps them forever. A
# follower whose cursor is older than the oldest kept event gets 410 Gone.
API_EVENT_RETENTION_DAYS = env_int("API_EVENT_RETENTION_DAYS", 90, minimum=0)
API_MAX_PAGE_SIZE = env_int("API_MAX_PAGE_SIZE", 200)
# Bodies larger than this get 413; a PATCH is a few hundred bytes.
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 16 * 1024)
# Seconds a shared cache (a CDN, a browser) may reuse a read without asking again.
API_MAX_AGE = env_int("API_MAX_AGE", 15, minimum=0)
API_STATUS_OVERDUE_LIMIT = env_int("API_STATUS_OVERDUE_LIMIT", 200)

REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tracker.api.authentication.TokenOrBearerAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["tracker.api.permissions.ReadOrSetStatus"],
    "DEFAULT_THROTTLE_CLASSES": ["tracker.api.throttling.RateLimitThrottle"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "tracker.api.negotiation.ContentNegotiation",
    # Clients are told apart by REMOTE_ADDR; behind N reverse proxies set
    # API_NUM_PROXIES=N so X-Forwarded-For is read, and cannot be forged, correctly.
    "NUM_PROXIES": env_int("API_NUM_PROXIES", 0, minimum=0),
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["tracker.api.parsers.LimitedJSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "tracker.api.pagination.Pagination",
    "PAGE_SIZE": API_PAGE_SIZE,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "tracker.api.exceptions.problem_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "UNICODE_JSON": True,
}
REST_KNOX = {
    # Tokens are stored as SHA-512 digests, expire, and are issued and revoked in the
    # admin (one per client, several per user).
    "TOKEN_TTL": dt.timedelta(days=env_int("API_TOKEN_TTL_DAYS", 90, maximum=36500)),
    "AUTO_REFRESH": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Commitment tracker API",
    "DESCRIPTION": (
        "Progress of critical-minerals agreements, their commitments and milestones. "
        "Reads are public; every GET answers with an ETag (send it back in "
        "If-None-Match to get 304). Errors are RFC 9457 problem details."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"StatusEnum": "commitments.models.Status"},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "tracker.api.schema.typed_nullable_enums",
        "tracker.api.schema.document_answers",
    ],
    "SERVERS": [{"url": SITE_URL, "description": "This tracker"}],
    "LICENSE": {"name": "MIT", "url": "https://spdx.org/licenses/MIT.html"},
    # A name, or Swagger UI calls the contact "the developer".
    "CONTACT": {"name": "Commitment tracker", "url": SITE_URL},
}
# CORS for browser dashboards on other sites: read-only, API paths only, no cookies.
CORS_ALLOWED_ORIGINS = [o for o in env_list("API_CORS_ORIGINS", "") if o != "*"]
CORS_ALLOW_ALL_ORIGINS = "*" in env_list("API_CORS_ORIGINS", "")
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_METHODS = ["GET", "HEAD", "OPTIONS"]
CORS_ALLOW_HEADERS = ["accept", "if-none-match", "if-modified-since"]
CORS_EXPOSE_HEADERS = [
    "ETag",
    "Last-Modified",
    "X-Tracker-As-Of",
    "Retry-After",
    "Link",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Used",
    "X-RateLimit-Reset",
    "X-RateLimit-Resource",
]
CORS_ALLOW_CREDENTIALS = False

# --- The admin's audit trail (django-simple-history) ---------------------------------
# Reverting from the history page would save around the services (and their version
# check); staff copy old values from the trail instead.
SIMPLE_HISTORY_REVERT_DISABLED = True
# --- Alerts: dispatch, webhooks, unsubscribe (tracker/alerts/dispatch.py, webhooks.py) -----
# The dispatcher reads the history table past a cursor that moves this long after it
# saw an id: longer than any transaction that writes history may take to commit.
TRACKER_DISPATCH_GRACE_SECONDS = env_int("TRACKER_DISPATCH_GRACE_SECONDS", 600, minimum=0)
# Webhooks: a short timeout for the whole request, no redirects, and no loopback,
# private or link-local targets unless allowed (the tests allow loopback); an endpoint
# is disabled after this many failed deliveries in a row.
TRACKER_WEBHOOK_TIMEOUT_SECONDS = env_int("TRACKER_WEBHOOK_TIMEOUT_SECONDS", 5)
TRACKER_WEBHOOK_ALLOW_PRIVATE = env_bool("TRACKER_WEBHOOK_ALLOW_PRIVATE", default=False)
TRACKER_WEBHOOK_DISABLE_AFTER = env_int("TRACKER_WEBHOOK_DISABLE_AFTER", 20)
# --- Fetching what someone typed (tracker/fetch.py; watched sources, tracker/intake) --
# Loopback, private and link-local targets are refused unless allowed (tests allow them).
TRACKER_FETCH_ALLOW_PRIVATE = env_bool("TRACKER_FETCH_ALLOW_PRIVATE", default=False)
TRACKER_FETCH_CONNECT_TIMEOUT = env_int("TRACKER_FETCH_CONNECT_TIMEOUT", 5)
TRACKER_FETCH_READ_TIMEOUT = env_int("TRACKER_FETCH_READ_TIMEOUT", 15)
TRACKER_FETCH_TOTAL_SECONDS = env_int("TRACKER_FETCH_TOTAL_SECONDS", 60)
# The decoded body (after gzip) past this many bytes is refused.
TRACKER_FETCH_MAX_BYTES = env_int("TRACKER_FETCH_MAX_BYTES", 5 * 1024 * 1024)
TRACKER_FETCH_ROBOTS_SECONDS = env_int("TRACKER_FETCH_ROBOTS_SECONDS", 3600, minimum=0)
# After a failure a host is left alone this long, doubling per failure up to the max.
TRACKER_FETCH_BACKOFF_SECONDS = env_int("TRACKER_FETCH_BACKOFF_SECONDS", 60, minimum=0)
TRACKER_FETCH_BACKOFF_MAX_SECONDS = env_int("TRACKER_FETCH_BACKOFF_MAX_SECONDS", 6 * 3600)
# Archiving cited pages (tracker/archive): a save queues the page's capture (off: beat's
# archive-due still finds it); a failed fetch is tried again after RETRY seconds,
# doubling, MAX_ATTEMPTS times in all.
TRACKER_ARCHIVE_ON_SAVE = env_bool("TRACKER_ARCHIVE_ON_SAVE", default=True)
TRACKER_ARCHIVE_RETRY_SECONDS = env_int("TRACKER_ARCHIVE_RETRY_SECONDS", 300, minimum=0)
TRACKER_ARCHIVE_MAX_ATTEMPTS = env_int("TRACKER_ARCHIVE_MAX_ATTEMPTS", 8)
# How often each cited address is checked again (tracker/archive/links.py): weekly.
TRACKER_LINK_CHECK_INTERVAL = env_int("TRACKER_LINK_CHECK_INTERVAL", 7 * 24 * 3600)
# Intake (tracker/intake): a suggestion scoring below this is not shown (the figures of
# tests/intake/test_quality.py are measured at it).
TRACKER_INTAKE_MIN_SCORE = env_float("TRACKER_INTAKE_MIN_SCORE", 25.0)
# Unsubscribe links in an email's body expire after this many days; the one-click
# List-Unsubscribe header's link lasts for the message's lifetime (ONECLICK days).
TRACKER_UNSUBSCRIBE_LINK_DAYS = env_int("TRACKER_UNSUBSCRIBE_LINK_DAYS", 30)
TRACKER_UNSUBSCRIBE_ONECLICK_DAYS = env_int("TRACKER_UNSUBSCRIBE_ONECLICK_DAYS", 3650)
# Unsubscribe POSTs allowed per hour (tracker.ops.throttle): with a valid link, per
# address the link names; with an invalid one, per client. A valid link is never
# counted per client: mail providers send one-click POSTs for many readers from a few
# shared addresses (docs/deploy.md).
TRACKER_UNSUBSCRIBE_PER_ADDRESS = env_int("TRACKER_UNSUBSCRIBE_PER_ADDRESS", 10)
TRACKER_UNSUBSCRIBE_PER_CLIENT = env_int("TRACKER_UNSUBSCRIBE_PER_CLIENT", 20)
# --- Public site (tracker.public: pages, timeline, calendar, feeds, badges, follow) ---
# Seconds a follow-by-email confirmation link stays valid.
TRACKER_FOLLOW_CONFIRM_MAX_AGE = env_int("TRACKER_FOLLOW_CONFIRM_MAX_AGE", 3 * 24 * 3600)
# Follow requests allowed per hour for one address, and for one client (REMOTE_ADDR);
# counted in the default cache (set CACHE_URL so that every web worker shares them).
TRACKER_FOLLOW_PER_ADDRESS = env_int("TRACKER_FOLLOW_PER_ADDRESS", 3)
TRACKER_FOLLOW_PER_CLIENT = env_int("TRACKER_FOLLOW_PER_CLIENT", 20)
# Seconds a badge, a calendar or a feed may be reused by a browser or a CDN.
TRACKER_PUBLIC_MAX_AGE = env_int("TRACKER_PUBLIC_MAX_AGE", 300, minimum=0)
# --- REST API, second pass (tracker.api; docs/api.md) -----------------------------
# 304s are free against the rate limit but count in a bucket of their own, this many
# times the limit (a flood of conditional requests is still bounded).
API_REVALIDATION_FACTOR = env_int("API_REVALIDATION_FACTOR", 10)
# A PATCH body nested deeper than this is a 400 (Python's parser would recurse).
API_MAX_JSON_DEPTH = env_int("API_MAX_JSON_DEPTH", 32)
# The cache (rate limits) down or hanging: each call gives up after API_CACHE_TIMEOUT_MS
# (connect and read), and the process leaves the cache alone for
# API_CACHE_RETRY_SECONDS (tracker.ops.ratelimit); limits are off meanwhile.
API_CACHE_TIMEOUT_MS = env_int("API_CACHE_TIMEOUT_MS", 250)
API_CACHE_RETRY_SECONDS = env_int("API_CACHE_RETRY_SECONDS", 5, minimum=0)
# Problem details for a CSRF failure under /api/ (Django's page elsewhere).
CSRF_FAILURE_VIEW = "tracker.api.exceptions.csrf_failure"
# --- Deployment and hardening (tracker/ops; deploy/; docs/deploy.md) -------------
# The documented production environment is deploy/tracker.env.example; with it,
# `manage.py check --deploy` gives no warning (tests/deploy/test_check_deploy.py).

# HTTPS_ONLY=true behind a TLS-terminating proxy: redirect plain HTTP, send HSTS, keep
# cookies to HTTPS. Off in the embedded default, which serves plain HTTP on loopback.
HTTPS_ONLY = env_bool("HTTPS_ONLY", default=False)
SECURE_SSL_REDIRECT = HTTPS_ONLY
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if HTTPS_ONLY else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=HTTPS_ONLY)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# X-Forwarded-For/-Proto/-Host are read only from these peers (the proxy's address, or
# networks in CIDR form); from anyone else tracker.ops.middleware drops them, so a
# client that reaches gunicorn directly cannot pick its own address for the rate limit
# or the login lockout. With API_NUM_PROXIES=1 the client is the address nginx appends.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", "127.0.0.1,::1")
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"TRUSTED_PROXIES={','.join(TRUSTED_PROXIES)!r}: {_proxy!r} is not an address "
            "or a network (10.0.0.10, 10.0.0.0/24)."
        ) from None

# Content security policy (django-csp) on every answer: no inline script anywhere, the
# admin and the API docs included (the docs' templates are in tracker/ops/templates).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Admin login: after AXES_FAILURE_LIMIT wrong passwords for one username from one
# address, that pair is locked out for AXES_COOLOFF_MINUTES (HTTP 429). Keyed on the
# pair, so an attacker locks out only their own guesses, never every staff member.
# Reset: `manage.py axes_reset_username <name>` (or axes_reset_ip, axes_reset).
AUTHENTICATION_BACKENDS = [
    "tracker.ops.auth.AxesBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 60, maximum=525_600))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "tracker.ops.client_ip.client_ip"
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_VERBOSE = False

# A database that does not answer a connection must not hold a request or a probe.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env_int("DATABASE_CONNECT_TIMEOUT", 5)
    )

# Every Redis connection (broker, cache) has a connect and a read timeout and TCP
# keepalive; TCP_USER_TIMEOUT makes the kernel give up on a connection whose sent
# bytes stay unacknowledged (a blackholed link), so a worker or beat blocked on it sees
# an error, and reconnects, within about REDIS_TIMEOUT + 30 s.
REDIS_TIMEOUT = env_int("REDIS_TIMEOUT", 3)
_KEEPALIVE = {
    socket.TCP_KEEPIDLE: 20,
    socket.TCP_KEEPINTVL: 5,
    socket.TCP_KEEPCNT: 3,
    socket.TCP_USER_TIMEOUT: 30_000,  # milliseconds
}
REDIS_SOCKET_OPTIONS = {
    "socket_connect_timeout": REDIS_TIMEOUT,
    "socket_timeout": REDIS_TIMEOUT,
    "socket_keepalive": True,
    "socket_keepalive_options": _KEEPALIVE,
    "health_check_interval": 15,
}
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # Kombu also drops a BRPOP whose reply is overdue by health_check_interval.
    CELERY_BROKER_TRANSPORT_OPTIONS.update(REDIS_SOCKET_OPTIONS)
# Worker and beat reconnect for ever (Celery's default gives up after 100 tries).
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_TIMEOUT
if REDIS_CACHE_URL:
    CACHES["default"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_CACHE_URL,
        # The cache's own timeouts are API_CACHE_TIMEOUT_MS, shorter than REDIS_TIMEOUT.
        "OPTIONS": {
            **REDIS_SOCKET_OPTIONS,
            "socket_connect_timeout": API_CACHE_TIMEOUT_MS / 1000,
            "socket_timeout": API_CACHE_TIMEOUT_MS / 1000,
        },
    }

# /metrics (Prometheus text): with METRICS_TOKEN set, it needs "Authorization: Bearer
# <token>"; without, it answers only on loopback to a direct (not proxied) request.
# Under gunicorn, PROMETHEUS_MULTIPROC_DIR (set by deploy/gunicorn.conf.py) adds up the
# request counters of every worker process.
METRICS_TOKEN = env_secret("METRICS_TOKEN") if os.environ.get("METRICS_TOKEN") else ""
