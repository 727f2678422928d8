"""The archive's share of the two staff groups' permissions: both see the copies and
the link checks; editors may also ask for a failed capture to be tried again."""

from __future__ import annotations

from typing import Any

from commitments.permissions import grant

VIEW_MODELS = ["capture", "linkcheck"]
EDITOR_EXTRA = ["change_capture"]


def ensure_permissions(app_config: Any = None, **kwargs: Any) -> None:
    from django.contrib.auth.management import create_permissions

    if app_config is not None:
        create_permissions(app_config, verbosity=0)
    grant("archive", view_models=VIEW_MODELS, editor_extra=EDITOR_EXTRA)
