"""The Japanese timeline picture as PNG draws Japanese glyphs, not boxes. A font without
Japanese draws every missing character as the same box (.notdef), so two different
Japanese words of the same length come out pixel for pixel the same, and as wide as
a word of characters no font has; with fonts-noto-cjk they differ."""

from __future__ import annotations

import io
import shutil

import pytest
from django.utils import translation
from PIL import Image, ImageChops

from tests.conftest import require_service
from tracker.public import timeline

pytestmark = pytest.mark.usefixtures("frozen")
NO_GLYPH = "\U000f0001\U000f0002\U000f0003\U000f0004"  # private use: in no font


def drawn(words: str) -> Image.Image:
    """The words as the Japanese picture draws them (its fonts, its text element)."""
    import cairosvg

    with translation.override("ja"):
        fonts = timeline.FONTS_JA
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="200" height="30" font-family="{fonts}">'
        f'<rect width="200" height="30" fill="#fff"/>{timeline._text(4, 20, words, "text", 16)}'
        "</svg>"
    )
    return Image.open(io.BytesIO(cairosvg.svg2png(bytestring=svg.encode()))).convert("L")


def inked_width(image: Image.Image) -> int:
    box = ImageChops.invert(image).getbbox()
    return box[2] - box[0] if box else 0


@pytest.fixture
def cjk_font():
    require_service(
        bool(shutil.which("fc-list")) and "CJK" in _fonts(), "fonts-noto-cjk is not installed"
    )


def _fonts() -> str:
    import subprocess

    return subprocess.run(["fc-list"], capture_output=True, text=True).stdout


def test_japanese_words_are_drawn_with_their_own_glyphs(cjk_font):
    a, b, boxes = drawn("日本時間"), drawn("期限超過"), drawn(NO_GLYPH)
    assert ImageChops.difference(a, b).getbbox() is not None, "two words drawn the same: boxes"
    assert ImageChops.difference(a, boxes).getbbox() is not None
    assert inked_width(a) > 0 and inked_width(b) > 0


def test_the_japanese_timeline_png_is_drawn_in_a_japanese_font(client, ministerial, cjk_font):
    a = ministerial.commitment.agreement
    ja = client.get(f"/ja/agreements/{a.slug}/timeline.png")
    en = client.get(f"/agreements/{a.slug}/timeline.png")
    assert ja.status_code == en.status_code == 200 and ja["Content-Type"] == "image/png"
    assert ja.content != en.content
    svg = client.get(f"/ja/agreements/{a.slug}/timeline.svg").content.decode()
    assert "font-family=\"'Noto Sans CJK JP'" in svg  # the family cairosvg draws with


def test_a_japanese_title_is_wrapped_to_the_pictures_width():
    """Japanese has no spaces and wide characters: a title is cut into lines that fit."""
    title = "採掘及び加工を通じた重要鉱物及びレアアースの供給確保のための日米枠組み"
    lines = timeline._lines(title, timeline.LABEL_CHARS)
    assert "".join(lines) == title and len(lines) == 2
    assert all(len(line) <= timeline.LABEL_CHARS // 2 for line in lines)
    assert timeline._lines("Mining, Minerals and Metals Investment Ministerial", 46) == [
        "Mining, Minerals and Metals Investment",
        "Ministerial",
    ]
