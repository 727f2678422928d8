"""The Celery app. Its settings are the CELERY_* names in config/settings.py."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("tracker")
app.config_from_object("django.conf:settings", namespace="CELERY")
# The installed apps' tasks modules, and the alert pipeline's (a package of the
# tracker app, not an app of its own).
app.autodiscover_tasks()
app.autodiscover_tasks(["tracker.alerts"])
