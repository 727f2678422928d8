from __future__ import annotations

import datetime as dt

import time_machine

NOW = dt.datetime(2026, 11, 21, 3, 0, tzinfo=dt.UTC)


def test_the_scoreboard_shows_progress_and_overdue_deadlines(
    client, agreements, django_assert_max_num_queries
):
    with time_machine.travel(NOW, tick=False), django_assert_max_num_queries(3):
        page = client.get("/")
    text = page.content.decode()
    assert page.status_code == 200
    assert "US–Japan critical minerals framework" in text
    assert "Mining, Minerals and Metals Investment Ministerial" in text
    # US–Japan's two, US–Australia's two, Malaysia's first quarterly meeting.
    assert text.count(">overdue<") == 5


def test_a_milestone_page_shows_rule_due_date_and_sources(client, ministerial):
    with time_machine.travel(NOW, tick=False):
        page = client.get(f"/milestones/{ministerial.pk}/")
    text = page.content.decode()
    assert "180 days after signature: due April 26, 2026 (Asia/Tokyo)" in text
    assert "overdue by 209 day(s)" in text
    assert "002_9d03994fb32bb4e5.txt" in text


def test_an_unknown_milestone_is_a_404(client, db):
    assert client.get("/milestones/999999/").status_code == 404
