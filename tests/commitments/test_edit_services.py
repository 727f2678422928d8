"""The edit services: one version check, only the changed fields, an audit row each."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from commitments import services
from commitments.models import LogEntry, Milestone
from commitments.services import ConflictError, TransitionError
from tests.factories import CommitmentFactory, MilestoneFactory

NOW = dt.datetime(2026, 11, 21, 3, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def test_a_stale_edit_is_refused_naming_who_changed_what(alice, bob):
    commitment = CommitmentFactory(title="Old")
    services.commitment_edit(
        commitment=commitment,
        expected_version=1,
        changes={"title": "Alice's", "assessment": "broken"},
        by=alice,
    )
    stale = CommitmentFactory._meta.model.objects.get(pk=commitment.pk)
    with pytest.raises(ConflictError) as refused:
        services.commitment_edit(
            commitment=stale, expected_version=1, changes={"summary": "Bob's"}, by=bob
        )
    message = refused.value.message
    assert "alice changed it (title, assessment) at 2026-11-21 03:00 UTC" in message
    assert "You loaded version 1; it is now at version 2" in message
    stale.refresh_from_db()
    assert (stale.title, stale.assessment, stale.summary) == ("Alice's", "broken", "")


def test_every_edit_leaves_one_audit_row_with_old_and_new(alice):
    commitment = CommitmentFactory(title="Old")
    services.commitment_edit(
        commitment=commitment, expected_version=1, changes={"owner": alice}, by=alice
    )
    new, old = commitment.history.order_by("-history_id")[:2]
    delta = new.diff_against(old)
    assert [(c.field, c.old, c.new) for c in delta.changes] == [("owner", None, alice.pk)]
    assert (new.history_username, new.history_date) == ("alice", NOW)


def test_the_status_service_uses_the_same_check(alice):
    """The API passes If-Match's version here; a stale one changes nothing."""
    milestone = MilestoneFactory()
    loaded = milestone.version
    services.milestone_edit(
        milestone=milestone, expected_version=loaded, changes={"title": "Renamed"}, by=alice
    )
    with pytest.raises(ConflictError, match="alice changed it \\(title\\)"):
        services.milestone_set_status(
            milestone=Milestone.objects.get(pk=milestone.pk),
            status="in_progress",
            by=alice,
            expected_version=loaded,
        )
    assert Milestone.objects.get(pk=milestone.pk).status == "not_started"
    # The status change is in the audit trail too, with its reason.
    services.milestone_set_status(
        milestone=Milestone.objects.get(pk=milestone.pk), status="in_progress", by=alice
    )
    assert milestone.history.latest().history_change_reason == "status Not started → In progress"


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"title": "Two\nlines"}, "title", "Line breaks"),
        ({"title": ""}, "title", "required"),
        ({"status": "completed"}, "status", "cannot be changed here"),
        ({"version": 7}, "version", "cannot be changed here"),
    ],
)
def test_milestone_edit_guards(alice, changes, field, words):
    milestone = MilestoneFactory()
    with pytest.raises(TransitionError) as refused:
        services.milestone_edit(
            milestone=milestone, expected_version=milestone.version, changes=changes, by=alice
        )
    assert refused.value.field == field and words in refused.value.message


def test_a_commitment_assessment_must_be_a_known_one(alice):
    commitment = CommitmentFactory()
    with pytest.raises(TransitionError, match="not a valid choice"):
        services.commitment_edit(
            commitment=commitment, expected_version=1, changes={"assessment": "meh"}, by=alice
        )


def test_moving_the_signature_moves_the_deadlines(alice):
    milestone = MilestoneFactory(rule_amount=180)
    agreement = milestone.commitment.agreement
    services.agreement_edit(
        agreement=agreement,
        expected_version=agreement.version,
        changes={"signed_on": dt.date(2025, 11, 1)},
        by=alice,
    )
    milestone.refresh_from_db()
    assert milestone.due_on == dt.date(2026, 4, 30)


def test_log_entries_are_created_edited_and_archived_with_their_trail(alice):
    commitment = CommitmentFactory()
    entry = services.logentry_create(
        by=alice,
        commitment=commitment,
        on=dt.date(2026, 2, 4),
        kind=LogEntry.Kind.CONTEXT,
        text="Critical Minerals Ministerial (multilateral).",
        source_address="https://example.org/ministerial",
    )
    services.logentry_edit(
        entry=entry, expected_version=1, changes={"text": "Multilateral ministerial."}, by=alice
    )
    services.logentry_archive(entry=entry, by=alice)
    assert [r.history_type for r in entry.history.order_by("history_id")] == ["+", "~", "~"]
    assert entry.history.earliest().history_username == "alice"
    with pytest.raises(TransitionError, match="already archived"):
        services.logentry_archive(entry=entry, by=alice)


def test_a_log_entry_needs_one_owner_and_a_source(alice):
    with pytest.raises(TransitionError, match="one agreement, commitment or milestone"):
        services.logentry_create(
            by=alice, on=dt.date(2026, 1, 1), kind="progress", text="x", source_address="y"
        )
    with pytest.raises(TransitionError) as refused:
        services.logentry_create(
            by=alice,
            commitment=CommitmentFactory(),
            on=dt.date(2026, 1, 1),
            kind="progress",
            text="x",
            source_address=" ",
        )
    assert refused.value.field == "source_address"


@pytest.mark.parametrize("address", ["https://www.state.gov/", "not a url", "javascript:x()"])
def test_a_log_entry_cites_a_page_a_reader_can_open_written_or_edited(alice, address):
    """The loader's rule for a source's address (commitments/references.py), for staff's
    entries too: a page with a path, a seed file name, or the tracker's notes."""
    entry = services.logentry_create(
        by=alice,
        commitment=CommitmentFactory(),
        on=dt.date(2026, 1, 1),
        kind="progress",
        text="x",
        source_address="docs/sources.md#checked-2026-12-07",
    )
    with pytest.raises(TransitionError, match=r"page address|bare domain") as refused:
        services.logentry_create(
            by=alice,
            commitment=entry.commitment,
            on=dt.date(2026, 1, 1),
            kind="progress",
            text="x",
            source_address=address,
        )
    assert refused.value.field == "source_address"
    with pytest.raises(TransitionError, match=r"page address|bare domain"):
        services.logentry_edit(
            entry=entry, expected_version=1, changes={"source_address": address}, by=alice
        )
    entry.refresh_from_db()
    assert entry.source_address == "docs/sources.md#checked-2026-12-07"
