from django.apps import AppConfig


class TrackerConfig(AppConfig):
    name = "tracker"
    verbose_name = "Tracking (sweep, alerts, API)"


class ApiTokensConfig(AppConfig):
    """django-rest-knox, headed "API tokens" in the admin (knox ships no AppConfig)."""

    name = "knox"
    label = "knox"
    verbose_name = "API tokens"
