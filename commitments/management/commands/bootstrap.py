"""First-start set-up for the embedded default: load the agreements and make one
staff login, printed once. Safe to run at every start. Others may react to the new
login (``commitments.signals.staff_login_created``): the tracker subscribes it to
every alert, so that the first sweep's alerts show in the console."""

from __future__ import annotations

import secrets
from typing import Any, cast

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Field

from commitments.permissions import EDITORS
from commitments.signals import staff_login_created


class Command(BaseCommand):
    help = "Load the agreements and create a staff login if there is none."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        User = get_user_model()
        field = User._meta.get_field(User.USERNAME_FIELD)
        try:  # the checks createsuperuser makes
            cast(Field[Any, Any], field).clean(username, None)
        except ValidationError as exc:
            raise CommandError(f"--username {username!r}: {' '.join(exc.messages)}") from None
        call_command("load_agreements", stdout=self.stdout)
        if User.objects.filter(is_staff=True).exists():
            self.stdout.write("A staff login exists already; none created.")
            return
        password = secrets.token_urlsafe(12)
        # An address on this machine: the embedded default prints mail to the console.
        email = f"{username}@localhost"
        user = User.objects.create_superuser(username=username, email=email, password=password)
        user.groups.add(Group.objects.get(name=EDITORS))
        for _, said in staff_login_created.send(sender=self.__class__, user=user):
            if said:
                self.stdout.write(str(said))
        self.stdout.write(
            self.style.SUCCESS(
                f"Created the staff login {username} / {password} (shown once; "
                f'change it with `make manage ARGS="changepassword {username}"`).'
            )
        )
