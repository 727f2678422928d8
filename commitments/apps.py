from django.apps import AppConfig


class CommitmentsConfig(AppConfig):
    name = "commitments"
    verbose_name = "Commitments"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate
        from simple_history.signals import pre_create_historical_record

        from .permissions import ensure_groups

        # Permissions exist only after migrate has created them, so the groups are
        # (re)made after every migrate; the function is idempotent.
        post_migrate.connect(ensure_groups, sender=self)
        pre_create_historical_record.connect(copy_username)


def copy_username(sender: object, history_instance: object, **kwargs: object) -> None:
    """Keep the editor's name on the audit row: it outlives the user's account."""
    user = kwargs.get("history_user")
    if user is not None and hasattr(history_instance, "history_username"):
        history_instance.history_username = user.get_username()  # type: ignore[attr-defined]
