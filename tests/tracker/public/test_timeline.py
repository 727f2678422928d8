"""The timeline picture read on its own (downloaded, or pasted into an article): it
names its agreement, and no label is cut short."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest

from commitments.models import Milestone

pytestmark = pytest.mark.usefixtures("frozen")
SVG = "{http://www.w3.org/2000/svg}"


def texts(body: bytes) -> list[str]:
    """The words drawn, in order, once each (every text is drawn twice: halo, ink)."""
    root = ElementTree.fromstring(body)
    return [t.text or "" for t in root.iter(f"{SVG}text") if "tl-halo" not in t.get("class", "")]


def test_the_picture_is_headed_by_its_agreements_name(client, ministerial):
    a = ministerial.commitment.agreement
    body = client.get(f"/agreements/{a.slug}/timeline.svg").content
    assert texts(body)[0] == a.short_name
    root = ElementTree.fromstring(body)
    first = next(t for t in root.iter(f"{SVG}text") if "tl-halo" not in t.get("class", ""))
    assert first.get("font-weight") == "bold"


def test_a_long_title_is_wrapped_whole_not_cut(client, ministerial):
    long = (
        "Convene the bilateral Mining, Minerals and Metals Investment Ministerial with "
        "ministers from both Participants and the heads of their financing agencies"
    )
    Milestone.objects.filter(pk=ministerial.pk).update(title=long)
    a = ministerial.commitment.agreement
    drawn = texts(client.get(f"/agreements/{a.slug}/timeline.svg").content)
    assert "…" not in " ".join(drawn)
    start = next(i for i, t in enumerate(drawn) if t.startswith("Convene the bilateral"))
    lines = []
    for line in drawn[start:]:
        lines.append(line)
        if " ".join(lines) == long:
            break
    assert " ".join(lines) == long and len(lines) >= 3
    assert all(len(line) <= 46 for line in lines)


def test_the_png_is_taller_by_the_wrapped_lines(client, ministerial):
    """The PNG is the same markup rendered: a wrapped label makes it taller."""
    import struct

    a = ministerial.commitment.agreement

    def height() -> int:
        png = client.get(f"/agreements/{a.slug}/timeline.png").content
        return struct.unpack(">I", png[20:24])[0]  # IHDR height

    before = height()
    Milestone.objects.filter(pk=ministerial.pk).update(title="M " * 60)
    assert height() > before


@pytest.mark.parametrize(
    "slug", ["us-japan-critical-minerals-2025", "us-malaysia-critical-minerals-2025"]
)
@pytest.mark.parametrize("query", ["", "?as_of=2026-05-01"])
def test_the_download_is_the_pictures_on_the_agreement_page(client, agreements, slug, query):
    """One rule for what the picture shows (``record.briefs_for``): the SVG a reader
    downloads is the figure on the page, today and on a past day."""
    page = client.get(f"/agreements/{slug}/{query}").content.decode()
    svg = client.get(f"/agreements/{slug}/timeline.svg{query}").content.decode()
    drawn = svg.removeprefix('<?xml version="1.0" encoding="UTF-8"?>\n')
    assert drawn.startswith("<svg") and drawn in page
