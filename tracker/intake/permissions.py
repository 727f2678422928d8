"""The intake's share of the two staff groups' permissions: viewers see sources,
items and findings; editors decide findings and keep sources and keywords."""

from __future__ import annotations

from typing import Any

from commitments.permissions import grant

VIEW_MODELS = ["watchedsource", "item", "finding", "suggestion", "keyword"]
EDITOR_EXTRA = [
    "change_finding",
    "add_watchedsource",
    "change_watchedsource",
    "add_keyword",
    "change_keyword",
    "delete_keyword",
]


def ensure_permissions(app_config: Any = None, **kwargs: Any) -> None:
    from django.contrib.auth.management import create_permissions

    if app_config is not None:
        create_permissions(app_config, verbosity=0)
    grant("intake", view_models=VIEW_MODELS, editor_extra=EDITOR_EXTRA)
