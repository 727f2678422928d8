"""The two staff groups. Editors change status and notes; viewers only look."""

from __future__ import annotations

from typing import Any

EDITORS = "Tracker editors"
VIEWERS = "Tracker viewers"

VIEW_MODELS = [
    "commitments.agreement",
    "commitments.commitment",
    "commitments.milestone",
    "commitments.milestonepart",
    "commitments.party",
    "commitments.source",
    "commitments.statusupdate",
    "commitments.deadlinerevision",
    "commitments.lead",
    "commitments.logentry",
    "tracker.alert",
    "tracker.subscription",
    "tracker.sweeprun",
    "tracker.optout",
    "tracker.digestsent",
]
EDITOR_EXTRA = [
    "commitments.change_milestone",
    "commitments.set_milestone_status",
    "commitments.change_commitment",
    "commitments.add_source",
    "commitments.change_source",
    "commitments.add_logentry",
    "commitments.change_logentry",
    "tracker.add_subscription",
    "tracker.change_subscription",
    "tracker.change_alert",
]


def _perms(names: list[str]) -> Any:
    from django.contrib.auth.models import Permission
    from django.db.models import Q

    query = Q(pk__in=[])
    for name in names:
        app_label, codename = name.split(".")
        query |= Q(content_type__app_label=app_label, codename=codename)
    return Permission.objects.filter(query)


def ensure_groups(**kwargs: Any) -> None:
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group

    # post_migrate reaches this app before the apps after it in INSTALLED_APPS
    # (tracker) have their permissions: create them all first, or a first migrate
    # would leave the groups without the tracker's.
    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0)

    views = [f"{m.split('.')[0]}.view_{m.split('.')[1]}" for m in VIEW_MODELS]
    viewers, _ = Group.objects.get_or_create(name=VIEWERS)
    viewers.permissions.set(_perms(views))
    editors, _ = Group.objects.get_or_create(name=EDITORS)
    editors.permissions.set(_perms(views + EDITOR_EXTRA))
