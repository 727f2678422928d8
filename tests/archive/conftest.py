"""Local web servers (tests/intake's: 127.0.0.2, one host per server, the real
private-address guard), WARC files in a directory of the test's own, and archiving
on save turned on."""

from __future__ import annotations

import pytest

from tests.intake.conftest import _fresh_fetch_state, site, sites  # noqa: F401


@pytest.fixture(autouse=True)
def archive_dir(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "archive": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "archive")},
        },
    }
    settings.TRACKER_ARCHIVE_ON_SAVE = True
    return tmp_path / "archive"
