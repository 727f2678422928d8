"""The doorbell: a history row saved by the domain's services rings the dispatcher
once the transaction commits. Speed only; nothing is lost without it, since the
dispatcher reads the history rows themselves on its schedule."""

from __future__ import annotations

from typing import Any

from commitments.models import StatusUpdate


def history_row_saved(sender: Any, instance: StatusUpdate, created: bool, **kwargs: Any) -> None:
    from .dispatch import is_alerting

    if created and is_alerting(instance):
        from .tasks import deliver_alerts, ring

        ring(deliver_alerts)


def subscribe_staff_login(sender: Any, user: Any, **kwargs: Any) -> str:
    """The first staff login hears about everything (every kind, the default lead
    times), so that a newcomer sees the first sweep's alerts."""
    from ..models import Subscription

    Subscription.objects.get_or_create(
        user=user, email="", agreement=None, commitment=None, milestone=None
    )
    return f"Subscribed {user.email} to every alert (Tracking → Subscriptions to change it)."
