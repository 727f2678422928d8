from __future__ import annotations

import datetime as dt

import time_machine

from commitments.models import Milestone
from tracker.alerts import dispatch, sweep
from tracker.alerts.audience import Audience, milestones_for
from tracker.models import AlertEvent, OptOut, Subscription

AFTER = dt.datetime(2026, 4, 27, 0, 0, tzinfo=dt.UTC)  # the ministerial is overdue


def test_an_audience_read_for_some_addresses_answers_for_them_as_the_whole_one(
    agreements, alice, bob
):
    agreement = Milestone.objects.get(key="ministerial-convened").commitment.agreement
    alice.email, bob.email = "Alice@Example.org", "bob@example.org"
    alice.save(), bob.save()
    Subscription.objects.create(email="Newsroom@Example.ORG", agreement=agreement)
    Subscription.objects.create(user=alice, agreement=agreement)  # her user's address
    Subscription.objects.create(email="other@example.org", user=bob, agreement=agreement)
    Subscription.objects.create(email="gone@example.org", agreement=agreement)
    silenced = Subscription.objects.create(email="quiet@example.org", agreement=agreement)
    Subscription.objects.create(email="quiet@example.org", milestone=None)
    OptOut.objects.create(email="GONE@example.org")
    OptOut.objects.create(email="quiet@example.org", subscription=silenced)
    with time_machine.travel(AFTER, tick=False):
        sweep.run()
        dispatch.run()
    events = list(AlertEvent.objects.all())
    milestones = milestones_for(events)
    everyone = Audience.load()
    for addresses in [
        {"newsroom@example.org", "alice@example.org", "gone@example.org"},
        {"bob@example.org", "other@example.org", "quiet@example.org", "nobody@example.org"},
        set(),
    ]:
        some = Audience.load(addresses=addresses)
        for event in events:
            m = milestones[event.milestone_id]
            whole = {(r.channel, r.address) for r in everyone.recipients(event, m)}
            part = {(r.channel, r.address) for r in some.recipients(event, m)}
            assert {r for r in whole if r[1] in addresses} == {r for r in part if r[1] in addresses}
        assert some.opted_out == everyone.opted_out & addresses
    heard = {r.address for e in events for r in everyone.recipients(e, milestones[e.milestone_id])}
    assert {"newsroom@example.org", "alice@example.org", "other@example.org"} <= heard
    assert "gone@example.org" not in heard and "bob@example.org" not in heard
