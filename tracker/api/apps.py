from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "tracker.api"
    label = "tracker_api"
    verbose_name = "API access"
