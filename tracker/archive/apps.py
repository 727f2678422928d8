from __future__ import annotations

from django.apps import AppConfig


class ArchiveConfig(AppConfig):
    """Copies of every cited page, kept as WARC, and the weekly link check
    (tracker/archive)."""

    name = "tracker.archive"
    label = "archive"
    verbose_name = "Archive (copies of cited pages, link checks)"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate, post_save

        from commitments.models import LogEntry, Source, StatusUpdate

        from . import signals
        from .permissions import ensure_permissions

        post_migrate.connect(ensure_permissions, sender=self)

        # The domain knows nothing of us: we listen. A status change with evidence
        # writes a StatusUpdate row (services.milestone_set_status), so that is where
        # a milestone's evidence address is heard.
        post_save.connect(signals.source_saved, sender=Source, dispatch_uid="archive.source")
        post_save.connect(signals.log_saved, sender=LogEntry, dispatch_uid="archive.log")
        post_save.connect(
            signals.update_saved, sender=StatusUpdate, dispatch_uid="archive.evidence"
        )
