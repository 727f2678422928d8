"""The intake's share of /metrics (tracker/ops/metrics.py): fetches by outcome (all
workers, from the database), findings waiting for review, and the oldest one's age."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator

from django.db import DatabaseError
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from .models import FetchTally
from .selectors import pending_findings

log = logging.getLogger(__name__)


def families(now: dt.datetime) -> Iterator[Metric]:
    """Two cheap queries; nothing (and a log line) if the tables do not answer."""
    try:
        tallies = list(FetchTally.objects.values_list("outcome", "count"))
        pending, oldest = pending_findings()
    except DatabaseError as exc:
        log.warning("metrics: the intake tables did not answer: %s", exc)
        return
    fetches = CounterMetricFamily(
        "tracker_intake_fetches", "Fetches of watched sources, by outcome", labels=["outcome"]
    )
    for outcome, count in sorted(tallies):
        fetches.add_metric([outcome], count)
    yield fetches
    yield GaugeMetricFamily(
        "tracker_intake_findings_pending", "Findings waiting for a staff decision", value=pending
    )
    yield GaugeMetricFamily(
        "tracker_intake_findings_oldest_pending_age_seconds",
        "Age of the oldest finding waiting for review (0 when none is)",
        value=(now - oldest).total_seconds() if oldest else 0.0,
    )
