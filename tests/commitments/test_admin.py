from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from commitments.models import Commitment, Milestone, Status, StatusUpdate
from tests.factories import MilestoneFactory, add_parts

NOW = dt.datetime(2026, 11, 21, 3, 0, tzinfo=dt.UTC)
EVIDENCE = "https://www.energy.gov/articles/ministerial"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def change_url(m: Milestone) -> str:
    return reverse("admin:commitments_milestone_change", args=[m.pk])


def form_data(m: Milestone, **changes: object) -> dict[str, object]:
    """What the change form posts when nothing is edited, plus ``changes``."""
    data = {
        "commitment": m.commitment_id,
        "key": m.key,
        "title_en": m.title,
        "owner": "",
        "new_status": m.status,
        "note": "",
        "evidence": m.evidence_url,
        "completed": m.completed_on or "",
        "seen_version": m.version,
        "rule_kind": m.rule_kind,
        "rule_amount": m.rule_amount or "",
        "rule_anchor": m.rule_anchor,
        "rule_anchor_milestone": m.rule_anchor_milestone_id or "",
        "rule_fixed_date": m.rule_fixed_date or "",
        "rule_rrule": m.rule_rrule,
        "revision_reason": "",
        "revision_source": "",
    }
    for prefix in ("parts", "updates", "revisions", "sources", "log", "log-2", "alerts"):
        data.update({f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0})
    data["parts-TOTAL_FORMS"] = data["parts-INITIAL_FORMS"] = m.parts.count()
    for i, part in enumerate(m.parts.all()):
        data.update(
            {
                f"parts-{i}-id": part.pk,
                f"parts-{i}-milestone": m.pk,
                f"parts-{i}-party": part.party_id,
            }
        )
    data.update(changes)
    return data


def test_an_editor_completes_a_milestone_from_the_form(client, alice, ministerial):
    client.force_login(alice)
    response = client.post(
        change_url(ministerial),
        form_data(
            ministerial,
            new_status="completed",
            note="Held in Tokyo",
            evidence=EVIDENCE,
            completed="2026-04-24",
        ),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    ministerial.refresh_from_db()
    assert (ministerial.status, ministerial.completed_on) == ("completed", dt.date(2026, 4, 24))
    update = StatusUpdate.objects.get(milestone=ministerial)
    assert (update.by, update.note, update.evidence_url) == (alice, "Held in Tokyo", EVIDENCE)


def test_the_form_shows_the_service_refusal_on_its_field(client, alice, ministerial):
    client.force_login(alice)
    response = client.post(
        change_url(ministerial),
        form_data(ministerial, new_status="completed", evidence=EVIDENCE, completed="2027-01-01"),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "is in the future" in errors["completed"][0]
    ministerial.refresh_from_db()
    assert ministerial.status == "not_started"


def test_a_stale_form_does_not_overwrite_a_newer_change(client, alice, ministerial):
    from commitments.services import milestone_set_status

    client.force_login(alice)
    stale = form_data(ministerial, new_status="at_risk", note="Slipping")
    milestone_set_status(milestone=ministerial, status=Status.IN_PROGRESS, by=alice)
    response = client.post(change_url(ministerial), stale)
    assert response.status_code == 200
    assert "Someone else changed this milestone" in str(response.context["adminform"].form.errors)
    ministerial.refresh_from_db()
    assert ministerial.status == "in_progress"


def test_moving_a_deadline_in_the_form_keeps_both_dates(client, alice, ministerial):
    client.force_login(alice)
    response = client.post(
        change_url(ministerial),
        form_data(
            ministerial,
            rule_kind="fixed",
            rule_fixed_date="2026-12-31",
            revision_reason="Postponed",
            revision_source="https://example.org/postponed",
        ),
    )
    assert response.status_code == 302
    ministerial.refresh_from_db()
    assert (ministerial.original_due_on, ministerial.due_on) == (
        dt.date(2026, 4, 26),
        dt.date(2026, 12, 31),
    )
    page = client.get(change_url(ministerial)).content.decode()
    assert "2026-04-26" in page or "April 26, 2026" in page
    assert "Postponed" in page


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ({"rule_kind": "days_after", "rule_amount": 3_000_000}, "counts at most 36525"),
        ({"rule_kind": "months_after", "rule_amount": 100_000}, "counts at most 1200"),
        ({"rule_kind": "fixed", "rule_fixed_date": "9999-12-31"}, "give a date before 9999-01-01"),
    ],
)
def test_a_deadline_off_the_calendar_is_a_form_error(client, alice, ministerial, rule, words):
    client.force_login(alice)
    reason = {"revision_reason": "Moved", "revision_source": "https://example.org/moved"}
    response = client.post(change_url(ministerial), form_data(ministerial, **rule, **reason))
    assert words in str(response.context["adminform"].form.errors["rule_kind"])
    ministerial.refresh_from_db()
    assert ministerial.due_on == dt.date(2026, 4, 26)


def test_a_rule_change_without_reason_is_refused(client, alice, ministerial):
    client.force_login(alice)
    response = client.post(
        change_url(ministerial),
        form_data(ministerial, rule_kind="fixed", rule_fixed_date="2026-12-31"),
    )
    errors = response.context["adminform"].form.errors
    assert "revision_reason" in errors and "revision_source" in errors


def test_a_viewer_sees_but_cannot_change(client, bob, ministerial):
    client.force_login(bob)
    assert client.get(reverse("admin:commitments_milestone_changelist")).status_code == 200
    page = client.get(change_url(ministerial))
    assert page.status_code == 200 and b'name="new_status"' not in page.content
    response = client.post(
        change_url(ministerial), form_data(ministerial, new_status="completed", evidence=EVIDENCE)
    )
    assert response.status_code == 403
    ministerial.refresh_from_db()
    assert ministerial.status == "not_started"


def test_staff_without_the_groups_see_nothing(client, charlie, ministerial):
    client.force_login(charlie)
    assert client.get(change_url(ministerial)).status_code == 403


def test_bulk_actions_go_through_the_service(client, alice, ministerial, project_selection):
    client.force_login(alice)
    url = reverse("admin:commitments_milestone_changelist")
    ids = [ministerial.pk, project_selection.pk]
    client.post(url, {"action": "mark_in_progress", "_selected_action": ids})
    assert set(Milestone.objects.filter(pk__in=ids).values_list("status", flat=True)) == {
        "in_progress"
    }
    # Completion asks for evidence first, then applies it to the whole selection.
    ask = client.post(url, {"action": "mark_completed_today", "_selected_action": ids})
    assert ask.status_code == 200 and b"Evidence address" in ask.content
    client.post(
        url,
        {
            "action": "mark_completed_today",
            "_selected_action": ids,
            "apply": "1",
            "evidence": EVIDENCE,
            "note": "Both done",
        },
    )
    done = Milestone.objects.filter(pk__in=ids)
    assert {(m.status, m.completed_on) for m in done} == {("completed", dt.date(2026, 11, 21))}
    assert StatusUpdate.objects.filter(milestone__in=ids, by=alice).count() == 4


def test_a_viewer_has_no_bulk_actions(client, bob, agreements):
    client.force_login(bob)
    page = client.get(reverse("admin:commitments_milestone_changelist"))
    assert b"mark_completed_today" not in page.content


def test_a_status_action_posted_without_the_permission_changes_nothing(
    client, bob, ministerial, django_user_model
):
    # A viewer, and an editor of milestones who may not set status: the action is not
    # theirs even when posted by hand.
    editor = django_user_model.objects.create_user("half", is_staff=True)
    editor.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_milestone", "change_milestone"])
    )
    for user in (bob, editor):
        client.force_login(user)
        client.post(
            reverse("admin:commitments_milestone_changelist"),
            {"action": "mark_in_progress", "_selected_action": [ministerial.pk]},
        )
        ministerial.refresh_from_db()
        assert ministerial.status == Status.NOT_STARTED, user


def test_a_bulk_completion_refuses_a_series_and_completes_the_rest(client, alice, agreements):
    series = Milestone.objects.filter(rule_kind="recurring").first()
    others = Milestone.objects.filter(status="not_started", series__isnull=True).exclude(
        rule_kind="recurring"
    )
    ids = [m.pk for m in others.order_by("pk")[:4]]
    client.force_login(alice)
    page = client.post(
        reverse("admin:commitments_milestone_changelist"),
        {
            "action": "mark_completed_today",
            "_selected_action": [*ids, series.pk],
            "apply": "1",
            "evidence": EVIDENCE,
            "note": "Done",
        },
        follow=True,
    )
    said = [str(m) for m in page.context["messages"]]
    assert any(s.startswith("4 milestones set to") for s in said), said
    assert any(str(series) in s for s in said), said  # the refused one, named
    assert set(Milestone.objects.filter(pk__in=ids).values_list("status", flat=True)) == {
        "completed"
    }
    series.refresh_from_db()
    assert series.status != Status.COMPLETED


# The shipped milestones past their deadline on 2026-11-21: US–Japan's two, US–Australia's
# money (2026-04-20), follow-up and Investment Ministerial (2026-04-18), Malaysia's first
# four quarterly meetings.
OVERDUE_AT_TODAY = {
    "ministerial-convened",
    "projects-selected-and-funded",
    "projects-funded",
    "follow-up-meeting",
    "investment-ministerial-convened",
    # Malaysia's quarterly meetings, each occurrence on its own (the series never).
    "working-level-meeting-2026-01-26",
    "working-level-meeting-2026-04-26",
    "working-level-meeting-2026-07-26",
    "working-level-meeting-2026-10-26",
}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("overdue=yes", OVERDUE_AT_TODAY),
        ("status__exact=in_progress", set()),
        ("q=002_9d03994fb32bb4e5", {"ministerial-convened"}),
    ],
)
def test_list_filters_and_search(client, alice, agreements, query, expected):
    client.force_login(alice)
    page = client.get(reverse("admin:commitments_milestone_changelist") + "?" + query)
    shown = {m.key for m in page.context["cl"].result_list}
    assert expected <= shown
    if query.startswith("overdue"):
        assert shown == expected


def _make_milestones(n: int) -> None:
    commitment = Commitment.objects.first()
    for i in range(n):
        m = MilestoneFactory.build(commitment=commitment, key=f"bulk-{i}", rule_amount=i % 400)
        m.save()
        add_parts(m, "US", "JP") if i % 50 == 0 else None
    from commitments.services import refresh_deadlines

    refresh_deadlines(commitment.agreement)


def _count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    "url_name", ["admin:commitments_milestone_changelist", "admin:commitments_commitment_change"]
)
def test_admin_pages_run_a_constant_number_of_queries(
    client, alice, agreements, url_name, django_assert_max_num_queries
):
    client.force_login(alice)
    commitment = Commitment.objects.first()
    args = [] if "changelist" in url_name else [commitment.pk]
    url = reverse(url_name, args=args) + ("?all=" if "changelist" in url_name else "")
    small = _count(client, url)
    _make_milestones(500)
    assert Milestone.objects.count() > 500
    with django_assert_max_num_queries(small):
        page = client.get(url)
    if "changelist" in url_name:
        assert len(page.context["cl"].result_list) > 500
    else:
        assert page.content.count(b"bulk-") >= 500


def test_milestone_change_page_is_constant_in_history_length(
    client, alice, ministerial, django_assert_max_num_queries
):
    from commitments.services import milestone_set_status

    client.force_login(alice)
    small = _count(client, change_url(ministerial))
    _make_milestones(500)
    for i in range(60):
        ministerial.refresh_from_db()
        milestone_set_status(
            milestone=ministerial,
            status="at_risk" if i % 2 else "in_progress",
            by=alice,
            note=f"update {i}",
        )
    with django_assert_max_num_queries(small):
        client.get(change_url(ministerial))


def test_an_editor_records_one_party_part_from_the_form(client, alice, ministerial):
    from commitments.models import Party

    client.force_login(alice)
    japan = Party.objects.get(code="JP")
    response = client.post(
        change_url(ministerial),
        form_data(
            ministerial,
            new_status="completed",
            party=japan.pk,
            evidence=EVIDENCE,
            completed="2026-04-20",
        ),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    ministerial.refresh_from_db()
    parts = dict(ministerial.parts.values_list("party__code", "status"))
    assert parts == {"JP": "completed", "US": "not_started"}
    assert ministerial.status == "in_progress"


def test_times_on_a_milestone_page_read_in_the_agreement_zone(client, alice, ministerial):
    from commitments.services import milestone_set_status

    milestone_set_status(milestone=ministerial, status=Status.AT_RISK, by=alice, note="Slipping")
    client.force_login(alice)
    page = client.get(change_url(ministerial)).content.decode()
    # NOW is 03:00 UTC, which is noon in Tokyo: every time on the page names its zone.
    assert page.count("2026-11-21 12:00 JST") >= 2  # updated, and the history row
    assert "noon" not in page
    # The list mixes agreements: its time column reads in one zone, named.
    listing = client.get(reverse("admin:commitments_milestone_changelist")).content.decode()
    assert "2026-11-21 03:00 UTC" in listing and "12:00 JST" not in listing


def test_times_django_formats_name_the_zone_too(client, alice, ministerial):
    """Read-only times that Django formats itself (here "archived at") read in the
    page's zone and name it, not "Nov. 21, 2026, noon" (config/formats)."""
    from commitments.services import milestone_archive

    milestone_archive(milestone=ministerial, by=alice)
    client.force_login(alice)
    page = client.get(change_url(ministerial)).content.decode()
    assert '<div class="readonly">2026-11-21 12:00 JST</div>' in page
    assert "noon" not in page and "p.m." not in page


@pytest.mark.parametrize(
    ("moment", "zone", "label"),
    [
        (dt.datetime(2026, 12, 7, 4, 33, tzinfo=dt.UTC), "Asia/Tokyo", "2026-12-07 13:33 JST"),
        (NOW, "Asia/Kuala_Lumpur", "2026-11-21 11:00 UTC+08"),
        (NOW, "America/New_York", "2026-11-20 22:00 EST"),
    ],
)
def test_a_time_names_its_zone_by_abbreviation_and_name(moment, zone, label):
    from commitments.admin import utc_label, zone_label

    assert zone_label(moment, zone) == f"{label} ({zone})"
    assert utc_label(moment) == f"{moment:%Y-%m-%d %H:%M} UTC"


def test_counts_of_one_are_singular(client, alice, agreements):
    one_day = MilestoneFactory(rule_kind="fixed", rule_amount=None, rule_fixed_date=NOW.date())
    client.force_login(alice)
    url = reverse("admin:commitments_milestone_changelist")
    # Due on the 21st in Tokyo (now noon there): one day overdue on the 22nd.
    with time_machine.travel(NOW + dt.timedelta(days=1), tick=False):
        html = client.get(url).content.decode()
    assert "overdue 1 day<" in html and "1 days" not in html
    listing = client.get(url + "?q=" + one_day.title).content.decode()
    assert "due today" in listing
    with time_machine.travel(NOW - dt.timedelta(days=1), tick=False):
        assert "1 day left" in client.get(url + "?q=" + one_day.title).content.decode()
    response = client.post(
        url, {"action": "mark_in_progress", "_selected_action": [one_day.pk]}, follow=True
    )
    assert "1 milestone set to “In progress”." in response.content.decode()
    assert "(s)" not in response.content.decode()


def test_a_recurring_obligation_lists_its_occurrences_in_constant_queries(
    client, alice, agreements, django_assert_max_num_queries
):
    from commitments.deadlines import DeadlineRule, RuleKind
    from commitments.services import milestone_revise_deadline

    quarterly = Milestone.objects.get(
        commitment__agreement__slug="us-malaysia-critical-minerals-2025",
        key="working-level-meeting",
    )
    client.force_login(alice)
    page = client.get(change_url(quarterly))
    first = quarterly.occurrences.get(due_on=dt.date(2026, 1, 26))
    assert f'href="{change_url(first)}"'.encode() in page.content
    assert b"ccurrences (each due on its date" in page.content
    assert b"every 3 months, counted from signature" in page.content
    small = _count(client, change_url(quarterly))
    # Thailand's meetings, made daily: hundreds of occurrences on one page.
    daily = Milestone.objects.get(
        commitment__agreement__slug="us-thailand-critical-minerals-2025",
        key="working-level-meeting",
    )
    milestone_revise_deadline(
        milestone=daily,
        rule=DeadlineRule(kind=RuleKind.RECURRING, rrule="FREQ=DAILY"),
        reason="Daily stand-ups",
        source="https://example.org/daily",
        by=alice,
    )
    assert daily.occurrences.count() > 300
    with django_assert_max_num_queries(small):
        page = client.get(change_url(daily))
    assert page.content.count(b"(Asia/Kuala_Lumpur)") > 300


def test_an_occurrence_page_links_its_series(client, alice, agreements):
    series = Milestone.objects.get(
        commitment__agreement__slug="us-malaysia-critical-minerals-2025",
        key="working-level-meeting",
    )
    first = series.occurrences.get(due_on=dt.date(2026, 1, 26))
    client.force_login(alice)
    page = client.get(change_url(first))
    assert f'<a href="{change_url(series)}">Quarterly working-level meeting held</a>'.encode() in (
        page.content
    )
    assert b"ccurrences (each due on its date" not in page.content
