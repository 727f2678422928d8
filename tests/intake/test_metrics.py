"""/metrics: fetches by outcome (from every worker, through the database), findings
pending, and the oldest pending finding's age."""

from __future__ import annotations

import datetime as dt

import time_machine
from prometheus_client.parser import text_string_to_metric_families

from tracker.intake import watch
from tracker.intake.models import Finding, Item

NOW = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)


def samples(response) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def finding(n: int, age: dt.timedelta, state: str = Finding.State.PENDING) -> Finding:
    item = Item.objects.create(address=f"https://e.org/{n}", key=str(n), content_hash=str(n))
    return Finding.objects.create(item=item, state=state, created_at=NOW - age)


def test_metrics_count_fetches_and_pending_findings(client, db, settings):
    settings.METRICS_TOKEN = ""
    for outcome in ["ok", "ok", "timeout", "refused", "ok"]:
        watch.tally(outcome)
    finding(1, dt.timedelta(hours=3))
    finding(2, dt.timedelta(hours=1))
    finding(3, dt.timedelta(days=9), state=Finding.State.NOT_RELEVANT)
    with time_machine.travel(NOW, tick=False):
        got = samples(client.get("/metrics"))
    assert got[("tracker_intake_fetches_total", (("outcome", "ok"),))] == 3
    assert got[("tracker_intake_fetches_total", (("outcome", "timeout"),))] == 1
    assert got[("tracker_intake_fetches_total", (("outcome", "refused"),))] == 1
    assert got[("tracker_intake_findings_pending", ())] == 2
    assert got[("tracker_intake_findings_oldest_pending_age_seconds", ())] == 3 * 3600


def test_with_nothing_pending_the_age_is_zero(client, db, settings):
    settings.METRICS_TOKEN = ""
    got = samples(client.get("/metrics"))
    assert got[("tracker_intake_findings_pending", ())] == 0
    assert got[("tracker_intake_findings_oldest_pending_age_seconds", ())] == 0
