"""``LeadTimes``, kept by database triggers (migration tracker 0009), holds for each pair
of lead times and kinds how many listening subscriptions have it: the same answer as
counting ``audience.listening()``, whatever wrote the subscriptions."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter

import pytest
from django.db import connection

from tracker.alerts import audience
from tracker.models import LeadTimes, Subscription

pytestmark = pytest.mark.django_db


def kept() -> Counter[tuple[str, str]]:
    return Counter(
        {
            (json.dumps(lead), json.dumps(kinds)): n
            for lead, kinds, n in LeadTimes.objects.values_list(
                "lead_days", "kinds", "subscriptions"
            )
        }
    )


def counted() -> Counter[tuple[str, str]]:
    return Counter(
        (json.dumps(lead), json.dumps(kinds))
        for lead, kinds in audience.listening().values_list("lead_days", "kinds")
    )


def sub(n: int, **fields: object) -> Subscription:
    return Subscription(email=f"r{n}@example.org", **fields)


def test_every_way_of_writing_subscriptions_keeps_the_counts():
    steps = []

    def check(what: str) -> None:
        steps.append(what)
        assert kept() == counted(), what
        assert all(n > 0 for n in kept().values()), what  # no pair held by nobody

    check("empty")
    first = Subscription.objects.create(email="one@example.org", lead_days=[7])
    check("one created")
    Subscription.objects.bulk_create(
        [sub(i, lead_days=[i % 3 + 1], kinds=["due_soon"]) for i in range(30)]
        + [sub(100, lead_days=[5], active=False)]
        + [sub(101, lead_days=[6], pending_since=dt.datetime(2026, 11, 1, tzinfo=dt.UTC))]
    )
    check("bulk created, one inactive and one waiting for confirmation")
    Subscription.objects.filter(email="r101@example.org").update(pending_since=None)
    check("confirmed")
    Subscription.objects.filter(lead_days=[1]).update(lead_days=[1, 30])
    check("bulk update of lead times")
    Subscription.objects.filter(email__in=["r0@example.org", "r3@example.org"]).update(active=False)
    check("switched off")
    Subscription.objects.filter(email="r100@example.org").update(active=True)
    check("switched on")
    Subscription.objects.filter(pk=first.pk).update(last_error="noted")
    check("another column")
    first.kinds = ["overdue"]
    first.save()
    check("saved by a form")
    first.delete()
    check("one deleted")
    Subscription.objects.filter(lead_days=[2]).delete()
    check("several deleted")
    Subscription.objects.filter(pk__gt=0).update(lead_days=["7"])  # past the form
    check("a bad value, kept as any other")
    assert audience.reminder_lead_days()[1], "the bad value is reported"
    Subscription.objects.all().delete()
    check("all deleted")
    assert LeadTimes.objects.count() == 0
    assert len(steps) == len(set(steps)) == 13


def test_a_truncated_subscription_table_leaves_no_counts():
    if connection.vendor != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's (SQLite deletes row by row)")
    Subscription.objects.bulk_create([sub(i, lead_days=[i + 1]) for i in range(5)])
    assert LeadTimes.objects.count() == 5
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no check left for the commit
        cursor.execute("TRUNCATE tracker_subscription CASCADE")
    assert LeadTimes.objects.count() == 0


def test_the_sweep_reads_lead_times_without_reading_every_subscription():
    from django.test.utils import CaptureQueriesContext

    Subscription.objects.bulk_create(
        [sub(i, lead_days=[i % 7 + 1], kinds=["due_soon"]) for i in range(50)]
    )
    with CaptureQueriesContext(connection) as queries:
        wanted, problems = audience.reminder_lead_days()
    assert wanted == {1, 2, 3, 4, 5, 6, 7} | set(audience.DEFAULT_LEAD_DAYS)
    assert problems == []
    assert [q["sql"] for q in queries if "tracker_subscription" in q["sql"]] == []
