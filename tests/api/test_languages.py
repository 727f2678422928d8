"""Both languages in every answer, no negotiation: the same address gives the same
body whatever Accept-Language says (cacheable), with the Japanese beside the English
and whose words it is."""

from __future__ import annotations

import pytest
from django.utils import translation

from tests.commitments.test_japanese import MINISTERIAL, OFFICIAL_TITLE

pytestmark = pytest.mark.usefixtures("frozen")
US_JAPAN = "us-japan-critical-minerals-2025"


def test_records_carry_both_languages_and_say_whose_japanese_it_is(api, ministerial):
    agreement = api.get(f"/api/v1/agreements/{US_JAPAN}/").json()
    assert agreement["title"].startswith("United States–Japan Framework")
    assert (agreement["title_ja"], agreement["ja_is_translation"]) == (OFFICIAL_TITLE, False)
    assert agreement["summary_ja"] is None  # no Japanese version: read "summary"
    commitment = api.get(f"/api/v1/commitments/{ministerial.commitment_id}/").json()
    assert (commitment["title_ja"], commitment["ja_is_translation"]) == (MINISTERIAL, False)
    (inline,) = [m for m in commitment["milestones"] if m["id"] == ministerial.pk]
    assert (inline["title"], inline["title_ja"]) == (
        "Mining, Minerals and Metals Investment Ministerial",
        "大臣級投資会合",
    )
    log = api.get(f"/api/v1/milestones/{ministerial.pk}/log/").json()
    ours = [e for e in log["results"] if e["text_ja"]]
    assert ours and all(e["ja_is_translation"] for e in ours)


def test_the_api_does_not_negotiate_on_accept_language(api, ministerial):
    url = f"/api/v1/commitments/{ministerial.commitment_id}/"
    english = api.get(url)
    japanese = api.get(url, HTTP_ACCEPT_LANGUAGE="ja")
    with translation.override("ja"):  # even with Japanese active, "title" is English
        active = api.get(url)
    assert english.content == japanese.content == active.content
    assert "accept-language" not in english.get("Vary", "").lower()
    with translation.override("ja"):
        csv = api.get(f"/api/v1/milestones/?format=csv&agreement={US_JAPAN}")
    text = b"".join(csv.streaming_content).decode()
    assert "Mining, Minerals and Metals Investment Ministerial" in text and "大臣級" not in text


def test_the_schema_documents_the_japanese_fields(api, db):
    schema = api.get("/api/schema/?format=json").json()["components"]["schemas"]
    fields = schema["Commitment"]["properties"]
    assert {"title_ja", "summary_ja", "ja_is_translation"} <= set(fields)
    assert fields["title_ja"]["nullable"] is True
    assert "tracker's translation" in fields["ja_is_translation"]["description"]
