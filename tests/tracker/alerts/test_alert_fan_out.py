"""The sweep writes events (flags and due-soon reminders, one per lead time) and the
dispatcher decides, per event, who hears about it (tracker.alerts.audience). These tests
hold the two together against the plain rule of the first alert pipeline, written
out here milestone by milestone: owners and subscribers, their kinds and the nearest
lead time reached, less the inactive and the opted out."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User

from commitments import deadlines
from commitments.models import Milestone
from tests.factories import AgreementFactory, CommitmentFactory, MilestoneFactory
from tracker.alerts import dispatch, sweep
from tracker.models import DEFAULT_LEAD_DAYS, Alert, AlertEvent, AlertKind, OptOut, Subscription

START = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
MOMENTS = [
    START + dt.timedelta(days=d, hours=h)
    for d, h in [(0, 0), (0, 9), (2, 0), (9, 5), (26, 0), (40, 0)]
]


def wants(m: Milestone) -> dict[str, tuple[set[str], set[int]]]:
    """Address → (kinds, lead days) for milestone ``m``: the reference rule."""
    found: dict[str, tuple[set[str], set[int]]] = {}
    owner = m.owner or m.commitment.owner
    if owner is not None and owner.email:
        found[owner.email.lower()] = ({"due_soon", "overdue", "completed"}, set(DEFAULT_LEAD_DAYS))
    for s in Subscription.objects.filter(active=True).select_related("user"):
        covered = (
            s.milestone_id == m.pk
            if s.milestone_id
            else s.commitment_id == m.commitment_id
            if s.commitment_id
            else s.agreement_id == m.commitment.agreement_id
            if s.agreement_id
            else True
        )
        if covered and s.address:
            kinds, leads = found.get(s.address, (set(), set()))
            found[s.address] = (kinds | set(s.kinds), leads | set(s.lead_days))
    quiet = set(OptOut.objects.values_list("email", flat=True))
    return {a: w for a, w in found.items() if a not in quiet}


def expected_alerts(now: dt.datetime) -> set[tuple[int, str, str, dt.date]]:
    """What the sweep at ``now`` should alert, milestone by milestone."""
    found = set()
    people = Milestone.objects.select_related("owner", "commitment__owner", "commitment__agreement")
    for m in people.filter(overdue_since=now):
        found |= {
            (m.pk, AlertKind.OVERDUE, email, m.due_on)
            for email, (kinds, _) in wants(m).items()
            if "overdue" in kinds and m.due_on
        }
    for m in people.open().filter(overdue_since__isnull=True):
        left = deadlines.days_remaining(m.due_on, now=now, time_zone=m.time_zone())
        if left is None or left < 0:
            continue
        for email, (kinds, lead_days) in wants(m).items():
            leads = [d for d in lead_days if d >= left]
            if "due_soon" in kinds and leads:
                found.add((m.pk, AlertKind.due(min(leads)), email, m.due_on))
    return found


def written_alerts() -> set[tuple[int, str, str, dt.date]]:
    return set(Alert.objects.values_list("milestone_id", "kind", "recipient", "due_on"))


def milestone(commitment, days: int | None, **fields) -> Milestone:
    if days is None:
        return MilestoneFactory(commitment=commitment, rule_kind="none", rule_amount=None, **fields)
    return MilestoneFactory(
        commitment=commitment,
        rule_kind="fixed",
        rule_amount=None,
        rule_fixed_date=START.date() + dt.timedelta(days=days),
        **fields,
    )


@pytest.fixture
def crowd(db) -> list[Milestone]:
    """Owners with and without an address, a milestone owner overriding its commitment's,
    subscriptions to an agreement, a commitment and one milestone, by address and by
    user, one inactive, one opted out, and one address subscribed twice."""

    def user(name: str, email: str) -> User:
        return User.objects.create_user(name, email, "pass")

    alice, bob = user("alice", "alice@example.org"), user("bob", "bob@example.org")
    dana, eve = user("dana", "Dana@Example.ORG"), user("eve", "")
    tokyo = AgreementFactory(time_zone="Asia/Tokyo")
    new_york = AgreementFactory(time_zone="America/New_York")
    a1, a2 = CommitmentFactory(agreement=tokyo, owner=alice), CommitmentFactory(agreement=tokyo)
    a3 = CommitmentFactory(agreement=tokyo, owner=eve)
    b1 = CommitmentFactory(agreement=new_york, owner=bob)
    b2 = CommitmentFactory(agreement=new_york)
    ms = [milestone(c, d) for c in (a1, a2, a3, b1, b2) for d in (-3, 0, 1, 2, 8, 25, 33, 60)]
    ms += [
        milestone(a1, 1, owner=eve),
        milestone(a2, 8, owner=dana),
        milestone(b2, None),
        milestone(b1, 2, owner=alice),
        milestone(a3, -1, status="cancelled"),
    ]
    named = milestone(a2, 2)
    Subscription.objects.create(email="newsroom@example.org", agreement=tokyo)
    Subscription.objects.create(email="Analyst@Example.org", commitment=b1, kinds=["overdue"])
    Subscription.objects.create(email="watcher@example.org", milestone=named, lead_days=[3])
    Subscription.objects.create(
        email="newsroom@example.org", commitment=b2, kinds=["due_soon"], lead_days=[45]
    )
    Subscription.objects.create(user=dana, commitment=a3, kinds=["due_soon"], lead_days=[10])
    Subscription.objects.create(email="gone@example.org", agreement=tokyo, active=False)
    Subscription.objects.create(email="quiet@example.org", agreement=new_york)
    OptOut.objects.create(email="quiet@example.org")
    return [*ms, named]


@pytest.mark.parametrize("everything", [False, True], ids=["scoped", "all-subscriber"])
def test_each_sweep_writes_what_for_milestone_decides_for_each_milestone(crowd, everything):
    if everything:
        Subscription.objects.create(
            email="All@Example.org", kinds=["overdue", "due_soon"], lead_days=[1, 14]
        )
    kinds = set()
    for now in MOMENTS:
        # Each moment on its own: forget the reminders (not the flags) already sent.
        Alert.objects.all().delete()
        AlertEvent.objects.filter(lead_days__isnull=False).delete()
        sweep.run(now=now)
        queued = dispatch.run(now=now).queued
        want = expected_alerts(now)
        assert written_alerts() == want, now
        assert queued == len(want)
        kinds |= {kind for _, kind, _, _ in want}
    # Not a vacuous comparison: every kind of alert came up along the way.
    assert {"overdue", "due_1", "due_3", "due_7", "due_10", "due_30", "due_45"} <= kinds


def test_a_second_sweep_and_dispatch_at_the_same_moment_write_nothing_more(crowd):
    sweep.run(now=MOMENTS[2])
    first = dispatch.run(now=MOMENTS[2])
    before = written_alerts()
    second = sweep.run(now=MOMENTS[2])
    assert first.queued == len(before) > 0
    assert second.queued == 0 and dispatch.run(now=MOMENTS[2]).queued == 0
    assert written_alerts() == before
