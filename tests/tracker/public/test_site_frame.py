"""The frame around every page: the 404 and 500 pages in the site's own look, the
favicon, and the "as of" banner inside a landmark."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders
from django.urls import get_resolver


def test_a_missing_page_is_the_sites_own_404(client, db):
    for url in ("/nope/", "/agreements/nope/", "/milestones/999999/"):
        response = client.get(url)
        assert response.status_code == 404, url
        body = response.content.decode()
        assert "<h1>Page not found</h1>" in body and "/static/tracker/public.css" in body
        assert f"<code>{url}</code>" in body and '<a href="/">All agreements</a>' in body
        assert 'name="as_of"' not in body  # no "see this page as of" for a page that is not


def test_the_api_keeps_its_problem_details_for_a_404(client, db):
    response = client.get("/api/v1/nope/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/problem+json")


def test_the_500_page_needs_no_database_and_no_request_context(rf, settings):
    """No ``db`` fixture: any query fails the test. Django's server_error renders
    500.html with an empty context."""
    settings.ROOT_URLCONF = "config.urls"
    handler = get_resolver().resolve_error_handler(500)
    response = handler(rf.get("/agreements/x/"))
    assert response.status_code == 500
    body = response.content.decode()
    assert "<h1>Something went wrong</h1>" in body
    assert "/static/tracker/public.css" in body and '<main id="main">' in body


def test_favicon_ico_answers_with_the_static_icon(client, db):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"] == "/static/tracker/favicon.ico"
    found = finders.find("tracker/favicon.ico")
    assert found is not None
    with open(found, "rb") as icon:
        assert icon.read(4) == b"\x00\x00\x01\x00"  # the ICO header
    assert finders.find("tracker/favicon.svg") is not None
    page = client.get("/").content.decode()
    assert '<link rel="icon" href="/static/tracker/favicon.svg" type="image/svg+xml">' in page


@pytest.mark.usefixtures("frozen")
def test_the_as_of_banner_sits_inside_the_main_landmark(client, ministerial):
    body = client.get(f"/milestones/{ministerial.pk}/?as_of=2026-04-26").content.decode()
    assert body.index('<main id="main">') < body.index('class="asof"') < body.index("</main>")
