"""Issue 23: a staff editor learns of a finding from the admin index and logs it on
the milestone it bears on in three clicks (the finding, "Log it on …", save), in
headless Chromium; the public milestone page then shows the entry with its address
and the source's own words. A screenshot of the finding's page is saved under the
test's tmp dir."""

from __future__ import annotations

import pytest

from commitments.models import LogEntry, Milestone
from tests.browser.test_admin_browser import log_in
from tests.intake.test_admin import make
from tracker.intake import seeds
from tracker.intake.models import Finding

pytestmark = pytest.mark.browser
ADDRESS = "https://example.org/ministerial"
TEXT = (
    "Ministers of Japan and the United States met for the Mining, Minerals and Metals "
    "Investment Ministerial. They set investment priorities for critical minerals projects."
)


@pytest.mark.django_db(transaction=True)
def test_staff_log_a_finding_in_three_clicks_and_the_public_page_shows_it(
    browser,
    live_server,
    agreements,
    alice,
    tmp_path,
):
    seeds.load()
    finding = make(ADDRESS, "Japan and US hold the Ministerial", TEXT)
    ministerial = Milestone.objects.get(key="ministerial-convened")
    page = log_in(browser, live_server, "alice")  # on the admin index
    clicks = 0

    def click(selector: str) -> None:
        nonlocal clicks
        clicks += 1
        page.locator(selector).first.click()

    # 1. The index's "needs attention" names the finding.
    click(f'#needs-attention a[href$="/intake/finding/{finding.pk}/change/"]')
    page.wait_for_selector(".finding-excerpt")
    page.screenshot(path=tmp_path / "finding.png", full_page=True)
    # 2. Its best suggestion offers the commitment's milestones, one button each.
    click(f'.finding-log-on a.button:has-text("Log it on “{ministerial.title}”")')
    page.wait_for_selector("input[value='Save the log entry']")
    assert page.locator("#id_milestone").input_value() == str(ministerial.pk)
    # 3. Prefilled: the day, the text, the address, the sentences that matched.
    click("input[value='Save the log entry']")
    page.wait_for_selector(".messagelist .success")
    assert clicks == 3

    entry = LogEntry.objects.get(milestone=ministerial, source_address=ADDRESS)
    assert entry.source_kind == "quote" and entry.source_passage
    assert Finding.objects.get(pk=finding.pk).state == Finding.State.LOGGED

    page.goto(f"{live_server.url}/milestones/{ministerial.pk}/")
    log = page.locator("section[aria-labelledby='log-h']")
    assert "Japan and US hold the Ministerial" in log.inner_text()
    assert log.locator(f'a[href="{ADDRESS}"]').count() == 1
    quoted = log.locator("blockquote").filter(has_text="Investment Ministerial").inner_text()
    assert quoted == entry.source_passage
    # The item's own sentences (its title among them), in its order.
    assert " ".join(quoted.split()) in " ".join(f"{finding.item.title} {TEXT}".split())
    page.close()
