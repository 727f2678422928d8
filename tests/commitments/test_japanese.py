"""The record in Japanese: the official words where a Japanese source has them, our
translation marked as such elsewhere, English where there is no Japanese; the loader
reads both languages, the audit trail keeps both."""

from __future__ import annotations

import copy
import json

import pytest
from django.utils import translation

from commitments import services
from commitments.loader import DEFAULT_PATH, FixtureError, load_agreements, validate
from commitments.models import Agreement, Commitment, LoadedRecord, LogEntry, Milestone, Source
from tests.factories import CommitmentFactory

OFFICIAL_TEXT = "https://worldjpn.net/documents/texts/JPUS/20251028.O1J.html"
OFFICIAL_TITLE = "採掘及び加工を通じた重要鉱物及びレアアースの供給確保のための日米枠組み"
JST_SUMMARY = "https://crds.jst.go.jp/dw/?p=43800"
MINISTERIAL = "180日以内に大臣級投資会合を開催し、投資方針と優先分野を協議する"
DATA = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))


def test_the_us_japan_framework_has_its_official_japanese_title(agreements):
    framework = Agreement.objects.get(slug="us-japan-critical-minerals-2025")
    assert framework.title_ja == OFFICIAL_TITLE
    assert framework.ja_is_translation is False
    quote = framework.sources.get(reference=OFFICIAL_TEXT, passage=OFFICIAL_TITLE)
    assert (quote.kind, quote.language) == ("quote", "ja")
    with translation.override("ja"):
        assert Agreement.objects.get(pk=framework.pk).title == OFFICIAL_TITLE


def test_the_investment_ministerial_reads_in_its_japanese_sources_words(agreements):
    commitment = Commitment.objects.get(
        agreement__slug="us-japan-critical-minerals-2025", key="investment-ministerial"
    )
    assert commitment.title_ja == MINISTERIAL and commitment.ja_is_translation is False
    quote = commitment.sources.get(reference=JST_SUMMARY, language="ja")
    assert MINISTERIAL in quote.passage
    milestone = commitment.milestones.get(key="ministerial-convened")
    assert milestone.title_ja == "大臣級投資会合" and milestone.ja_is_translation is False
    assert "大臣級投資会合" in milestone.sources.get(reference=JST_SUMMARY).passage


def test_every_japanese_text_is_a_quotation_or_marked_as_our_translation(agreements):
    translated = 0
    for model in (Agreement, Commitment, Milestone, LogEntry):
        for record in model.objects.all():
            texts = [v for k, v in vars(record).items() if k.endswith("_ja") and v]
            if not texts:
                continue
            if record.ja_is_translation:
                translated += 1
                continue
            owner = {model._meta.model_name: record}
            if model is LogEntry:
                passages = [record.source_passage] if record.source_language == "ja" else []
            else:
                passages = list(
                    Source.objects.filter(language="ja", kind="quote", **owner).values_list(
                        "passage", flat=True
                    )
                )
            assert all(any(t in p for p in passages) for t in texts), record
    assert translated >= 1  # the log entry we translated, marked as ours


def test_a_missing_japanese_field_reads_as_the_english_one(agreements):
    framework = Agreement.objects.get(slug="us-japan-critical-minerals-2025")
    assert framework.summary_ja is None
    with translation.override("ja"):
        assert Agreement.objects.get(pk=framework.pk).summary == framework.summary_en


def _fixture_with(**changes: object) -> dict:
    data = copy.deepcopy(DATA)
    commitment = data["agreements"][0]["commitments"][1]
    commitment.update(changes)
    return data


def test_the_loader_refuses_japanese_given_as_a_quotation_that_no_source_contains():
    data = _fixture_with(title_ja="投資閣僚会合を開く", ja_is_translation=False)
    with pytest.raises(FixtureError, match="投資閣僚会合を開く"):
        validate(data, {"US", "JP", "AU", "MY", "TH"})
    # The same words, as our translation, are allowed: the pages say so beside them.
    data = _fixture_with(title_ja="投資閣僚会合を開く", ja_is_translation=True)
    validate(data, {"US", "JP", "AU", "MY", "TH"})


@pytest.mark.django_db
def test_reloading_changes_nothing_and_keeps_a_staffs_japanese_edit(alice, tmp_path):
    load_agreements()
    framework = Agreement.objects.get(slug="us-japan-critical-minerals-2025")
    services.agreement_edit(
        agreement=framework,
        expected_version=framework.version,
        changes={"summary_ja": "当サイトによる要約"},
        by=alice,
    )
    report = load_agreements()
    assert report.counts()["updated"] == 0
    assert any("summary_ja" in c for c in report.conflicts)
    framework.refresh_from_db()
    assert (framework.summary_ja, framework.title_ja) == ("当サイトによる要約", OFFICIAL_TITLE)
    snapshot = LoadedRecord.objects.get(model="agreement", key=framework.slug).data
    assert snapshot["title_ja"] == OFFICIAL_TITLE and snapshot["ja_is_translation"] is False


@pytest.mark.django_db
def test_the_audit_trail_keeps_both_languages_and_the_english_column(alice):
    commitment = CommitmentFactory(title="Convene the Ministerial")
    with translation.override("ja"):  # the editor reads the admin in Japanese
        services.commitment_edit(
            commitment=commitment,
            expected_version=1,
            changes={"title_ja": "閣僚会合の開催", "ja_is_translation": True},
            by=alice,
        )
    record = commitment.history.latest()
    assert (record.title_en, record.title_ja, record.title) == (
        "Convene the Ministerial",
        "閣僚会合の開催",
        "Convene the Ministerial",
    )
    row = Commitment.objects.rewrite(False).values("title", "title_en", "title_ja").get()
    assert row == {
        "title": "Convene the Ministerial",
        "title_en": "Convene the Ministerial",
        "title_ja": "閣僚会合の開催",
    }


@pytest.mark.django_db
def test_an_english_title_is_still_required_and_the_japanese_one_is_not(alice):
    commitment = CommitmentFactory()
    with pytest.raises(services.TransitionError, match="required"):
        services.commitment_edit(
            commitment=commitment, expected_version=1, changes={"title_en": ""}, by=alice
        )
    services.commitment_edit(
        commitment=commitment, expected_version=1, changes={"title_ja": ""}, by=alice
    )


def test_the_admin_edits_both_languages_and_the_trail_shows_the_japanese(client, alice):
    from django.urls import reverse

    from tests.commitments.test_admin_records import errors_of, loaded_form
    from tests.factories import PartyFactory

    commitment = CommitmentFactory(title="Convene the Ministerial")
    commitment.parties.add(PartyFactory())
    url = reverse("admin:commitments_commitment_change", args=[commitment.pk])
    client.force_login(alice)
    page = client.get(url).content.decode()
    for name in ("title_en", "title_ja", "summary_ja", "assessment_note_ja", "ja_is_translation"):
        assert f'name="{name}"' in page
    form = loaded_form(client, url)
    form["title_ja"] = "閣僚会合の開催"
    response = client.post(url, form)
    assert response.status_code == 302, errors_of(response)
    commitment.refresh_from_db()
    assert (commitment.title_en, commitment.title_ja) == (
        "Convene the Ministerial",
        "閣僚会合の開催",
    )
    history = reverse("admin:commitments_commitment_history", args=[commitment.pk])
    assert "閣僚会合の開催" in client.get(history).content.decode()


@pytest.mark.django_db
def test_a_log_entry_written_while_reading_japanese_is_still_the_english_text(alice):
    commitment = CommitmentFactory()
    with translation.override("ja"):
        entry = services.logentry_create(
            by=alice,
            commitment=commitment,
            on=commitment.agreement.signed_on,
            kind=LogEntry.Kind.CHECKED,
            text="Nothing found.",
            source_address="docs/sources.md#checked-2026-12-07",
            source_kind="summary",
        )
    entry.refresh_from_db()
    assert (entry.text_en, entry.text_ja) == ("Nothing found.", None)
    assert LogEntry.objects.rewrite(False).values_list("text", flat=True).get() == "Nothing found."
