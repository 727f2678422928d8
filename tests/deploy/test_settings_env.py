"""A bad value in the environment stops start-up (``manage.py check``, and so
gunicorn's import of the settings) with one line naming the variable and the value,
rather than a traceback deep in a library, a 500 on every request, or a service
running with a value nobody meant."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def check(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``manage.py check`` in an environment of its own: nothing of this shell's."""
    base = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "x",
        "TRACKER_VAR_DIR": str(tmp_path),
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_embedded_default_starts(tmp_path):
    """The cases below can pass: this environment, with nothing bad in it, starts."""
    done = check(tmp_path)
    assert done.returncode == 0, done.stderr


BAD = [
    # Read by the middleware on every request: a 500 for every page and probe.
    ("TRUSTED_PROXIES", "10.0.0.10,nginx.internal"),
    ("TRUSTED_PROXIES", "10.0.0.0/33"),
    # Read by the throttle on every API request: a 500 for each.
    ("API_ANON_RATE", "lots"),
    ("API_ANON_RATE", "120"),
    ("API_USER_RATE", "-5/min"),
    ("API_USER_RATE", "10/fortnight"),
    # A traceback deep in dj-database-url.
    ("DATABASE_URL", "nonsense"),
    ("DATABASE_URL", "postgres://tracker@db.internal:notaport/tracker"),
    # /readyz a 500 (redis-py refuses the scheme), the rate limits silently off.
    ("CACHE_URL", "db.internal:6379/1"),
    # Started, and the worker or the first doorbell failed later.
    ("CELERY_BROKER_URL", "db.internal:6379/0"),
    ("CELERY_BROKER_URL", "reddis://db.internal:6379/0"),
    # Every link in emails, feeds and calendars without a scheme, or without a host.
    ("SITE_URL", "tracker.example.org"),
    ("SITE_URL", "https://"),
    ("TRACKER_ARCHIVE_S3_ENDPOINT", "s3.example.org"),
    # Numbers out of range: started with a sweep scheduled every -60 s, no alert ever
    # sent (a batch of 0), a port no server listens on, a 0 s Redis timeout; or a
    # traceback (OverflowError) from a lifetime too long for a timedelta.
    ("TRACKER_SWEEP_INTERVAL", "-60"),
    ("TRACKER_DELIVERY_BATCH", "0"),
    ("EMAIL_PORT", "99999"),
    ("REDIS_TIMEOUT", "0"),
    ("TRACKER_EMAIL_SENDERS", "0"),
    ("API_PAGE_SIZE", "-1"),
    ("CONN_MAX_AGE", "-5"),
    ("API_TOKEN_TTL_DAYS", "99999999999"),
    ("AXES_COOLOFF_MINUTES", "9999999999999"),
    # A traceback inside Django's settings or logging.config.
    ("TIME_ZONE", "Mars/Olympus"),
    ("TIME_ZONE", "../etc/passwd"),
    ("LOG_LEVEL", "LOUD"),
    ("LOG_LEVEL", "info"),
    # A traceback from float(); or no threshold at all (nothing is below nan).
    ("TRACKER_INTAKE_MIN_SCORE", "high"),
    ("TRACKER_INTAKE_MIN_SCORE", "nan"),
    ("TRACKER_INTAKE_MIN_SCORE", "-1"),
    # A comma too many: silently dropped, so "a list" was not what was written.
    ("ALLOWED_HOSTS", "tracker.example.org,,www.example.org"),
    ("TRUSTED_PROXIES", "10.0.0.10,"),
    ("API_CORS_ORIGINS", ",https://dash.example.org"),
    # A secret of blanks is no secret.
    ("SECRET_KEY", "   "),
    ("METRICS_TOKEN", " "),
]


@pytest.mark.parametrize(("name", "value"), BAD)
def test_a_bad_value_stops_start_up_naming_it(tmp_path, name, value):
    # The endpoint is read only with a bucket.
    done = check(tmp_path, TRACKER_ARCHIVE_S3_BUCKET="archive", **{name: value})
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("django.core.exceptions.ImproperlyConfigured: "), done.stderr
    assert name in last
    assert repr(value) in last or "'***'" in last


def test_a_password_in_a_bad_address_is_not_shown(tmp_path):
    done = check(tmp_path, CACHE_URL="redis:/:s3cret@db.internal:6379/1")
    last = done.stderr.strip().splitlines()[-1]
    assert "CACHE_URL='redis:/:***@db.internal:6379/1'" in last
    assert "s3cret" not in done.stderr


def test_an_empty_zone_or_level_is_the_default(tmp_path):
    """As an empty number is: TIME_ZONE= in an environment file means UTC."""
    done = check(tmp_path, TIME_ZONE="", LOG_LEVEL="")
    assert done.returncode == 0, done.stderr


def test_tls_and_ssl_together_stop_start_up(tmp_path):
    """Both on started, and every email failed in the worker (Django's SMTP backend
    refuses the pair when it is made)."""
    done = check(tmp_path, EMAIL_USE_TLS="true", EMAIL_USE_SSL="true")
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("django.core.exceptions.ImproperlyConfigured: EMAIL_USE_TLS and ")
