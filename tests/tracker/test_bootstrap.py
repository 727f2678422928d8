"""`make run` out of the box: the staff login the bootstrap command creates is
subscribed to everything, so the first sweep's alerts reach the console."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core import mail
from django.core.management import CommandError, call_command

from tracker.alerts import delivery, sweep
from tracker.models import Subscription

AFTER = dt.datetime(2026, 4, 27, 0, 0, tzinfo=dt.UTC)  # the ministerial is overdue


def test_the_first_sweep_alerts_the_staff_login_bootstrap_made(db, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    out = StringIO()
    call_command("bootstrap", stdout=out)
    admin = User.objects.get(username="admin")
    (sub,) = Subscription.objects.all()
    assert sub.user == admin and sub.address == "admin@localhost"
    assert (sub.agreement, sub.commitment, sub.milestone) == (None, None, None)
    assert "Subscribed admin@localhost to every alert" in out.getvalue()
    with time_machine.travel(AFTER, tick=False):
        sweep.run()
        result = delivery.deliver()
    assert result.emails == 1 and mail.outbox[0].to == ["admin@localhost"]
    assert mail.outbox[0].subject.startswith("OVERDUE: ")
    # Run again at the next start: no second login, no second subscription.
    call_command("bootstrap", stdout=StringIO())
    assert Subscription.objects.count() == 1


@pytest.mark.parametrize(
    ("username", "words"), [("", "This field cannot be blank"), ("a b", "Enter a valid username")]
)
def test_a_username_django_would_refuse_is_named_and_no_login_made(db, username, words):
    with pytest.raises(CommandError, match=f"--username '{username}': {words}"):
        call_command("bootstrap", "--username", username, stdout=StringIO())
    assert not User.objects.exists()
