"""The archive's share of /metrics (tracker/ops/metrics.py): captures by state, dead
links and pages whose quoted words are gone (two cheap queries)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from django.db import DatabaseError
from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily, Metric

from .models import Capture
from .selectors import attention_counts

log = logging.getLogger(__name__)


def families() -> Iterator[Metric]:
    try:
        states = dict(Capture.objects.values_list("state").annotate(n=Count("pk")))
        counts = attention_counts()
    except DatabaseError as exc:
        log.warning("metrics: the archive tables did not answer: %s", exc)
        return
    captures = GaugeMetricFamily(
        "tracker_archive_captures", "Cited pages by archive state", labels=["state"]
    )
    for state in Capture.State.values:
        captures.add_metric([state], states.get(state, 0))
    yield captures
    yield GaugeMetricFamily(
        "tracker_archive_dead_links",
        "Cited addresses that no longer answer at the last link check",
        value=counts["dead"],
    )
    yield GaugeMetricFamily(
        "tracker_archive_passages_gone",
        "Cited pages that answer but no longer show a quoted passage",
        value=counts["words_gone"],
    )
