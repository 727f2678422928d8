"""The staff admin, one module per model family. Every save of a record, and every
status, deadline and archive change, goes through ``commitments.services``; records
with history are archived, never deleted. Times are labelled with their zone: a
an agreement's, commitment's or milestone's page reads in its agreement's zone, list
columns that mix agreements in UTC."""

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
