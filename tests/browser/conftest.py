"""The Chromium fixture of the browser tests: Playwright drives Debian's Chromium (never
a browser of its own download)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from django.db import connections

from tests.conftest import require_service


@pytest.fixture
def browser(monkeypatch) -> Iterator[object]:
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium")
    require_service(chromium is not None, "Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the test
    # makes around it are still plain synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()
        # With Playwright's event loop running in this thread, Django keeps the test's
        # ORM connection apart (asgiref's Local, as for async code), so pytest-django's
        # own close never reaches it: closed here, or it outlives the test database.
        connections.close_all()
