from typing import Any

from django.apps import AppConfig


class IntakeConfig(AppConfig):
    """Watched sources and the findings they bring to staff (tracker/intake)."""

    name = "tracker.intake"
    label = "intake"
    verbose_name = "Intake (watched sources and findings)"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        post_migrate.connect(self.grant_permissions, sender=self)

    def grant_permissions(self, **kwargs: Any) -> None:
        """Viewers see sources, items and findings; editors decide findings and keep
        sources and keywords."""
        from django.contrib.auth.management import create_permissions

        from commitments.permissions import grant

        create_permissions(self, verbosity=0)
        grant(
            "intake",
            view_models=["watchedsource", "item", "finding", "suggestion", "keyword"],
            editor_extra=[
                "change_finding",
                "add_watchedsource",
                "change_watchedsource",
                "add_keyword",
                "change_keyword",
                "delete_keyword",
            ],
        )
