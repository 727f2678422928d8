"""The record's words on the pages, in the reader's language, saying whose words they
are: a Japanese source's, our translation (当サイトによる翻訳), or English where there
is no Japanese version (marked). English pages are as they were."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import translation

from commitments.models import Commitment, LogEntry
from tests.commitments.test_japanese import MINISTERIAL, OFFICIAL_TITLE
from tests.factories import CommitmentFactory

pytestmark = pytest.mark.usefixtures("frozen")
TAG = Template('{% load tracker_public %}{% record_text obj "title" %}')


def render(obj: object, language: str) -> str:
    with translation.override(language):
        return TAG.render(Context({"obj": obj}))


@pytest.mark.django_db
def test_our_translation_is_marked_and_a_missing_one_falls_back_to_english_visibly():
    ours = CommitmentFactory(title="Convene <the> Ministerial", title_ja="閣僚会合の開催")
    assert render(ours, "ja") == (
        '<span lang="ja">閣僚会合の開催</span> '
        '<small class="record-origin">（当サイトによる翻訳）</small>'
    )
    quoted = CommitmentFactory(title="Quoted", title_ja="大臣級投資会合", ja_is_translation=False)
    assert render(quoted, "ja") == '<span lang="ja">大臣級投資会合</span>'
    english_only = CommitmentFactory(title="Only <English>")
    assert render(english_only, "ja") == (
        '<span lang="en">Only &lt;English&gt;</span> '
        '<small class="record-fallback">（日本語版なし・英語のまま表示）</small>'
    )
    # English readers see the English text, escaped, with no markup added.
    assert render(ours, "en") == "Convene &lt;the&gt; Ministerial"


def test_the_us_japan_pages_in_japanese_show_the_official_and_the_translated_words(
    client, ministerial
):
    agreement = ministerial.commitment.agreement
    entry = LogEntry.objects.get(key="japan-at-multilateral-ministerial-2026-02-04")
    other = Commitment.objects.filter(agreement=agreement, title_ja__isnull=True).first()
    assert other is not None
    with translation.override("ja"):  # the Japanese addresses (each request sets its own)
        addresses = [
            reverse("tracker:agreement", args=[agreement.slug]),
            reverse("tracker:milestone", args=[ministerial.pk]),
            reverse("tracker:commitment", args=[agreement.slug, other.key]),
        ]
    assert all(a.startswith("/ja/") for a in addresses)
    page = client.get(addresses[0]).content.decode()
    milestone = client.get(addresses[1]).content
    commitment = client.get(addresses[2])
    assert f'<h1><span lang="ja">{OFFICIAL_TITLE}</span></h1>' in page
    assert f'<span lang="ja">{MINISTERIAL}</span></a>' in page
    assert '<h1><span lang="ja">大臣級投資会合</span></h1>' in milestone.decode()
    translated = f'<span lang="ja">{entry.text_ja}</span> <small class="record-origin">'
    assert translated in milestone.decode()
    assert f'<h1><span lang="en">{other.title_en}</span> <small class="record-fallback">' in (
        commitment.content.decode()
    )


def test_the_english_pages_are_unchanged(client, ministerial):
    agreement = ministerial.commitment.agreement
    page = client.get(reverse("tracker:agreement", args=[agreement.slug])).content.decode()
    assert f"<h1>{agreement.title}</h1>" in page
    assert '<span lang="ja">' not in page and "当サイト" not in page
