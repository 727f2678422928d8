from django.apps import AppConfig


class OpsConfig(AppConfig):
    """What operators watch and what hardens a production instance: health and
    readiness probes, metrics, the trusted-proxy rule, the login lockout's backend."""

    name = "tracker.ops"
    label = "tracker_ops"
    verbose_name = "Operations"
