"""Metrics in Prometheus' text format, for the operators who watch the tracker.

Requests are counted by status in every web process (added up across gunicorn's
workers through ``PROMETHEUS_MULTIPROC_DIR``). The rest is read from the database when
/metrics is scraped ("no sweep for 5 minutes" is
``tracker_sweep_last_success_age_seconds > 300``)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldError
from django.db import DatabaseError
from django.db.models import Count, Min, Q
from django.utils import timezone
from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from tracker.archive import metrics as archive_metrics
from tracker.intake import metrics as intake_metrics

log = logging.getLogger(__name__)

# Not in the global registry: /metrics builds its own (below).
REQUESTS = Counter(
    "tracker_http_requests",
    "HTTP answers of this web service, by status",
    ["status"],
    registry=None,
)


def count_request(status: int) -> None:
    REQUESTS.labels(str(status)).inc()


def last_sweep_finished() -> Any:
    """When the last sweep that finished did (None if none has)."""
    SweepRun = apps.get_model("tracker", "SweepRun")
    return (
        SweepRun.objects.filter(finished_at__isnull=False)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )


def pipeline_counts() -> dict[str, Any]:
    """Pending, failed and the oldest pending alert, and webhook failures: one query.
    Tables that no longer answer (the alert pipeline is being reworked) give None, left
    out of /metrics (and logged) instead of failing the scrape."""
    try:
        Alert = apps.get_model("tracker", "Alert")
        pending = Q(sent_at__isnull=True, failed=False, skipped=False)
        return Alert.objects.aggregate(
            pending=Count("pk", filter=pending),
            # Not "failed": the filters' failed=False would then name this aggregate,
            # not the field (FieldError).
            failed_alerts=Count("pk", filter=Q(failed=True)),
            oldest_pending=Min("created_at", filter=pending),
            webhook_failed=Count("pk", filter=Q(failed=True, channel="webhook")),
        )
    except (LookupError, FieldError, DatabaseError) as exc:
        log.warning("metrics: the alert tables did not answer: %s", exc)
        return dict.fromkeys(("pending", "failed_alerts", "oldest_pending", "webhook_failed"))


class TrackerCollector:
    """Read from the database at each scrape: a handful of cheap queries (the pending
    alerts through their partial index; the failed count scans the alert table)."""

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        up = GaugeMetricFamily("tracker_database_up", "1 if the database answered the scrape")
        finished = None
        try:
            finished = last_sweep_finished()
        except DatabaseError as exc:
            log.warning("metrics: database unreachable: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        except (LookupError, FieldError) as exc:  # the sweep's table changed
            log.warning("metrics: the sweep table did not answer: %s", exc)
        up.add_metric([], 1)
        yield up
        if finished is not None:
            yield GaugeMetricFamily(
                "tracker_sweep_last_success_timestamp_seconds",
                "When the last sweep finished (Unix time)",
                value=finished.timestamp(),
            )
            yield GaugeMetricFamily(
                "tracker_sweep_last_success_age_seconds",
                "Seconds since the last sweep finished: alert when it passes 300",
                value=(now - finished).total_seconds(),
            )
        counts = pipeline_counts()
        gauges = {
            "pending": ("tracker_alerts_pending", "Alerts waiting to be sent"),
            "failed_alerts": ("tracker_alerts_failed", "Alerts given up after too many attempts"),
            "webhook_failed": ("tracker_webhook_failures", "Webhook deliveries given up"),
        }
        for key, (name, doc) in gauges.items():
            if counts[key] is not None:
                yield GaugeMetricFamily(name, doc, value=counts[key])
        if counts["pending"] is not None:
            oldest = counts["oldest_pending"]
            yield GaugeMetricFamily(
                "tracker_alerts_oldest_pending_age_seconds",
                "Age of the oldest pending alert (0 when none is pending)",
                value=(now - oldest).total_seconds() if oldest else 0.0,
            )
        yield from intake_metrics.families(now)
        yield from archive_metrics.families()


def render() -> bytes:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(REQUESTS)
    registry.register(TrackerCollector())
    return generate_latest(registry)
