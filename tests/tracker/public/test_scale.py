"""Public pages at scale: a large agreement's page lists a bounded number of
milestones (the rest a page at a time on each commitment's page), its picture keeps
a bounded number of lanes, and its size does not grow with its milestones. Sizes and
counts here, not times (bench/public.py --part scale measures those)."""

from __future__ import annotations

import re

import pytest

from tests.tracker.public.test_queries import build
from tracker.public import timeline
from tracker.public.views import PAGE_SIZE, SHOWN_PER_COMMITMENT

pytestmark = pytest.mark.usefixtures("frozen")


def listed(body: str) -> int:
    return len(re.findall(r'<th scope="row"><a href="/milestones/\d+/', body))


def lanes(svg: str) -> int:
    """Lanes drawn: each has one grid line under its label."""
    return svg.count('class="tl-grid-line"')


def test_a_large_agreements_page_is_no_bigger_than_a_middling_ones(client, db):
    middling, _, _ = build(300)
    large, commitment, _ = build(1200)
    small_body = client.get(f"/agreements/{middling.slug}/").content
    body = client.get(f"/agreements/{large.slug}/").content
    page = body.decode()
    assert listed(page) == 5 * SHOWN_PER_COMMITMENT  # 5 commitments
    # Four times the milestones: the same rows listed; only the picture's columns fill
    # up (at most WIDTH / BIN of them a lane).
    assert len(body) < 300 * 1024 and len(body) < 1.25 * len(small_body)
    assert (
        f'<a href="/agreements/{large.slug}/commitments/{commitment.key}/">'
        "All 240 milestones of this commitment</a> (230 more than listed here)" in page
    )
    # Every milestone is still counted.
    assert 'aria-label="Progress by status: 600 not started, 600 in progress"' in page
    assert lanes(page) == 5  # one per commitment
    assert page.count("Day ") <= 12 and "earlier ones can be seen" in page


def test_a_large_agreements_picture_has_one_lane_per_commitment(client, db):
    a, _, _ = build(600)
    svg = client.get(f"/agreements/{a.slug}/timeline.svg").content.decode()
    assert lanes(svg) == 5 and "120 dated: " in svg
    assert len(svg) < 60 * 1024
    # A lane per milestone made 600 lanes: a picture cairo refused to render (a 500).
    png = client.get(f"/agreements/{a.slug}/timeline.png")
    assert png.status_code == 200 and png["Content-Type"] == "image/png"


def test_past_max_lanes_commitments_the_rest_share_a_lane(client, db):
    from tests.factories import CommitmentFactory, MilestoneFactory

    a, _, _ = build(15)
    for i in range(5, 20):
        c = CommitmentFactory(agreement=a, number=i)
        MilestoneFactory(commitment=c, rule_kind="days_after", rule_amount=40 + i)
    svg = client.get(f"/agreements/{a.slug}/").content.decode()
    assert lanes(svg) == timeline.MAX_LANES
    assert f"{20 - timeline.MAX_LANES + 1} more commitments" in svg


def test_a_commitments_milestones_come_a_page_at_a_time(client, db):
    a, c, _ = build(5 * (PAGE_SIZE + 10))  # PAGE_SIZE + 10 in each commitment
    url = f"/agreements/{a.slug}/commitments/{c.key}/"
    first = client.get(url).content.decode()
    assert listed(first) == PAGE_SIZE
    assert f"Milestones 1 to {PAGE_SIZE} of {PAGE_SIZE + 10} (page 1 of 2)" in first
    assert 'href="?page=2" rel="next">Next page</a>' in first
    second = client.get(url, {"page": 2, "as_of": "2026-04-27"}).content.decode()
    assert listed(second) == 10
    assert 'href="?page=1&amp;as_of=2026-04-27" rel="prev">Previous page</a>' in second
    assert f"0 of {PAGE_SIZE + 10} milestones completed" in second  # all of them counted


# "²" is a digit to str.isdigit() and not a number to int().
@pytest.mark.parametrize("value", ["3", "0", "x", "-1", "²"])
def test_a_page_that_is_not_there_is_a_400_naming_the_field(client, db, value):
    a, c, _ = build(5 * (PAGE_SIZE + 10))
    response = client.get(f"/agreements/{a.slug}/commitments/{c.key}/", {"page": value})
    assert response.status_code == 400
    body = response.content.decode()
    assert f"The value <code>{value}</code> given for <code>page</code>" in body
    assert "there are pages 1 to 2" in body
