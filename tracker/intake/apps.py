from django.apps import AppConfig


class IntakeConfig(AppConfig):
    """Watched sources and the findings they bring to staff (tracker/intake)."""

    name = "tracker.intake"
    label = "intake"
    verbose_name = "Intake (watched sources and findings)"
