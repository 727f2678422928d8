"""The archived copy of a cited page, opened by a reader from a milestone page in
headless Chromium: the banner names its fetch time in the agreement's zone, and the
copy itself runs no script (an inline script and an onload handler prove it)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from commitments.models import Source
from tests.intake.conftest import _fresh_fetch_state, sites  # noqa: F401
from tracker.archive import services

pytestmark = pytest.mark.browser
T0 = dt.datetime(2026, 2, 5, 9, 30, tzinfo=dt.UTC)  # 18:30 in Tokyo
PAGE = """<!DOCTYPE html><html><head><title>Original page</title>
<script>document.title = "the inline script ran";</script></head>
<body onload="document.getElementById('words').textContent = 'the onload handler ran'">
<p id="words">The Ministerial will convene in Tokyo.</p></body></html>"""


@pytest.mark.django_db(transaction=True)
def test_the_archived_copy_opens_from_a_milestone_and_runs_no_script(
    browser,
    live_server,
    ministerial,
    sites,  # noqa: F811
    settings,
    tmp_path,
):
    settings.STORAGES = {
        **settings.STORAGES,
        "archive": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    site = sites()
    site.expect_request("/statement").respond_with_data(PAGE, content_type="text/html")
    Source.objects.create(
        milestone=ministerial,
        reference=site.url_for("/statement"),
        passage="The Ministerial will convene in Tokyo.",
        fact="Where it meets.",
    )
    with time_machine.travel(T0, tick=False):
        assert services.archive_address(site.url_for("/statement")).archived
    site.clear()  # from here on the original is gone: the copy is served from the WARC

    page = browser.new_page()  # the site's own CSP applies (no bypass)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/milestones/{ministerial.pk}/")
    page.get_by_role("link", name="archived copy").click()
    page.wait_for_url(f"{live_server.url}/archive/*/")
    banner = page.locator("main").inner_text()
    assert "Fetched\n2026-02-05 18:30 JST (Asia/Tokyo)" in banner
    assert site.url_for("/statement") in banner and "not the original" in banner

    page.get_by_role("link", name="Open the archived page").click()
    page.wait_for_url(f"{live_server.url}/archive/*/raw")
    page.wait_for_load_state("load")
    assert page.locator("#words").inner_text() == "The Ministerial will convene in Tokyo."
    assert page.title() == "Original page"
    assert errors == []
