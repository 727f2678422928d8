"""Prepares the several-hosts test's database (DATABASE_URL): migrate, the agreements,
an editor with an API token, subscribers. Prints the token."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django

django.setup()
from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from knox.models import AuthToken  # noqa: E402

from commitments import deadlines  # noqa: E402
from commitments.loader import load_agreements  # noqa: E402
from commitments.models import Commitment, Milestone  # noqa: E402
from commitments.permissions import EDITORS  # noqa: E402
from tracker.models import Subscription  # noqa: E402

call_command("migrate", verbosity=0)
load_agreements()
# The shipped agreements have 14 milestones; the faults need more to write to.
commitment = Commitment.objects.select_related("agreement").order_by("pk").first()
agreement = commitment.agreement
Milestone.objects.bulk_create(
    Milestone(
        commitment=commitment,
        key=f"hosts-{n}",
        title=f"Several-hosts milestone {n}",
        rule_kind="days_after",
        rule_amount=900 + n,
        due_on=(due := deadlines.add_days(agreement.signed_on, 900 + n)),
        overdue_from=deadlines.overdue_at(due, agreement.time_zone),
    )
    for n in range(60)
)
editor = User.objects.create_user("editor", "editor@example.org", "a-long-pass-phrase")
editor.groups.add(Group.objects.get(name=EDITORS))
Subscription.objects.bulk_create(
    Subscription(email=f"reader{n}@example.org", kinds=["completed"])
    for n in range(int(sys.argv[1]))
)
print(AuthToken.objects.create(user=editor)[1])
