"""The addresses an alert points at, the same in an email and a webhook's payload."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from commitments.models import Milestone


def milestone_links(m: Milestone) -> dict[str, str]:
    return {
        "page": f"{settings.SITE_URL}{reverse('tracker:milestone', args=[m.pk])}",
        "admin": f"{settings.SITE_URL}{reverse('admin:commitments_milestone_change', args=[m.pk])}",
    }
