"""Staff editing the record in the admin: two editors at once, the audit trail,
archiving instead of deleting, input limits. Alice and Dora both edit."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import Group, Permission, User
from django.urls import reverse

from commitments.models import Commitment, LogEntry
from commitments.permissions import EDITORS
from tests import factories
from tests.factories import MilestoneFactory

NOW = dt.datetime(2026, 11, 21, 3, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def dora(db) -> User:
    user = User.objects.create_user("dora", "dora@example.org", "pass-dora", is_staff=True)
    user.groups.add(Group.objects.get(name=EDITORS))
    return user


def CommitmentFactory(**kwargs: Any) -> Commitment:
    """A commitment as the admin form requires it: with a party."""
    commitment = factories.CommitmentFactory(**kwargs)
    commitment.parties.add(factories.PartyFactory())
    return commitment


def _plain(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [getattr(v, "pk", v) for v in value]
    if value is None:
        return ""
    return getattr(value, "pk", value)


def loaded_form(client, url: str) -> dict[str, Any]:
    """What the browser would post back unchanged: every field of the page's form and
    inline formsets, with the values the page was rendered with."""
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {form.add_prefix(name): _plain(form[name].value()) for name in form.fields}
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        data.update({management.add_prefix(n): management[n].value() for n in management.fields})
        for f in formset.forms:
            data.update({f.add_prefix(n): _plain(f[n].value()) for n in f.fields})
    return data


def commitment_url(c: Commitment) -> str:
    return reverse("admin:commitments_commitment_change", args=[c.pk])


def errors_of(response) -> str:
    return str(response.context["adminform"].form.errors)


# --- Two editors ------------------------------------------------------------------


def test_a_stale_commitment_save_loses_nothing_of_the_newer_one(client, alice, dora):
    """The issue's finding: a second editor's stale save overwrote a title, put an owner
    back to none, and reset "broken" to "not yet rated" with its note gone."""
    commitment = CommitmentFactory(title="Financing support", assessment="not_yet_rated")
    url = commitment_url(commitment)
    client.force_login(dora)
    dora_form = loaded_form(client, url)  # Dora opens the page, then goes for coffee.

    client.force_login(alice)
    alice_form = loaded_form(client, url)
    alice_form.update(
        title_en="Financing support of at least US$1 billion",
        owner=alice.pk,
        assessment="broken",
        assessment_note_en="The deadline passed with nothing announced.",
    )
    assert client.post(url, alice_form).status_code == 302

    client.force_login(dora)
    dora_form["summary_en"] = "Dora's careful summary"
    response = client.post(url, dora_form)

    assert response.status_code == 200
    message = errors_of(response)
    assert "Someone else changed this commitment" in message
    assert "alice" in message and "title" in message and "assessment" in message
    # Dora's input is still in the form, to copy.
    assert "Dora&#x27;s careful summary" in response.content.decode()
    commitment.refresh_from_db()
    assert commitment.title == "Financing support of at least US$1 billion"
    assert commitment.owner == alice
    assert (commitment.assessment, commitment.assessment_note) == (
        "broken",
        "The deadline passed with nothing announced.",
    )
    assert commitment.summary == ""


def test_a_fresh_save_writes_only_the_fields_the_editor_changed(client, alice):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    commitment = CommitmentFactory(title="Old title", summary="Kept")
    url = commitment_url(commitment)
    client.force_login(alice)
    form = loaded_form(client, url)
    form["title_en"] = "New title"
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(url, form)
    assert response.status_code == 302, errors_of(response)
    updates = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 1
    assert '"title"' in updates[0] and '"summary"' not in updates[0]
    assert '"assessment"' not in updates[0] and '"owner_id"' not in updates[0]
    commitment.refresh_from_db()
    assert (commitment.title, commitment.summary, commitment.version) == ("New title", "Kept", 2)


def test_a_stale_agreement_save_is_refused(client, alice, dora):
    agreement = CommitmentFactory().agreement
    agreement.parties.add(factories.PartyFactory())
    # Agreements are the superusers' in the shipped groups; these two may edit them.
    change = Permission.objects.get(codename="change_agreement")
    alice.user_permissions.add(change)
    dora.user_permissions.add(change)
    url = reverse("admin:commitments_agreement_change", args=[agreement.pk])
    client.force_login(dora)
    stale = loaded_form(client, url)
    client.force_login(alice)
    fresh = loaded_form(client, url)
    fresh["title_en"] = "Framework for Securing the Supply"
    assert client.post(url, fresh).status_code == 302
    client.force_login(dora)
    stale["summary"] = "Mine"
    response = client.post(url, stale)
    assert response.status_code == 200 and "alice" in errors_of(response)
    agreement.refresh_from_db()
    assert (agreement.title, agreement.summary) == ("Framework for Securing the Supply", "")


def test_a_stale_milestone_title_edit_is_refused(client, alice, dora):
    milestone = MilestoneFactory(title="Ministerial convened")
    url = reverse("admin:commitments_milestone_change", args=[milestone.pk])
    client.force_login(dora)
    stale = loaded_form(client, url)
    client.force_login(alice)
    fresh = loaded_form(client, url)
    fresh["owner"] = alice.pk
    response = client.post(url, fresh)
    assert response.status_code == 302, errors_of(response)
    client.force_login(dora)
    stale["title_en"] = "Dora's title"
    response = client.post(url, stale)
    assert response.status_code == 200
    assert "alice" in errors_of(response) and "owner" in errors_of(response)
    milestone.refresh_from_db()
    assert (milestone.title, milestone.owner) == ("Ministerial convened", alice)


# --- The audit trail --------------------------------------------------------------


def test_the_history_page_shows_old_and_new_with_the_editor(client, alice):
    commitment = CommitmentFactory(title="Old title")
    url = commitment_url(commitment)
    client.force_login(alice)
    form = loaded_form(client, url)
    form.update(title_en="New title", assessment="kept")
    assert client.post(url, form).status_code == 302
    record = commitment.history.latest()
    assert (record.title, record.history_username, record.history_user) == (
        "New title",
        "alice",
        alice,
    )
    history_url = reverse("admin:commitments_commitment_history", args=[commitment.pk])
    history = client.get(history_url).content.decode()
    assert "Old title" in history and "New title" in history and "alice" in history


def test_the_trail_keeps_the_editor_name_when_the_user_is_deleted(client, alice):
    from commitments import services

    commitment = CommitmentFactory(title="Old title")
    services.commitment_edit(
        commitment=commitment, expected_version=1, changes={"title": "New"}, by=alice
    )
    alice.delete()
    record = commitment.history.latest()
    assert (record.history_user, record.history_username, record.title) == (None, "alice", "New")
    assert record.prev_record is None or record.prev_record.title == "Old title"


# --- Archive, never delete ----------------------------------------------------------


def test_deleting_is_refused_and_archiving_keeps_the_record(client, alice):
    milestone = MilestoneFactory()
    client.force_login(alice)
    delete = reverse("admin:commitments_milestone_delete", args=[milestone.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    changelist = reverse("admin:commitments_milestone_changelist")
    assert b"delete_selected" not in client.get(changelist).content

    url = reverse("admin:commitments_milestone_change", args=[milestone.pk])
    assert b'name="_archive"' in client.get(url).content
    response = client.post(url, {"_archive": "Archive"})
    assert response.status_code == 302
    milestone.refresh_from_db()
    assert milestone.archived_at == NOW and milestone.history.latest().history_username == "alice"
    listing = client.get(changelist + "?archived=yes").content.decode()
    assert "Archived" in listing and milestone.title in listing
    current = client.get(changelist + "?archived=no")
    assert milestone.pk not in {m.pk for m in current.context["cl"].result_list}


def test_archiving_without_the_change_permission_is_forbidden_not_an_error(client, bob):
    milestone = MilestoneFactory()
    client.force_login(bob)  # Bob may look, not change.
    url = reverse("admin:commitments_milestone_change", args=[milestone.pk])
    assert client.post(url, {"_archive": "Archive"}).status_code == 403
    missing = reverse("admin:commitments_milestone_change", args=[milestone.pk + 1000])
    assert client.post(missing, {"_archive": "Archive"}).status_code == 403
    milestone.refresh_from_db()
    assert milestone.archived_at is None


def test_the_archive_action_goes_through_the_service(client, alice):
    commitments = [CommitmentFactory(), CommitmentFactory()]
    client.force_login(alice)
    url = reverse("admin:commitments_commitment_changelist")
    client.post(
        url, {"action": "archive_selected", "_selected_action": [c.pk for c in commitments]}
    )
    assert Commitment.objects.filter(archived_at=NOW).count() == 2
    assert Commitment.history.filter(history_username="alice", archived_at=NOW).count() == 2


# --- Input limits ---------------------------------------------------------------------


@pytest.mark.parametrize("length", [501, 2048])
def test_a_long_evidence_address_is_a_form_error_stating_the_limit(client, alice, length):
    milestone = MilestoneFactory()
    url = reverse("admin:commitments_milestone_change", args=[milestone.pk])
    client.force_login(alice)
    form = loaded_form(client, url)
    address = "https://example.org/" + "a" * (length - len("https://example.org/"))
    form.update(new_status="completed", evidence=address, completed="2026-04-24")
    response = client.post(url, form)
    assert response.status_code == 200
    assert "at most 500 characters" in str(response.context["adminform"].form.errors["evidence"])
    milestone.refresh_from_db()
    assert milestone.status == "not_started"


@pytest.mark.parametrize(
    "title",
    [
        "Two\r\nBcc: everyone@example.org",
        # A word processor's vertical tab or form feed: no feed, calendar or picture can
        # carry it (the outputs also clean what was saved before this rule).
        "Investment\x0bMinisterial",
        "Investment\x0cMinisterial",
        "Investment\x85Ministerial",
    ],
)
def test_a_title_with_a_line_break_or_a_control_character_is_refused(client, alice, title):
    commitment = CommitmentFactory(title="One line")
    url = commitment_url(commitment)
    client.force_login(alice)
    form = loaded_form(client, url)
    form["title_en"] = title
    response = client.post(url, form)
    assert response.status_code == 200
    errors = str(response.context["adminform"].form.errors)
    assert "Line breaks are not allowed" in errors and "nor other control characters" in errors
    commitment.refresh_from_db()
    assert commitment.title == "One line"


# --- The sourced log ------------------------------------------------------------------


def test_staff_add_a_log_entry_from_the_milestone_page(client, alice):
    milestone = MilestoneFactory()
    url = reverse("admin:commitments_milestone_change", args=[milestone.pk])
    client.force_login(alice)
    form = loaded_form(client, url)
    form.update(
        {
            "log-2-TOTAL_FORMS": 1,
            "log-2-0-on": "2026-11-20",
            "log-2-0-kind": "checked_nothing_found",
            "log-2-0-text": "Searched the ministry's releases; nothing found.",
            "log-2-0-source_address": "https://www.meti.go.jp/english/press/",
            "log-2-0-source_kind": "summary",
            "log-2-0-source_passage": "",
            "log-2-0-milestone": milestone.pk,
        }
    )
    response = client.post(url, form)
    assert response.status_code == 302, errors_of(response)
    entry = LogEntry.objects.get(milestone=milestone)
    assert (entry.by, entry.kind) == (alice, "checked_nothing_found")
    milestone.refresh_from_db()
    assert milestone.status == "not_started"  # an entry never changes a status
    page = client.get(url).content.decode()
    assert "Searched the ministry" in page and "sourced log" in page
    assert client.get(reverse("admin:commitments_logentry_changelist")).status_code == 200


def test_milestone_list_shows_a_red_overdue_badge_and_sorts_overdue_first(client, alice):
    later = MilestoneFactory(rule_amount=400, title="Later")
    overdue = MilestoneFactory(rule_amount=180, title="Overdue one")  # due 2026-04-26 JST
    none = MilestoneFactory(rule_kind="none", rule_amount=None, title="No deadline")
    client.force_login(alice)
    page = client.get(reverse("admin:commitments_milestone_changelist"))
    rows = [m.pk for m in page.context["cl"].result_list]
    assert rows == [overdue.pk, later.pk, none.pk]
    html = page.content.decode()
    assert "overdue 209 days" in html and "icon-yes.svg" not in html
    detail = client.get(reverse("admin:commitments_milestone_change", args=[overdue.pk]))
    assert "overdue since 2026-04-27 00:00 JST" in detail.content.decode()
    assert "N days after signature" in detail.content.decode()


# --- Constant query counts ------------------------------------------------------------


def _count(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def _grow(milestone, alice, n: int = 500) -> None:
    """n more milestones on the same commitment, n log entries on the milestone and
    on its commitment, and n audit rows for each."""
    from commitments import services
    from commitments.models import Milestone

    commitment = milestone.commitment
    Milestone.objects.bulk_create(
        [
            Milestone(commitment=commitment, key=f"bulk-{i}", title=f"Bulk {i}", rule_amount=i)
            for i in range(n)
        ]
    )
    services.refresh_deadlines(commitment.agreement)
    LogEntry.objects.bulk_create(
        [
            LogEntry(
                key=f"log-{owner}-{i}",
                on=dt.date(2026, 1, 1) + dt.timedelta(days=i % 300),
                kind="progress",
                text=f"Entry {i}",
                source_address="https://example.org/",
                by=alice,
                **{owner: target},
            )
            for owner, target in (("milestone", milestone), ("commitment", commitment))
            for i in range(n)
        ]
    )
    for i in range(20):
        commitment.refresh_from_db()
        services.commitment_edit(
            commitment=commitment,
            expected_version=commitment.version,
            changes={"title": f"Title {i}"},
            by=alice,
        )


@pytest.mark.parametrize(
    "page",
    [
        "milestone_changelist",
        "milestone_change",
        "milestone_history",
        "commitment_changelist",
        "commitment_change",
        "commitment_history",
        "agreement_change",
        "logentry_changelist",
    ],
)
def test_admin_pages_are_constant_in_the_size_of_the_record(db, client, page):
    from django.contrib.auth.models import User

    admin = User.objects.create_superuser("admin", "admin@example.org", "pass-admin")
    milestone = MilestoneFactory()
    milestone.commitment.parties.add(factories.PartyFactory())
    target = {
        "milestone": milestone.pk,
        "commitment": milestone.commitment_id,
        "agreement": milestone.commitment.agreement_id,
    }.get(page.split("_")[0])
    url = reverse(f"admin:commitments_{page}", args=[] if "changelist" in page else [target])
    url += "?all=" if "changelist" in page else ""
    client.force_login(admin)
    small = _count(client, url)
    _grow(milestone, admin)
    assert _count(client, url) <= small


def test_a_source_edited_in_the_inline_keeps_its_old_words_in_the_trail(client, alice):
    from commitments.models import Source

    commitment = CommitmentFactory()
    source = Source.objects.create(
        commitment=commitment, reference="https://example.org/a", fact="Old fact"
    )
    url = commitment_url(commitment)
    client.force_login(alice)
    form = loaded_form(client, url)
    form["sources-0-fact"] = "New fact"
    response = client.post(url, form)
    assert response.status_code == 302, errors_of(response)
    new, old = source.history.order_by("-history_id")[:2]
    assert (old.fact, new.fact, new.history_username) == ("Old fact", "New fact", "alice")


def test_the_token_section_is_headed_as_the_readme_names_it(admin_client):
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert "API tokens" in page and ">Knox<" not in page


@pytest.mark.parametrize("model", ["agreement", "commitment", "milestone", "logentry"])
def test_a_history_address_with_no_record_number_is_a_404(client, alice, model):
    client.force_login(alice)
    for junk in ("x", "²", "1.5"):
        response = client.get(reverse(f"admin:commitments_{model}_history", args=[junk]))
        assert response.status_code == 404


def test_the_history_page_names_a_deleted_editor_and_labels_times(client, alice):
    from django.contrib.auth.models import User

    from commitments import services

    commitment = CommitmentFactory(title="Old title")
    services.commitment_edit(
        commitment=commitment, expected_version=1, changes={"title": "New title"}, by=alice
    )
    alice.delete()
    admin = User.objects.create_superuser("admin", "admin@example.org", "pass-admin")
    client.force_login(admin)
    url = reverse("admin:commitments_commitment_history", args=[commitment.pk])
    page = client.get(url).content.decode()
    assert "alice (account deleted)" in page
    assert "2026-11-21 03:00 UTC" in page and "Old title" in page


def test_the_history_page_shows_labels_not_stored_values(client, alice):
    """Choices by their labels, nothing as "—", an empty text as "(empty)"."""
    from commitments import services
    from commitments.models import Milestone

    milestone = MilestoneFactory()
    services.milestone_set_status(
        milestone=milestone, status="in_progress", by=alice, note="Talks began"
    )
    commitment = milestone.commitment
    services.commitment_edit(
        commitment=commitment,
        expected_version=commitment.version,
        changes={"owner": alice, "assessment": "on_track", "section": "Section 2(a)"},
        by=alice,
    )
    commitment.refresh_from_db()
    services.commitment_edit(
        commitment=commitment,
        expected_version=commitment.version,
        changes={"section": ""},
        by=alice,
    )
    client.force_login(alice)

    def history(model: str, pk: int) -> str:
        page = client.get(reverse(f"admin:commitments_{model}_history", args=[pk]))
        return " ".join(page.content.decode().split())

    of_milestone = history("milestone", milestone.pk)
    assert "Status:</strong> Not started &nbsp;&rarr;&nbsp;&nbsp;In progress" in of_milestone
    assert "status Not started → In progress" in of_milestone  # the change's reason
    assert "not_started" not in of_milestone and "None" not in of_milestone
    # The status history on the milestone's page heads its rows in words too.
    url = reverse("admin:commitments_milestone_change", args=[milestone.pk])
    page = client.get(url).content.decode()
    assert "Status change: Not started → In progress" in page and "not_started →" not in page
    of_commitment = history("commitment", commitment.pk)
    assert "Owner:</strong> — &nbsp;&rarr;&nbsp;&nbsp;alice" in of_commitment
    assert "Not yet rated &nbsp;&rarr;&nbsp;&nbsp;On track" in of_commitment
    assert "Section 2(a) &nbsp;&rarr;&nbsp;&nbsp;(empty)" in of_commitment
    assert "None" not in of_commitment
    assert Milestone.objects.get(pk=milestone.pk).status == "in_progress"


def test_a_long_deadline_reason_is_kept_whole_and_cut_in_the_trail(alice):
    """The trail's reason column holds 100 characters; PostgreSQL refused a longer one."""
    from commitments import services

    milestone = MilestoneFactory()
    reason = "The parties moved the ministerial to the spring, after the elections. " * 3
    revision = services.milestone_revise_deadline(
        milestone=milestone,
        rule=milestone.rule,
        reason=reason,
        source="https://a.example/",
        by=alice,
    )
    assert revision.reason == reason
    cut = milestone.history.latest().history_change_reason
    assert len(cut) == 100 and cut.startswith("deadline: The parties") and cut.endswith("…")


@pytest.mark.parametrize("object_id", ["²", "9999999"])
def test_a_change_page_for_no_such_record_sends_the_editor_back(client, alice, object_id):
    client.force_login(alice)
    response = client.get(f"/admin/commitments/milestone/{object_id}/change/")
    assert response.status_code == 302 and response["Location"] == "/admin/"


@pytest.mark.parametrize(
    "changelist",
    [
        "commitments_milestone_changelist?due_on__year",
        "commitments_logentry_changelist?on__year",
        "commitments_statusupdate_changelist?at__year",
        "tracker_alert_changelist?created_at__year",
    ],
)
def test_a_date_drill_down_off_the_calendar_is_a_bad_filter_not_a_500(admin_client, changelist):
    name, _, parameter = changelist.partition("?")
    for year in ("9999", "99999999999999999999"):
        response = admin_client.get(f"{reverse(f'admin:{name}')}?{parameter}={year}")
        # The admin's answer to any filter it cannot apply: the list, unfiltered (?e=1).
        assert response.status_code == 302 and response.url.endswith("?e=1")
