"""A milestone's page as staff see it in a 1,280 px window, with the long addresses,
notes and passages a real record has: it fits the window, and every time on it names
its zone. A screenshot is saved under the test's tmp dir."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine

from commitments import services
from commitments.models import LogEntry, Milestone, Source
from tests.browser.test_admin_browser import log_in
from tracker.models import Alert

pytestmark = pytest.mark.browser
NOW = dt.datetime(2026, 12, 7, 4, 33, tzinfo=dt.UTC)  # 13:33 in Tokyo
ADDRESS = (
    "https://www.meti.go.jp/english/press/2025/1028_001_framework_for_securing_the_supply"
    "_of_critical_minerals_and_rare_earths_through_mining_and_processing.html"
)
WINDOW = {"width": 1280, "height": 900}


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=True):
        yield


def a_full_record(milestone: Milestone, by) -> None:
    services.milestone_set_status(
        milestone=milestone,
        status="in_progress",
        by=by,
        note="Ministers met and agreed a work plan; " * 6,
        evidence_url=ADDRESS,
    )
    milestone.refresh_from_db()
    services.milestone_revise_deadline(
        milestone=milestone,
        rule=milestone.rule,
        reason="The parties moved the ministerial to the spring. " * 3,
        source=ADDRESS,
        by=by,
    )
    Source.objects.create(
        milestone=milestone,
        reference=ADDRESS,
        kind="quote",
        passage="The Participants intend to convene a ministerial meeting. " * 12,
        fact="The framework names a ministerial within 180 days of signature. " * 8,
    )
    services.logentry_create(
        by=by,
        milestone=milestone,
        on=dt.date(2026, 11, 20),
        kind=LogEntry.Kind.PROGRESS,
        text="The ministry announced the date of the ministerial. " * 5,
        source_address=ADDRESS,
        source_passage="The ministerial will be held in Tokyo. " * 10,
    )
    Alert.objects.create(
        milestone=milestone,
        kind="overdue",
        recipient="editor@example.org",
        due_on=dt.date(2026, 4, 26),
        created_at=NOW,
        next_attempt_at=NOW,
        last_error="550 5.1.1 mailbox unavailable; the remote server refused it " * 3,
    )


@pytest.mark.django_db(transaction=True)
def test_the_milestone_page_fits_1280_pixels_and_names_the_zone_of_every_time(
    browser,
    live_server,
    agreements,
    alice,
    tmp_path,
):
    milestone = Milestone.objects.get(key="ministerial-convened")
    a_full_record(milestone, alice)
    page = log_in(browser, live_server, "alice")
    page.set_viewport_size(WINDOW)
    page.goto(f"{live_server.url}/admin/commitments/milestone/{milestone.pk}/change/")
    page.screenshot(path=tmp_path / "milestone-1280.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= WINDOW["width"]
    # Inline times in the agreement's zone, named; none in Django's "1:33 p.m.".
    history = page.locator("#updates-group").inner_text()
    assert "2026-12-07 13:33 JST (Asia/Tokyo)" in history
    assert "2026-12-07 13:33 JST" in page.locator("#alerts-group").inner_text()
    assert not re.search(r"\b[ap]\.m\.", page.locator("#content").inner_text())
    page.close()
