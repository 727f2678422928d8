"""The tracker's share of the two staff groups' permissions (see
``commitments.permissions``): viewers see the alert machinery, editors manage
subscriptions and webhook endpoints and retry alerts."""

from __future__ import annotations

from typing import Any

from commitments.permissions import grant

VIEW_MODELS = [
    "alert",
    "alertevent",
    "subscription",
    "sweeprun",
    "optout",
    "digestsent",
    "webhookendpoint",
    "webhookattempt",
]
EDITOR_EXTRA = [
    "add_subscription",
    "change_subscription",
    "change_alert",
    "add_webhookendpoint",
    "change_webhookendpoint",
]


def ensure_permissions(app_config: Any = None, **kwargs: Any) -> None:
    from django.contrib.auth.management import create_permissions

    if app_config is not None:
        create_permissions(app_config, verbosity=0)
    grant("tracker", view_models=VIEW_MODELS, editor_extra=EDITOR_EXTRA)
