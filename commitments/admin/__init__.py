"""The staff admin, one module per model family: ``records`` (what every record's
admin shares), ``agreements`` (parties, agreements, commitments), ``milestones``,
``log`` (the sourced log) and ``status`` (the status history), with their ``forms``,
``filters``, ``inlines`` and ``labels``. Every save of an agreement, commitment,
milestone or log entry, and every status, deadline and archive change, goes through
``commitments.services``; nothing here writes them directly. Records with history are
archived, never deleted.

Times are labelled with their zone: a milestone's page reads in its agreement's zone,
list columns that mix agreements read in UTC."""

from __future__ import annotations

# Importing the modules registers their ModelAdmins with the default site.
from . import agreements, log, milestones, status
from .labels import days, utc_label, zone_label
from .milestones import MilestoneAdmin

# The modules, and what other apps' admin pages use to write times and counts alike.
__all__ = [
    "MilestoneAdmin",
    "agreements",
    "days",
    "log",
    "milestones",
    "status",
    "utc_label",
    "zone_label",
]
