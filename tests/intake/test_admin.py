"""Staff triage in the admin: the index lists findings to review; a finding shows its
excerpt with the matched words marked (escaped), its suggestions, and three decisions.
Logging writes a sourced log entry and nothing else."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from commitments.models import Commitment, LogEntry, Milestone
from tracker.intake import parsing, seeds, services
from tracker.intake.matching import Matcher
from tracker.intake.models import Finding, Keyword

TEXT = (
    "Ministers of Japan and the United States met for the Mining, Minerals and Metals "
    "Investment Ministerial. They set investment priorities <script>alert(1)</script>."
)


@pytest.fixture
def finding(agreements) -> Finding:
    seeds.load()
    return make("https://example.org/ministerial", "Japan and US hold the Ministerial", TEXT)


def make(address: str, title: str, text: str) -> Finding:
    candidate = parsing.Candidate(address, title, dt.datetime(2026, 2, 3, 16, tzinfo=dt.UTC), text)
    (row,) = services.items_ingest([candidate], source=None, matcher=Matcher.from_db())
    return row.finding


def test_the_index_lists_findings_to_review(client, alice, finding):
    client.force_login(alice)
    page = client.get(reverse("admin:index")).content.decode()
    section = page[page.index('id="needs-attention"') :]
    assert "Findings to review" in section
    assert reverse("admin:intake_finding_change", args=[finding.pk]) in section
    assert "Japan and US hold the Ministerial" in section


def test_the_review_page_marks_the_matched_words_and_escapes_the_rest(client, alice, finding):
    client.force_login(alice)
    page = client.get(reverse("admin:intake_finding_change", args=[finding.pk])).content.decode()
    assert "<mark>Investment Ministerial</mark>" in page or "<mark>Ministerial</mark>" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)</script>" not in page
    assert "Log it here" in page


def test_a_review_address_with_no_finding_number_is_a_404(client, alice, finding):
    client.force_login(alice)
    for junk in ("x", "²", "1.5", str(finding.pk + 1)):
        response = client.get(reverse("admin:intake_finding_change", args=[junk]))
        assert response.status_code == 404


def test_log_it_opens_a_prefilled_entry_and_saves_it_through_the_service(client, alice, finding):
    suggestion = finding.suggestions.first()
    assert suggestion.commitment.key == "investment-ministerial"
    milestone = Milestone.objects.get(key="ministerial-convened")
    before = Milestone.objects.filter(pk=milestone.pk).values("status", "due_on", "version")[0]
    assessment = suggestion.commitment.assessment
    client.force_login(alice)
    url = reverse("admin:intake_finding_log", args=[finding.pk]) + f"?suggestion={suggestion.pk}"
    form = client.get(url).context["form"]
    assert form.initial["commitment"] == suggestion.commitment
    assert form.initial["source_address"] == "https://example.org/ministerial"
    assert form.initial["on"] == dt.date(2026, 2, 4)  # 16:00 UTC is the 4th in Tokyo
    ticked = [form.item_sentences[int(i)] for i in form.initial["quoted"]]
    assert ticked and all(s in suggestion.sentences for s in ticked)
    body = {
        "commitment": suggestion.commitment.pk,
        "milestone": milestone.pk,
        "on": "2026-02-04",
        "kind": LogEntry.Kind.PROGRESS,
        "text": "The ministerial met.",
        "source_address": "https://example.org/ministerial",
        "quoted": form.initial["quoted"],
    }
    response = client.post(url, body)
    assert response.status_code == 302
    entry = LogEntry.objects.get(milestone=milestone, text="The ministerial met.")
    assert entry.source_kind == "quote" and entry.by == alice
    assert entry.source_passage == " ".join(ticked)
    assert all(s in f"{finding.item.title}\n{TEXT}" for s in ticked)  # the source's words
    finding.refresh_from_db()
    assert finding.state == Finding.State.LOGGED and finding.log_entry == entry
    # a finding never changes a status, an assessment or a deadline
    assert (
        Milestone.objects.filter(pk=milestone.pk).values("status", "due_on", "version")[0] == before
    )
    assert Commitment.objects.get(pk=suggestion.commitment.pk).assessment == assessment


def test_a_milestone_of_another_commitment_is_a_form_error(client, alice, finding):
    client.force_login(alice)
    other = Milestone.objects.exclude(commitment=finding.suggestions.first().commitment).first()
    response = client.post(
        reverse("admin:intake_finding_log", args=[finding.pk]),
        {
            "commitment": finding.suggestions.first().commitment.pk,
            "milestone": other.pk,
            "on": "2026-02-04",
            "kind": "context",
            "text": "x",
            "source_address": "https://example.org/ministerial",
            "quoted": ["0"],
        },
    )
    assert response.status_code == 200
    assert "milestone" in response.context["form"].errors
    assert Finding.objects.get(pk=finding.pk).state == Finding.State.PENDING


@pytest.mark.parametrize(
    "address",
    ["not a url", "https://", "javascript:alert(1)", "https://example.org/", "ftp://x.org/a"],
)
def test_an_entry_citing_no_page_a_reader_can_open_is_a_form_error(client, alice, finding, address):
    client.force_login(alice)
    response = client.post(
        reverse("admin:intake_finding_log", args=[finding.pk]),
        {
            "commitment": finding.suggestions.first().commitment.pk,
            "on": "2026-02-04",
            "kind": "context",
            "text": "The ministerial met.",
            "source_address": address,
            "quoted": ["0"],
        },
    )
    assert response.status_code == 200
    assert "source_address" in response.context["form"].errors
    assert not LogEntry.objects.filter(text_en="The ministerial met.").exists()
    assert Finding.objects.get(pk=finding.pk).state == Finding.State.PENDING


@pytest.mark.parametrize("commitment", ["x", "²"])
def test_a_commitment_that_is_no_number_is_a_form_error(client, alice, finding, commitment):
    client.force_login(alice)
    response = client.post(
        reverse("admin:intake_finding_log", args=[finding.pk]),
        {"commitment": commitment, "on": "2026-02-04", "kind": "context", "text": "Met"},
    )
    assert "Select a valid choice" in str(response.context["form"].errors["commitment"])
    assert Finding.objects.get(pk=finding.pk).state == Finding.State.PENDING


def test_not_relevant_keeps_the_reason_and_can_make_a_negative_keyword(client, alice, finding):
    client.force_login(alice)
    response = client.post(
        reverse("admin:intake_finding_dismiss", args=[finding.pk]),
        {"reason": "A sports page", "negative_keyword": "baseball  game"},
    )
    assert response.status_code == 302
    finding.refresh_from_db()
    assert (finding.state, finding.reason, finding.decided_by) == (
        Finding.State.NOT_RELEVANT,
        "A sports page",
        alice,
    )
    keyword = Keyword.objects.get(phrase="baseball game")
    assert keyword.negative and keyword.agreement.slug == "us-japan-critical-minerals-2025"


def test_duplicate(client, alice, finding):
    other = make(
        "https://example.org/again", "Again", "Japan and the US met at the Ministerial again."
    )
    client.force_login(alice)
    client.post(
        reverse("admin:intake_finding_duplicate", args=[other.pk]), {"duplicate_of": finding.pk}
    )
    other.refresh_from_db()
    assert other.state == Finding.State.DUPLICATE and other.duplicate_of == finding


def test_bulk_dismiss_asks_for_the_reason_then_dismisses(client, alice, finding):
    other = make("https://example.org/b", "Japan weather", "Japan had rain and stockpiling talk.")
    client.force_login(alice)
    url = reverse("admin:intake_finding_changelist")
    ids = [str(finding.pk), str(other.pk)]
    page = client.post(url, {"action": "dismiss_selected", "_selected_action": ids})
    assert page.status_code == 200 and b"Mark not relevant" in page.content
    client.post(
        url,
        {"action": "dismiss_selected", "_selected_action": ids, "apply": "1", "reason": "Noise"},
    )
    assert set(Finding.objects.values_list("state", flat=True)) == {Finding.State.NOT_RELEVANT}


def test_a_viewer_sees_but_cannot_decide(client, bob, finding):
    client.force_login(bob)
    assert client.get(reverse("admin:intake_finding_change", args=[finding.pk])).status_code == 200
    assert client.get(reverse("admin:intake_finding_log", args=[finding.pk])).status_code == 403
    response = client.post(
        reverse("admin:intake_finding_dismiss", args=[finding.pk]), {"reason": "no"}
    )
    assert response.status_code == 403
    assert Finding.objects.get(pk=finding.pk).state == Finding.State.PENDING


def test_the_findings_list_runs_a_constant_number_of_queries(client, alice, finding):
    client.force_login(alice)
    url = reverse("admin:intake_finding_changelist")
    with CaptureQueriesContext(connection) as small:
        assert client.get(url).status_code == 200
    for i in range(30):
        make(
            f"https://example.org/{i}",
            f"Japan stockpiling news {i}",
            f"Japan and the US stockpile {i}.",
        )
    with CaptureQueriesContext(connection) as large:
        page = client.get(url)
    assert page.content.decode().count("Japan stockpiling news") >= 30
    assert len(large.captured_queries) == len(small.captured_queries)


def test_the_review_page_offers_each_milestone_of_a_suggestion_to_log_it_on(client, alice, finding):
    """Issue 23: log it in three clicks (the finding, "Log it on", save); the button
    names the milestone, and the form opens with it chosen."""
    suggestion = finding.suggestions.first()
    milestone = Milestone.objects.get(key="ministerial-convened")
    client.force_login(alice)
    page = client.get(reverse("admin:intake_finding_change", args=[finding.pk])).content.decode()
    log = reverse("admin:intake_finding_log", args=[finding.pk])
    button = f"{log}?suggestion={suggestion.pk}&amp;milestone={milestone.pk}"
    assert f'href="{button}">Log it on “{milestone.title}”</a>' in page
    form = client.get(f"{log}?suggestion={suggestion.pk}&milestone={milestone.pk}").context["form"]
    assert form.initial["milestone"] == milestone
    assert form.initial["commitment"] == suggestion.commitment


@pytest.mark.parametrize("named", ["other", "abc", "１"])
def test_a_milestone_named_in_the_address_that_is_not_the_commitments_is_not_chosen(
    client, alice, finding, named
):
    suggestion = finding.suggestions.first()
    other = Milestone.objects.exclude(commitment=suggestion.commitment).first()
    value = str(other.pk) if named == "other" else named
    client.force_login(alice)
    log = reverse("admin:intake_finding_log", args=[finding.pk])
    response = client.get(f"{log}?suggestion={suggestion.pk}&milestone={value}")
    assert response.status_code == 200 and response.context["form"].initial["milestone"] is None


@pytest.mark.parametrize(
    "body, field, error",
    [
        ({"reason": "   "}, "reason", "This field is required."),
        ({"reason": "A sports\x00 page"}, "reason", "Null characters are not allowed."),
        (
            {"reason": "A sports page", "negative_keyword": "base\x00ball"},
            "negative_keyword",
            "Null characters are not allowed.",
        ),
    ],
)
def test_a_refused_not_relevant_shows_the_error_beside_what_was_typed(
    client, alice, finding, body, field, error
):
    client.force_login(alice)
    response = client.post(reverse("admin:intake_finding_dismiss", args=[finding.pk]), body)
    assert response.status_code == 200
    form = response.context["dismiss_form"]
    assert form.errors == {field: [error]}
    page = response.content.decode()
    assert "Give the reason it is not relevant." not in page
    if field == "negative_keyword":  # the reason given stays in the form
        assert "A sports page</textarea>" in page
    assert Finding.objects.get(pk=finding.pk).state == Finding.State.PENDING


@pytest.mark.parametrize("duplicate_of", ["x", "999999", "-1"])
def test_a_duplicate_of_no_finding_is_a_form_error(client, alice, finding, duplicate_of):
    client.force_login(alice)
    response = client.post(
        reverse("admin:intake_finding_duplicate", args=[finding.pk]),
        {"duplicate_of": duplicate_of},
    )
    assert response.status_code == 200
    errors = response.context["duplicate_form"].errors["duplicate_of"]
    assert errors == ["Select a valid choice. That choice is not one of the available choices."]
    assert f'value="{duplicate_of}"' in response.content.decode()
    assert Finding.objects.get(pk=finding.pk).state == Finding.State.PENDING


def test_not_relevant_on_a_finding_decided_in_another_tab_says_so(client, alice, finding):
    client.force_login(alice)
    url = reverse("admin:intake_finding_dismiss", args=[finding.pk])
    client.post(url, {"reason": "A sports page"}, follow=True)  # the first tab
    response = client.post(url, {"reason": "Noise", "negative_keyword": "weather"}, follow=True)
    said = [str(m) for m in response.context["messages"]]
    assert said == ["“Japan and US hold the Ministerial” was already decided."]
    assert response.context["finding"] == finding  # back on its page, showing who decided
    finding.refresh_from_db()
    assert (finding.state, finding.reason) == (Finding.State.NOT_RELEVANT, "A sports page")
    assert not Keyword.objects.filter(phrase="weather").exists()


@pytest.mark.parametrize("commitment", ["x", "²", "1.5", "9" * 30])
def test_a_keyword_for_a_commitment_that_is_no_number_is_a_form_error(
    client, alice, agreements, commitment
):
    client.force_login(alice)
    agreement = Commitment.objects.first().agreement
    body = {"phrase": "rare earths", "weight": 1, "agreement": agreement.pk}
    response = client.post(reverse("admin:intake_keyword_add"), {**body, "commitment": commitment})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["commitment"] and "Select a valid choice" in str(errors)
    assert not Keyword.objects.filter(phrase="rare earths").exists()
