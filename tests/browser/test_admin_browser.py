"""A staff editor completes a milestone in the admin, in headless Chromium; a viewer
cannot. Playwright drives Debian's Chromium (never a browser of its own download)."""

from __future__ import annotations

import pytest

from commitments.models import Milestone, StatusUpdate

pytestmark = pytest.mark.browser
EVIDENCE = "https://www.meti.go.jp/english/press/ministerial.html"


def log_in(browser, live_server, username: str):
    page = browser.new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", f"pass-{username}")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    return page


@pytest.mark.django_db(transaction=True)
def test_an_editor_completes_the_ministerial_and_sees_it_in_history(
    browser, live_server, agreements, alice
):
    m = Milestone.objects.get(key="ministerial-convened")
    page = log_in(browser, live_server, "alice")
    page.goto(f"{live_server.url}/admin/commitments/milestone/{m.pk}/change/")
    page.select_option("#id_new_status", "completed")
    page.fill("#id_note", "Ministerial held; joint statement published")
    page.fill("#id_evidence", EVIDENCE)
    page.fill("#id_completed", "2026-04-24")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    history = page.locator("#updates-group").inner_text()
    assert "Ministerial held; joint statement published" in history
    assert "alice" in history and EVIDENCE in history
    page.close()

    update = StatusUpdate.objects.get(milestone=m)
    assert (update.by.username, update.to_status) == ("alice", "completed")


@pytest.mark.django_db(transaction=True)
def test_a_viewer_cannot_change_status(browser, live_server, agreements, bob):
    m = Milestone.objects.get(key="ministerial-convened")
    page = log_in(browser, live_server, "bob")
    page.goto(f"{live_server.url}/admin/commitments/milestone/{m.pk}/change/")
    assert page.locator("#id_new_status").count() == 0
    assert page.locator("input[name=_save]").count() == 0
    assert "Mining, Minerals and Metals Investment Ministerial" in page.content()
    page.close()
    m.refresh_from_db()
    assert m.status == "not_started"
