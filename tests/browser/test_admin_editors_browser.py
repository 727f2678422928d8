"""Two staff editors on the same commitment, in headless Chromium: the second, whose
page is stale, sees who changed what and keeps what she typed. Screenshots of the
milestone list and the admin index are saved under the test's tmp dir."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib.auth.models import Group, User

from commitments.models import Commitment, Milestone
from commitments.permissions import EDITORS
from tests.browser.test_admin_browser import log_in

pytestmark = pytest.mark.browser
NOW = dt.datetime(2026, 11, 21, 3, 0, tzinfo=dt.UTC)


@pytest.fixture
def dora(db) -> User:
    user = User.objects.create_user("dora", "dora@example.org", "pass-dora", is_staff=True)
    user.groups.add(Group.objects.get(name=EDITORS))
    return user


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.mark.django_db(transaction=True)
def test_the_second_editor_sees_the_conflict_and_keeps_her_input(
    browser,
    live_server,
    agreements,
    alice,
    dora,
    tmp_path,
):
    commitment = Commitment.objects.filter(parties__isnull=False).order_by("pk").first()
    assert commitment is not None
    url = f"{live_server.url}/admin/commitments/commitment/{commitment.pk}/change/"
    alice_page = log_in(browser, live_server, "alice")
    dora_page = log_in(browser, live_server, "dora")
    alice_page.goto(url)
    dora_page.goto(url)  # both have the same version open

    alice_page.fill("#id_title_en", "Alice's corrected title")
    alice_page.select_option("#id_assessment", "broken")
    alice_page.fill("#id_assessment_note_en", "Deadline passed; nothing announced.")
    alice_page.click("input[name=_continue]")
    alice_page.wait_for_selector(".messagelist .success")

    dora_page.fill("#id_summary_en", "Dora's summary, typed while Alice saved")
    dora_page.click("input[name=_continue]")
    dora_page.wait_for_selector(".errornote, .errorlist")
    errors = dora_page.locator(".errorlist").first.inner_text()
    assert "Someone else changed this commitment" in errors
    assert "alice" in errors and "title" in errors and "assessment" in errors
    assert dora_page.input_value("#id_summary_en") == "Dora's summary, typed while Alice saved"
    dora_page.screenshot(path=tmp_path / "conflict.png", full_page=True)

    commitment.refresh_from_db()
    assert commitment.title == "Alice's corrected title"
    assert (commitment.assessment, commitment.summary) == ("broken", commitment.summary)
    assert "Dora" not in commitment.summary

    alice_page.goto(f"{live_server.url}/admin/commitments/milestone/")
    alice_page.set_viewport_size({"width": 1600, "height": 900})
    badges = alice_page.locator(".overdue-badge")
    assert badges.count() >= 1 and "overdue" in badges.first.inner_text()
    assert alice_page.locator("img[src$='icon-yes.svg']").count() == 0
    alice_page.screenshot(path=tmp_path / "milestones.png", full_page=True)
    # The first overdue rows may be other agreements' (Washington's, Kuala Lumpur's
    # zones): open US–Japan's Ministerial, judged in Tokyo.
    japan = Milestone.objects.get(
        key="ministerial-convened", commitment__agreement__slug="us-japan-critical-minerals-2025"
    )
    alice_page.goto(f"{live_server.url}/admin/commitments/milestone/{japan.pk}/change/")
    overdue = alice_page.locator(".field-overdue_display").inner_text()
    assert "overdue since 2026-04-27 00:00 JST" in overdue
    alice_page.screenshot(path=tmp_path / "milestone.png", full_page=True)
    alice_page.goto(f"{live_server.url}/admin/")
    assert alice_page.locator("#needs-attention").count() == 1
    alice_page.screenshot(path=tmp_path / "index.png", full_page=True)
    print(f"screenshots in {tmp_path}")
