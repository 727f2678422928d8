"""Run inside a restored database (DATABASE_URL) by tests/deploy/test_backup.py: prints
one JSON line with what the tracker does there."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django

django.setup()

from django.core import mail  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from commitments.models import Milestone  # noqa: E402
from commitments.services import milestone_set_status  # noqa: E402
from tracker.alerts import delivery, dispatch  # noqa: E402
from tracker.api.models import ChangeCounter  # noqa: E402
from tracker.models import Alert  # noqa: E402

setup_test_environment()  # the locmem outbox
client = Client()
out: dict[str, object] = {}
# The schema is what the code expects: no migration is missing.
call_command("migrate", "--check", verbosity=0)
out["counter_restored"] = ChangeCounter.objects.get(pk=1).value
out["etag_restored"] = client.get("/api/v1/status/")["ETag"]
m = Milestone.objects.get(key=sys.argv[1])
milestone_set_status(milestone=m, status="at_risk", by=None, note="after the restore")
out["counter_after_update"] = ChangeCounter.objects.get(pk=1).value
out["etag_after_update"] = client.get("/api/v1/status/")["ETag"]
out["pending_before_delivery"] = dispatch.undispatched()
dispatch.run()
result = delivery.deliver()
out["sent"] = result.sent
out["emails"] = len(mail.outbox)
out["pending_after_delivery"] = Alert.objects.filter(sent_at__isnull=True, skipped=False).count()
print(json.dumps(out))
