"""Where the copies go: a directory under TRACKER_VAR_DIR by default, an S3-compatible
bucket when TRACKER_ARCHIVE_S3_BUCKET is set (settings read in a process of its own)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READ = (
    "import json, django; django.setup(); from django.conf import settings; "
    "print(json.dumps(settings.STORAGES['archive']))"
)


def archive_storage(**env: str) -> dict:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "TRACKER_"))}
    base.update(DJANGO_SETTINGS_MODULE="config.settings", SECRET_KEY="t", **env)
    out = subprocess.run(
        [sys.executable, "-c", READ], cwd=ROOT, env=base, capture_output=True, check=True
    )
    return json.loads(out.stdout)


def test_copies_live_under_the_var_directory_by_default(tmp_path):
    got = archive_storage(TRACKER_VAR_DIR=str(tmp_path))
    assert got["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    assert got["OPTIONS"]["location"] == str(tmp_path / "archive")


def test_a_bucket_when_one_is_named(tmp_path):
    got = archive_storage(
        TRACKER_VAR_DIR=str(tmp_path),
        TRACKER_ARCHIVE_S3_BUCKET="tracker-archive",
        TRACKER_ARCHIVE_S3_ENDPOINT="https://s3.example.org",
    )
    assert got["BACKEND"] == "storages.backends.s3.S3Storage"
    assert got["OPTIONS"]["bucket_name"] == "tracker-archive"
    assert got["OPTIONS"]["endpoint_url"] == "https://s3.example.org"
    assert got["OPTIONS"]["file_overwrite"] is False
