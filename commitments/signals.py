"""What the domain announces, for others (the tracker) to react to without the domain
knowing them."""

from __future__ import annotations

from django.dispatch import Signal

# Sent by the bootstrap command with ``user``: the staff login it has just created.
staff_login_created = Signal()
