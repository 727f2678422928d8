from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class ArchiveConfig(AppConfig):
    """Copies of every cited page, kept as WARC, and the weekly link check
    (tracker/archive)."""

    name = "tracker.archive"
    label = "archive"
    verbose_name = "Archive (copies of cited pages, link checks)"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate, post_save

        from . import signals

        post_migrate.connect(self.grant_permissions, sender=self)
        # The domain knows nothing of us: we listen.
        for model in signals.ADDRESS_FIELDS:
            post_save.connect(
                signals.cited_saved, sender=model, dispatch_uid=f"archive.{model.__name__}"
            )

    def grant_permissions(self, **kwargs: Any) -> None:
        """Both groups see the copies and the link checks; editors may also ask for a
        failed capture to be tried again."""
        from django.contrib.auth.management import create_permissions

        from commitments.permissions import grant

        create_permissions(self, verbosity=0)
        grant("archive", view_models=["capture", "linkcheck"], editor_extra=["change_capture"])
