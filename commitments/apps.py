from django.apps import AppConfig


class CommitmentsConfig(AppConfig):
    name = "commitments"
    verbose_name = "Commitments"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from .permissions import ensure_groups

        # Permissions exist only after migrate has created them, so the groups are
        # (re)made after every migrate; the function is idempotent.
        post_migrate.connect(ensure_groups, sender=self)
