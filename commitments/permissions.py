"""The two staff groups. Editors change status and notes; viewers only look.

Each app grants the groups its own permissions (``grant``): this module names the
domain's; the tracker adds its own from ``TrackerConfig.ready``.
"""

from __future__ import annotations

from typing import Any

EDITORS = "Tracker editors"
VIEWERS = "Tracker viewers"

VIEW_MODELS = [
    "agreement",
    "commitment",
    "milestone",
    "milestonepart",
    "party",
    "source",
    "statusupdate",
    "deadlinerevision",
    "lead",
    "logentry",
]
EDITOR_EXTRA = [
    "change_milestone",
    "set_milestone_status",
    "change_commitment",
    "add_source",
    "change_source",
    "add_logentry",
    "change_logentry",
]


def grant(app_label: str, *, view_models: list[str], editor_extra: list[str]) -> None:
    """Give the two groups exactly these permissions of ``app_label`` (creating the
    groups if needed), leaving other apps' permissions alone. Idempotent."""
    from django.contrib.auth.models import Group, Permission

    views = [f"view_{m}" for m in view_models]
    for name, codenames in ((VIEWERS, views), (EDITORS, views + editor_extra)):
        group, _ = Group.objects.get_or_create(name=name)
        ours = Permission.objects.filter(content_type__app_label=app_label)
        group.permissions.remove(*ours.exclude(codename__in=codenames))
        group.permissions.add(*ours.filter(codename__in=codenames))


def ensure_groups(app_config: Any = None, **kwargs: Any) -> None:
    from django.contrib.auth.management import create_permissions

    # post_migrate may reach this app before auth has made its permissions on a
    # first migrate: make them now (idempotent).
    if app_config is not None:
        create_permissions(app_config, verbosity=0)
    grant("commitments", view_models=VIEW_MODELS, editor_extra=EDITOR_EXTRA)
