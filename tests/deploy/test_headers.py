"""Security headers and the content security policy on every kind of page, and no
inline script or style left in them for the policy to allow."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import User

from commitments.models import Milestone

STRICT = {
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "frame-ancestors 'none'",
    "form-action 'self'",
}


class InlineFinder(HTMLParser):
    """Collects what a strict CSP would block: script elements with a body, style
    elements, style="" and on…="" attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script" and "src" not in names and names.get("type") != "application/json":
            self._in_script = True
        if tag == "style":
            self.found.append("<style>")
        for name, _ in attrs:
            if name == "style" or name.startswith("on"):
                self.found.append(f"<{tag} {name}=…>")

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.found.append(f"<script>{data.strip()[:60]}")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False


def directives(response) -> set[str]:
    return {d.strip() for d in response["Content-Security-Policy"].split(";")}


def inline_parts(response) -> list[str]:
    finder = InlineFinder()
    finder.feed(response.content.decode())
    return finder.found


@pytest.fixture
def admin_client(client, agreements):
    root = User.objects.create_superuser("root", "root@example.org", "a-long-pass-phrase")
    client.force_login(root)
    return client


def pages() -> list[str]:
    m = Milestone.objects.order_by("pk").first()
    return [
        "/",
        f"/milestones/{m.pk}/",
        "/admin/",
        "/admin/commitments/milestone/",
        f"/admin/commitments/milestone/{m.pk}/change/",
        f"/admin/commitments/commitment/{m.commitment_id}/change/",
        "/admin/auth/user/add/",
        "/admin/tracker/alert/",
        "/api/docs/",
    ]


@pytest.mark.django_db
def test_every_page_has_a_strict_csp_and_nothing_inline_for_it_to_allow(admin_client):
    checked = {}
    for url in pages():
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert directives(response) >= STRICT, (url, response["Content-Security-Policy"])
        checked[url] = inline_parts(response)
    print(checked)
    assert checked == {url: [] for url in checked}


@pytest.mark.django_db
def test_the_login_page_and_the_api_have_the_policy_too(client, agreements):
    for url in ("/admin/login/", "/api/schema/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert directives(response) >= STRICT, url
    assert inline_parts(client.get("/admin/login/")) == []


@pytest.mark.django_db
def test_the_api_answers_data_that_may_load_nothing(client, agreements):
    """JSON and CSV are data, never a document: default-src 'none', every answer of
    every API view (errors and 304s too). The docs keep the site's policy."""
    m = Milestone.objects.order_by("pk").first()
    status = client.get("/api/v1/status/")
    answers = {
        "status": status,
        "304": client.get("/api/v1/status/", HTTP_IF_NONE_MATCH=status["ETag"]),
        "list": client.get("/api/v1/milestones/"),
        "detail": client.get(f"/api/v1/milestones/{m.pk}/"),
        "csv": client.get("/api/v1/milestones/?format=csv"),
        "index": client.get("/api/v1/"),
        "400": client.get("/api/v1/milestones/?page=abc"),
        "404": client.get("/api/v1/milestones/999999999/"),
        "401": client.patch(f"/api/v1/milestones/{m.pk}/", {}, content_type="application/json"),
    }
    assert {name: r.status_code for name, r in answers.items()} == {
        "status": 200, "304": 304, "list": 200, "detail": 200, "csv": 200, "index": 200,
        "400": 400, "404": 404, "401": 401,
    }  # fmt: skip
    data_only = {"default-src 'none'", "frame-ancestors 'none'"}
    assert {name: directives(r) for name, r in answers.items()} == {
        name: data_only for name in answers
    }
    assert directives(client.get("/api/docs/")) >= STRICT


@pytest.mark.django_db
def test_swagger_ui_gets_its_init_script_as_a_file(client):
    page = client.get("/api/docs/")
    assert b'<script src="/api/docs/?script=">' in page.content
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content


@pytest.mark.django_db
def test_only_redoc_relaxes_styles_and_only_for_styles_and_its_worker(client):
    response = client.get("/api/redoc/")
    csp = directives(response)
    assert "style-src 'self' 'unsafe-inline'" in csp
    assert "worker-src blob:" in csp
    assert "script-src 'self'" in csp
    assert inline_parts(response) == []
    assert b"fonts.googleapis.com" not in response.content


@pytest.mark.django_db
def test_frame_denial_nosniff_referrer_policy(client, agreements):
    response = client.get("/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert "frame-ancestors 'none'" in directives(response)


@pytest.mark.django_db
def test_https_only_sends_hsts_and_redirects_plain_http(client, settings, agreements):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31_536_000
    plain = client.get("/")
    assert plain.status_code == 301 and plain["Location"].startswith("https://")
    # Behind nginx (a trusted proxy on loopback) that terminated TLS.
    secure = client.get("/", HTTP_X_FORWARDED_PROTO="https")
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == ("max-age=31536000; includeSubDomains; preload")


@pytest.mark.django_db
def test_a_client_cannot_claim_https_by_itself(client, settings, agreements):
    settings.SECURE_SSL_REDIRECT = True
    # Not from a trusted proxy: the header is dropped, the request is plain HTTP.
    response = client.get("/", HTTP_X_FORWARDED_PROTO="https", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 301
