from __future__ import annotations

from django.apps import AppConfig


class TrackerConfig(AppConfig):
    # Two AppConfig classes live in this module: say which one "tracker" means, or
    # Django would fall back to a bare AppConfig and ready() would never run.
    default = True
    name = "tracker"
    verbose_name = "Tracking (sweep, alerts, API)"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate, post_save

        from commitments.models import StatusUpdate
        from commitments.signals import staff_login_created

        from .alerts import signals
        from .permissions import ensure_permissions

        # After the domain's (commitments comes first in INSTALLED_APPS), so the groups
        # exist; idempotent, run after every migrate.
        post_migrate.connect(ensure_permissions, sender=self)
        # For speed only: the dispatcher finds new history rows by itself (see
        # tracker/alerts/dispatch.py); this rings its doorbell once the row is committed.
        post_save.connect(
            signals.history_row_saved, sender=StatusUpdate, dispatch_uid="tracker.doorbell"
        )
        staff_login_created.connect(signals.subscribe_staff_login, dispatch_uid="tracker.staff")


class ApiTokensConfig(AppConfig):
    """django-rest-knox, headed "API tokens" in the admin (knox ships no AppConfig)."""

    name = "knox"
    label = "knox"
    verbose_name = "API tokens"
