"""Named users, as in healthchecks' tests: Alice edits, Bob only looks, Charlie is
staff with no tracker permission at all."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from django.contrib.auth.models import Group, User

from commitments.loader import load_agreements
from commitments.models import Milestone
from commitments.permissions import EDITORS, VIEWERS

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_configure(config) -> None:
    """The Japanese interface's .mo, built from the committed .po when it is missing or
    older (scripts/messages compile does the same for make test and make run)."""
    import shutil
    import subprocess
    from pathlib import Path

    po = Path(__file__).resolve().parent.parent / "locale/ja/LC_MESSAGES/django.po"
    mo = po.with_suffix(".mo")
    stale = not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime
    if stale and shutil.which("msgfmt"):
        subprocess.run(["msgfmt", "--check", "-o", str(mo), str(po)], check=True)
    elif stale:  # no gettext here (a laptop): polib writes the same catalogue
        import polib

        polib.pofile(str(po)).save_as_mofile(str(mo))


def require_service(ok: bool, reason: str) -> None:
    """In CI a test whose service is unreachable fails; on a laptop it skips."""
    if ok:
        return
    if IN_CI:
        pytest.fail(f"CI needs this service: {reason}")
    pytest.skip(reason)


def _user(username: str, *groups: str) -> User:
    user = User.objects.create_user(
        username, f"{username}@example.org", "pass-" + username, is_staff=True
    )
    for name in groups:
        user.groups.add(Group.objects.get(name=name))
    return user


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing():
    """Django's advice for test runs: a fast hasher for the users tests make (PBKDF2's
    rounds cost 0.3 s a user, a minute and a half of a run). Hashes made elsewhere (a
    subprocess's createsuperuser) are still read: the default hashers stay behind it."""
    from django.conf import global_settings
    from django.test import override_settings

    fast = ["django.contrib.auth.hashers.MD5PasswordHasher", *global_settings.PASSWORD_HASHERS]
    with override_settings(PASSWORD_HASHERS=fast):
        yield


@pytest.fixture(autouse=True)
def _no_archiving_on_save():
    """Saving a source queues its page's archiving (tracker/archive). Only the archive's
    own tests want that (tests/archive turns it on): elsewhere a worker would go and
    fetch the shipped record's real addresses. Not through the ``settings`` fixture,
    which would then be set up before (and torn down after) every test's own fixtures."""
    from django.test import override_settings

    with override_settings(TRACKER_ARCHIVE_ON_SAVE=False):
        yield


@pytest.fixture
def alice(db) -> User:
    return _user("alice", EDITORS)


@pytest.fixture
def bob(db) -> User:
    return _user("bob", VIEWERS)


@pytest.fixture
def charlie(db) -> User:
    return _user("charlie")


class _Record:
    """The rows the loader writes for fixtures/agreements.json, taken after its first
    run in the session and put back by later tests in one pass: the same rows as a
    fresh load (the loader's own tests call it for real), in milliseconds instead of
    seconds. Tables that database triggers fill (the API's change counter and event
    feed) are not copied: the triggers fill them again as the rows go back in.

    What a load writes depends on its moment in two ways, and both are kept exact:
    the occurrences of recurring obligations run to the first date after today in each
    agreement's zone (so a snapshot serves only a moment with the same local dates),
    and rows carry the moment itself (updated_at, history dates): the snapshot is
    loaded on a stopped clock, and every value equal to that moment is put back as the
    test's own moment, as a load at that moment would have written it."""

    snapshots: dict[tuple, tuple[dt.datetime, list[tuple[str, list[str], list[tuple]]]]] = {}

    @staticmethod
    def key(now: dt.datetime) -> tuple:
        import json
        from pathlib import Path
        from zoneinfo import ZoneInfo

        path = Path(__file__).resolve().parents[1] / "fixtures" / "agreements.json"
        zones = {"UTC"} | {a["time_zone"] for a in json.loads(path.read_text())["agreements"]}
        return tuple(sorted((z, now.astimezone(ZoneInfo(z)).date()) for z in zones))

    @staticmethod
    def tables() -> list[str]:
        from django.db import connection

        from tracker.api import models as api_models

        by_triggers = {m._meta.db_table for m in django_apps_models(api_models)}
        return [t for t in connection.introspection.table_names() if t not in by_triggers]

    @classmethod
    def load(cls) -> None:
        import time_machine
        from django.db import connection, transaction
        from django.utils import timezone

        now = timezone.now()
        key = cls.key(now)
        if key in cls.snapshots:
            try:
                with transaction.atomic():
                    cls._put_back(*cls.snapshots[key], now)
                return
            except Exception:  # a test that made rows of its own first: load for real
                pass
        counts = cls._counts()
        with time_machine.travel(now, tick=False):
            load_agreements()
        taken, clean = [], True
        with connection.cursor() as cursor:
            for table, before in counts.items():
                cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
                rows = cursor.fetchall()
                if len(rows) != before:
                    clean = clean and before == 0
                    columns = [c[0] for c in cursor.description]
                    taken.append((table, columns, [cls._adapt(r) for r in rows]))
        if clean:  # loaded into empty tables: these rows are the whole record
            cls.snapshots[key] = (now, cls._referenced_first(taken))

    @staticmethod
    def _referenced_first(taken: list) -> list:
        """Each table after the tables its foreign keys point to: the API's tests check
        constraints at once (``SET CONSTRAINTS ALL IMMEDIATE``), not at commit."""
        from django.db import connection

        with connection.cursor() as cursor:
            points_to = {
                table: {
                    target
                    for _, target in connection.introspection.get_relations(cursor, table).values()
                }
                - {table}
                for table, _, _ in taken
            }
        ordered: list = []
        pending = list(taken)
        while pending:
            waiting = {table for table, _, _ in pending}
            ready = [t for t in pending if not points_to[t[0]] & waiting]
            ordered += ready or pending  # a cycle: as it was (then the load runs for real)
            pending = [t for t in pending if t not in ordered]
        return ordered

    @staticmethod
    def _adapt(row: tuple) -> tuple:
        """JSON values as psycopg takes them back (SQLite gives them as text)."""
        from django.db import connection

        if connection.vendor != "postgresql":
            return row
        from psycopg.types.json import Jsonb

        return tuple(Jsonb(v) if isinstance(v, dict | list) else v for v in row)

    @classmethod
    def _counts(cls) -> dict[str, int]:
        from django.db import connection

        with connection.cursor() as cursor:
            counts = {}
            for table in cls.tables():
                if table.startswith(("django_", "auth_")):
                    continue
                cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")
                counts[table] = cursor.fetchone()[0]
            return counts

    @classmethod
    def _put_back(
        cls, taken_at: dt.datetime, rows: list[tuple[str, list[str], list[tuple]]], now: dt.datetime
    ) -> None:
        from django.db import connection

        quote = connection.ops.quote_name
        # SQLite hands datetimes back naive (in UTC), PostgreSQL aware.
        naive_then, naive_now = (t.astimezone(dt.UTC).replace(tzinfo=None) for t in (taken_at, now))

        def stamped(value: object) -> object:
            if not isinstance(value, dt.datetime):
                return value
            if value.tzinfo:
                return now if value == taken_at else value
            return naive_now if value == naive_then else value

        with connection.cursor() as cursor:
            for table, columns, values in rows:
                marks = ", ".join(["%s"] * len(columns))
                names = ", ".join(quote(c) for c in columns)
                cursor.executemany(
                    f"INSERT INTO {quote(table)} ({names}) VALUES ({marks})",
                    [tuple(stamped(v) for v in row) for row in values],
                )
            # The rows came back with their ids: move the id sequences past them, as
            # loaddata does, or the test's own rows would take the same ids.
            from django.apps import apps
            from django.core.management.color import no_style

            tables = {table for table, _, _ in rows}
            models = [
                m for m in apps.get_models(include_auto_created=True) if m._meta.db_table in tables
            ]
            for statement in connection.ops.sequence_reset_sql(no_style(), models):
                cursor.execute(statement)


def django_apps_models(module) -> list:
    from django.db import models

    return [
        v
        for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, models.Model) and not v._meta.abstract
    ]


def load_record() -> None:
    """The shipped record, as ``load_agreements()`` writes it at this moment."""
    _Record.load()


@pytest.fixture
def agreements(db) -> None:
    _Record.load()


# Malaysia's quarterly working-level meetings, a recurring obligation, on the day the
# record was caught up (12:33 in Kuala Lumpur), after a sweep: four occurrences missed.
MEETINGS_AT = dt.datetime(2026, 12, 7, 4, 33, 50, tzinfo=dt.UTC)


@pytest.fixture
def meetings(db) -> Milestone:
    import time_machine

    from tracker.alerts import sweep

    with time_machine.travel(MEETINGS_AT, tick=False):
        load_record()
        sweep.run()
    return Milestone.objects.get(
        commitment__agreement__slug="us-malaysia-critical-minerals-2025",
        key="working-level-meeting",
    )


@pytest.fixture
def ministerial(agreements) -> Milestone:
    return Milestone.objects.select_related("commitment__agreement").get(key="ministerial-convened")


@pytest.fixture
def project_selection(agreements) -> Milestone:
    return Milestone.objects.select_related("commitment__agreement").get(
        key="projects-selected-and-funded"
    )


# --- A real SMTP server (aiosmtpd) on a loopback port -------------------------------


class Inbox:
    def __init__(self) -> None:
        import email
        import email.policy

        self._parse = lambda raw: email.message_from_bytes(raw, policy=email.policy.default)
        self.messages: list = []
        self.raw: list[tuple[str, list[str], bytes]] = []  # (MAIL FROM, RCPT TO, DATA)

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        data = envelope.original_content or envelope.content
        self.raw.append((envelope.mail_from, list(envelope.rcpt_tos), data))
        self.messages.append(self._parse(data))
        return "250 OK"

    def subjects(self) -> list[str]:
        return [m["Subject"] for m in self.messages]

    def to(self, address: str) -> list:
        return [m for m in self.messages if address in m["To"]]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server(settings):
    """Starts aiosmtpd on 127.0.0.1 and points Django's SMTP backend at it."""
    import logging

    from aiosmtpd.controller import Controller

    # aiosmtpd logs every dropped connection (the fault tests drop many), at times
    # after pytest has closed the stream the log handler writes to.
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    inbox.controller = controller
    inbox.port = port
    yield inbox
    controller.stop()


class SilentListener:
    """Accepts TCP connections on loopback and never sends a byte: a broker or cache
    that hangs (a blackholed peer, seen from the client's side)."""

    def __init__(self) -> None:
        import socket
        import threading

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted: list = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()
