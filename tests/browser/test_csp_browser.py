"""The content security policy, as a browser enforces it: headless Chromium visits the
public pages, the admin (logged in as an editor, a change form with its scripts
included) and the API docs, with the policy on (no ``bypass_csp``), and collects every
``securitypolicyviolation`` event and every console message about the policy. None
may occur: a violation is a script, a style or an image the page needed and the
browser refused, which the server-side header tests cannot see."""

from __future__ import annotations

import pytest

from commitments.models import Commitment, Milestone
from tests.browser.test_admin_browser import log_in

pytestmark = pytest.mark.browser

# Installed before any of the page's own scripts run, in every frame.
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`
                    + ` at ${e.sourceFile || "?"}:${e.lineNumber}`);
});
"""


def watch(page, seen: list[str]) -> None:
    page.add_init_script(RECORD_VIOLATIONS)
    page.on(
        "console",
        lambda msg: (
            seen.append(f"console: {msg.text}")
            if "Content Security Policy" in msg.text or "Refused to" in msg.text
            else None
        ),
    )


def visit(page, url: str, seen: dict[str, list[str]], console: list[str], wait_for: str = "body"):
    response = page.goto(url)
    assert response is not None and response.status < 500, (url, response and response.status)
    page.wait_for_selector(wait_for)
    page.wait_for_load_state("networkidle")
    found = page.evaluate("() => window.__csp || []") + console[:]
    console.clear()
    seen[url] = found


@pytest.mark.django_db(transaction=True)
def test_no_page_breaks_the_content_security_policy(
    browser,
    live_server,
    agreements,
    alice,
):
    milestone = Milestone.objects.get(key="ministerial-convened")
    commitment: Commitment = milestone.commitment
    agreement = commitment.agreement
    base = live_server.url
    seen: dict[str, list[str]] = {}
    console: list[str] = []

    context = browser.new_context()  # the policy enforced
    page = context.new_page()
    watch(page, console)
    public = [
        "/",
        f"/agreements/{agreement.slug}/",
        f"/agreements/{agreement.slug}/commitments/{commitment.key}/",
        f"/milestones/{milestone.pk}/",
        f"/agreements/{agreement.slug}/?as_of=2026-04-26",
        "/unsubscribe/not-a-valid-token/",  # a 400 page
        "/admin/login/",
    ]
    for path in public:
        visit(page, base + path, seen, console)
    # The API's own documentation: Swagger UI and Redoc draw the page from scripts.
    visit(page, base + "/api/docs/", seen, console, wait_for=".swagger-ui .info")
    visit(page, base + "/api/redoc/", seen, console, wait_for="h1")
    context.close()

    page = log_in(browser, live_server, "alice")
    watch(page, console)
    for path in [
        "/admin/",
        "/admin/commitments/milestone/",
        f"/admin/commitments/milestone/{milestone.pk}/change/",
        "/admin/tracker/subscription/",
        "/admin/tracker/subscription/add/",
    ]:
        visit(page, base + path, seen, console)
    # The change form's scripts (the status choice, the date widgets) run on input.
    page.goto(f"{base}/admin/commitments/milestone/{milestone.pk}/change/")
    page.select_option("#id_new_status", "completed")
    page.wait_for_load_state("networkidle")
    seen["change form after input"] = page.evaluate("() => window.__csp || []") + console
    page.close()

    assert len(seen) >= 15
    assert {url: found for url, found in seen.items() if found} == {}
