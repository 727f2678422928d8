from django.apps import AppConfig


class IntakeConfig(AppConfig):
    """Watched sources and the findings they bring to staff (tracker/intake)."""

    name = "tracker.intake"
    label = "intake"
    verbose_name = "Intake (watched sources and findings)"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from .permissions import ensure_permissions

        post_migrate.connect(ensure_permissions, sender=self)
