"""The audit trail's "Changes" column in words: a choice by its label ("Not started →
In progress", not ``not_started → in_progress``), nothing as "—", an empty text as
"(empty)", a time in UTC, named."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import ManyToManyField
from simple_history.models import DeletedObject, ModelChange
from simple_history.template_utils import HistoricalRecordContextHelper

from .labels import utc_label


class HistoryLabels(HistoricalRecordContextHelper):
    def prepare_delta_change_value(self, change: ModelChange, value: Any) -> Any:
        field = self.model._meta.get_field(change.field)
        if isinstance(field, ManyToManyField):
            return super().prepare_delta_change_value(change, value)
        return value_label(dict(getattr(field, "flatchoices", None) or ()), value)


def value_label(choices: dict[Any, Any], value: Any) -> Any:
    """How the trail shows one old or new value of a field with these ``choices``."""
    # An empty foreign key comes as the library's "deleted object" with no key.
    if value is None or (isinstance(value, DeletedObject) and value.pk is None):
        return "—"
    if value == "":
        return "(empty)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return utc_label(value)
    return choices.get(value, value)
