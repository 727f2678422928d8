"""A reader's path through the public site in headless Chromium: home → agreement →
commitment → milestone → the day-180 view → follow by email and confirm from the
message the test's SMTP server caught; then the sources page, a 404 and the favicon.
Every page type is checked with axe-core (no
serious or critical violation) and by keyboard (Tab reaches every link); screenshots
at 1280 and 390 px are saved in SCREENSHOT_DIR (default var/screenshots)."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest
import time_machine

from tracker.models import Subscription

pytestmark = pytest.mark.browser
NOW = dt.datetime(2026, 11, 21, 3, 0, tzinfo=dt.UTC)
SHOTS = Path(os.environ.get("SCREENSHOT_DIR", "var/screenshots"))
AGREEMENT = "US–Japan critical minerals framework"


def axe_problems(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def tab_reaches_every_link(page) -> list[str]:
    """Press Tab until focus comes round again; return the links never focused."""
    links = page.eval_on_selector_all(
        "a[href]", "els => els.filter(e => e.offsetParent !== null).map(e => e.href)"
    )
    reached: set[str] = set()
    page.locator("body").focus()
    for _ in range(len(links) + 40):
        page.keyboard.press("Tab")
        href = page.evaluate("() => document.activeElement && document.activeElement.href")
        if href:
            reached.add(href)
    return sorted(set(links) - reached)


def check(page, name: str, problems: dict[str, list[str]]) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}-{page.viewport_size['width']}.png"), full_page=True)
    if page.viewport_size["width"] == 1280:
        problems[f"{name}: axe"] = axe_problems(page)
        problems[f"{name}: keyboard"] = tab_reaches_every_link(page)
    # Nothing may stick out sideways at a phone's width.
    overflow = page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth")
    problems[f"{name}: overflow"] = ["page is wider than the screen"] if overflow else []


@pytest.mark.django_db(transaction=True)
def test_a_reader_finds_a_commitment_reads_day_180_and_follows_it(
    browser,
    live_server,
    agreements,
    smtp_server,
    settings,
):
    settings.SITE_URL = live_server.url
    problems: dict[str, list[str]] = {}
    with time_machine.travel(NOW, tick=True):
        for width in (1280, 390):
            context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
            page = context.new_page()
            page.goto(live_server.url + "/")
            check(page, "1-home", problems)
            page.get_by_role("link", name=AGREEMENT, exact=True).click()
            page.wait_for_selector("svg.timeline")
            check(page, "2-agreement", problems)
            page.get_by_role(
                "link", name="Convene a bilateral Mining, Minerals and Metals"
            ).first.click()
            check(page, "3-commitment", problems)
            page.get_by_role(
                "link", name="Mining, Minerals and Metals Investment Ministerial"
            ).first.click()
            assert "since 2026-04-27 00:00 JST (Asia/Tokyo) (209 days)" in page.content()
            check(page, "4-milestone", problems)
            page.get_by_role("link", name=AGREEMENT).first.click()
            page.get_by_role("link", name="Day 180 (2026-04-26)").click()
            assert "As of 2026-04-26." in page.content()
            check(page, "5-as-of-day-180", problems)
            page.goto(live_server.url + "/?as_of=2026-02-30")
            check(page, "6-bad-as-of", problems)
            page.goto(live_server.url + "/")
            page.get_by_role("link", name="Sources", exact=True).click()
            assert "US and Japan Seal Rare Earths Pact" in page.content()
            check(page, "10-sources", problems)
            response = page.goto(live_server.url + "/agreements/no-such-agreement/")
            assert response is not None and response.status == 404
            assert "Page not found" in page.content()
            check(page, "11-not-found", problems)
            icon = page.goto(live_server.url + "/favicon.ico")
            assert icon is not None and icon.ok and "icon" in icon.headers["content-type"]
            context.close()

        dark = browser.new_context(viewport={"width": 390, "height": 900}, color_scheme="dark")
        page = dark.new_page()
        page.goto(live_server.url + "/agreements/us-japan-critical-minerals-2025/")
        page.screenshot(path=str(SHOTS / "9-agreement-dark-390.png"), full_page=True)
        dark.close()

        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(live_server.url + "/")
        page.get_by_role("link", name=AGREEMENT).click()
        page.fill("#follow-email", "reader@example.org")
        page.get_by_role("button", name="Follow").click()
        page.wait_for_selector("text=Check your inbox")
        check(page, "7-follow-sent", problems)
        for _ in range(100):
            if smtp_server.to("reader@example.org"):
                break
            page.wait_for_timeout(50)
        (message,) = smtp_server.to("reader@example.org")
        body = message.get_body(preferencelist=("plain",)).get_content()
        link = re.search(r"http://\S+/follow/confirm/\S+/", body).group(0)
        assert Subscription.objects.get(email="reader@example.org").pending_since is not None
        page.goto(link)
        check(page, "8-confirm", problems)
        page.get_by_role("button", name="Confirm").click()
        page.wait_for_selector("text=Confirmed")
        page.close()
    assert Subscription.objects.get(email="reader@example.org").pending_since is None
    assert {k: v for k, v in problems.items() if v} == {}
