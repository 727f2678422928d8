"""A Japanese reader's path in headless Chromium: /ja/ home → agreement → milestone →
the day-180 view, at 1280 and 360 px. Every page is axe-clean, nothing sticks out
sideways, and no English interface word is left: English on the page is record text
(the record is kept in English until a Japanese version exists), and each such element
says so with lang="en". Screenshots are saved in SCREENSHOT_DIR (var/screenshots)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from tests.browser.test_public_browser import SHOTS, axe_problems

pytestmark = pytest.mark.browser
NOW = dt.datetime(2026, 11, 21, 3, 0, tzinfo=dt.UTC)
AGREEMENT = "日米枠組み"  # the official Japanese title's own words
AGREEMENT_PATH = "/ja/agreements/us-japan-critical-minerals-2025/"

# English words a Japanese page may show outside the record: names of formats and
# protocols, the input format of a date, zone names as IANA writes them, US$.
ALLOWED = (
    r"https?://\S+|[\w.+-]+@[\w.-]+|\b(?:API|SVG|PNG|CSV|JSON|Atom|iCalendar|shields\.io)\b"
    r"|YYYY-MM-DD|\bas_of\b|US\$|\b[A-Z][a-z]+/[A-Za-z_]+\b|\bUTC\b"
)
# Text nodes whose nearest lang="" is not English, with an English word left in them.
ENGLISH_LEFT = """(pattern) => {
  const left = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const allowed = new RegExp(pattern, "g");
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    // Quotations keep the source's words and language; <title>/<desc> are not shown.
    if (!el || el.closest("script, style, code, blockquote, q, title, desc")) continue;
    const lang = (el.closest("[lang]") || document.documentElement).getAttribute("lang");
    if (lang.startsWith("en")) continue;
    const words = node.textContent.replace(allowed, " ");
    if (/[A-Za-z]{2,}/.test(words)) left.push(el.tagName + ": " + node.textContent.trim());
  }
  return left;
}"""


# Elements that reach past the right edge of the screen (nothing may, at 360 px), unless
# inside a box that scrolls sideways on purpose (a wide table's .scroll).
STICKING_OUT = """() => {
  const width = document.documentElement.clientWidth, out = [];
  for (const el of document.body.querySelectorAll("*")) {
    if (el.closest(".scroll, .visually-hidden, .skip")) continue;
    const box = el.getBoundingClientRect();
    if (box.width && box.right > width + 1) out.push(el.tagName + "." + el.className + " " +
      Math.round(box.right) + ": " + (el.textContent || "").trim().slice(0, 40));
  }
  return out.slice(0, 5);
}"""


def look(page, name: str, problems: dict[str, list[str]]) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"]
    page.screenshot(path=str(SHOTS / f"ja-{name}-{width}.png"), full_page=True)
    assert page.evaluate("() => document.documentElement.lang") == "ja"
    if width == 1280:
        problems[f"{name}: axe"] = axe_problems(page)
    problems[f"{name}: English left"] = page.evaluate(ENGLISH_LEFT, ALLOWED)
    problems[f"{name}: overflow"] = page.evaluate(STICKING_OUT)


@pytest.mark.django_db(transaction=True)
def test_a_japanese_reader_follows_the_ministerial_to_day_180(
    browser,
    live_server,
    agreements,
    settings,
):
    settings.SITE_URL = live_server.url
    problems: dict[str, list[str]] = {}
    with time_machine.travel(NOW, tick=True):
        for width in (1280, 360):
            context = browser.new_context(
                viewport={"width": width, "height": 900}, locale="ja-JP", bypass_csp=True
            )
            page = context.new_page()
            page.goto(live_server.url + "/ja/")
            assert "合意とその約束" in page.content()
            look(page, "1-home", problems)
            page.get_by_role("link", name=AGREEMENT, exact=True).click()
            page.wait_for_selector("svg.timeline")
            assert page.url.endswith("/ja/agreements/us-japan-critical-minerals-2025/")
            look(page, "2-agreement", problems)
            page.get_by_role("link", name="大臣級投資会合", exact=True).first.click()
            assert "2026年4月27日 0:00 日本時間から（209日）" in page.content()
            look(page, "3-milestone", problems)
            page.get_by_role("link", name=AGREEMENT).first.click()
            page.get_by_role("link", name="180日目（2026年4月26日）").click()
            assert "2026年4月26日時点。" in page.content()
            assert "?as_of=2026-04-26" in page.url and "/ja/" in page.url
            look(page, "4-as-of-day-180", problems)
            if width == 1280:  # the other page types, in Japanese too
                for name, path in (
                    ("6-commitment", f"{AGREEMENT_PATH}commitments/investment-ministerial/"),
                    ("7-sources", "/ja/sources/"),
                    ("8-bad-as-of", "/ja/?as_of=2026-02-30"),
                    ("9-not-found", "/ja/agreements/no-such-agreement/"),
                ):
                    page.goto(live_server.url + path)
                    look(page, name, problems)
                page.goto(live_server.url + f"{AGREEMENT_PATH}?as_of=2026-04-26")
            # The switch goes to the same page and day in English, and is remembered.
            page.get_by_role("button", name="English").click()
            assert page.url.endswith(
                "/agreements/us-japan-critical-minerals-2025/?as_of=2026-04-26"
            )
            assert page.evaluate("() => document.documentElement.lang") == "en"
            cookies = {c["name"]: c["value"] for c in context.cookies()}
            assert cookies.get("django_language") == "en"
            page.screenshot(path=str(SHOTS / f"ja-5-switched-to-english-{width}.png"))
            problems[f"5-switched-to-english-{width}: overflow"] = page.evaluate(STICKING_OUT)
            context.close()

        # A first visit from a Japanese browser: the English page suggests /ja/, no redirect.
        context = browser.new_context(viewport={"width": 360, "height": 900}, locale="ja-JP")
        page = context.new_page()
        page.goto(live_server.url + "/")
        assert page.evaluate("() => document.documentElement.lang") == "en"
        page.get_by_role("link", name="このページは日本語でもお読みいただけます").click()
        assert page.url == live_server.url + "/ja/"
        context.close()
    assert {k: v for k, v in problems.items() if v} == {}
