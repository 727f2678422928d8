from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.db.models import Q
from hypothesis import given, settings
from hypothesis import strategies as st

from commitments.models import Milestone, Status
from commitments.services import milestone_set_status
from tests.conftest import free_port
from tracker.alerts import delivery, dispatch, sweep
from tracker.models import Alert, Subscription

AFTER = dt.datetime(2026, 4, 27, 0, 0, tzinfo=dt.UTC)  # the ministerial is overdue


@pytest.fixture
def followers(agreements) -> list[Subscription]:
    agreement = Milestone.objects.get(key="ministerial-convened").commitment.agreement
    return [
        Subscription.objects.create(email=e, agreement=agreement)
        for e in ("newsroom@example.org", "analyst@example.org")
    ]


def test_one_email_per_recipient_naming_the_most_urgent(followers, smtp_server):
    with time_machine.travel(AFTER, tick=False):
        sweep.run()
        result = delivery.deliver()
    assert (result.emails, result.sent, result.failed) == (2, 4, 0)
    (mail,) = smtp_server.to("newsroom@example.org")
    assert mail["Subject"] == (
        "OVERDUE: Mining, Minerals and Metals Investment Ministerial (due 2026-04-26) and 1 more"
    )
    text = mail.get_body(("plain",)).get_content()
    assert "US–Japan critical minerals framework" in text
    assert "1 day overdue" in text and "[DUE IN 1 DAY] Projects of interest" in text
    assert "Due: 2026-04-26 (1 day overdue)" in text
    assert "/milestones/" in text and "/admin/commitments/milestone/" in text
    assert mail.get_body(("html",)) is not None
    assert (
        str(mail["List-Unsubscribe"]).strip().startswith("<http")
        and "One-Click" in mail["List-Unsubscribe-Post"]
    )
    assert not Alert.objects.filter(sent_at__isnull=True).exists()
    # Nothing pending: a second run sends nothing.
    with time_machine.travel(AFTER + dt.timedelta(minutes=1), tick=False):
        assert delivery.deliver().emails == 0
    assert len(smtp_server.messages) == 2


def test_smtp_down_keeps_alerts_pending_then_delivers_all(followers, settings, smtp_server):
    with time_machine.travel(AFTER, tick=False):
        sweep.run()
    settings.EMAIL_PORT = free_port()  # nothing listens there
    with time_machine.travel(AFTER, tick=False):
        down = delivery.deliver()
    pending = Alert.objects.filter(sent_at__isnull=True)
    assert down.sent == 0 and down.failed == 4 and pending.count() == 4
    assert all(a.attempts == 1 and "ConnectionRefused" in a.last_error for a in pending)
    # Backoff: not retried at once…
    with time_machine.travel(AFTER + dt.timedelta(seconds=30), tick=False):
        assert delivery.deliver().failed == 0
    settings.EMAIL_PORT = smtp_server.port
    with time_machine.travel(AFTER + dt.timedelta(minutes=2), tick=False):
        up = delivery.deliver()
    print(
        f"SMTP down then up: failed attempts {down.failed}, then delivered {up.sent} "
        f"alerts in {up.emails} emails, lost {4 - up.sent}"
    )
    assert (up.sent, up.emails) == (4, 2)
    assert not Alert.objects.filter(sent_at__isnull=True).exists()


def test_delivery_gives_up_after_the_attempt_limit(followers, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    settings.TRACKER_ALERT_MAX_ATTEMPTS = 3
    moment = AFTER
    with time_machine.travel(moment, tick=False):
        sweep.run()
    for _ in range(5):
        with time_machine.travel(moment, tick=False):
            delivery.deliver()
        moment += dt.timedelta(hours=2)
    assert set(Alert.objects.values_list("failed", "attempts")) == {(True, 3)}
    assert delivery.retry(list(Alert.objects.values_list("id", flat=True))) == 4
    assert not Alert.objects.filter(failed=True).exists()


def test_an_alert_that_went_stale_is_skipped(followers, alice, smtp_server):
    with time_machine.travel(AFTER, tick=False):
        sweep.run()
        m = Milestone.objects.get(key="ministerial-convened")
        milestone_set_status(
            milestone=m,
            status=Status.COMPLETED,
            by=alice,
            evidence_url="https://example.org/e",
            completed_on=dt.date(2026, 4, 25),
        )
        result = delivery.deliver()
    kinds = {a.kind: a.state for a in Alert.objects.filter(milestone=m)}
    assert kinds == {"overdue": "skipped", "completed": "sent"}
    assert result.skipped == 2
    assert all("OVERDUE" not in s for s in smtp_server.subjects())


def test_completion_alert_reaches_followers(followers, alice, smtp_server):
    with time_machine.travel(dt.datetime(2026, 4, 20, tzinfo=dt.UTC), tick=False):
        m = Milestone.objects.get(key="ministerial-convened")
        milestone_set_status(
            milestone=m,
            status=Status.COMPLETED,
            by=alice,
            evidence_url="https://example.org/e",
            completed_on=dt.date(2026, 4, 19),
        )
        delivery.deliver()
    assert (
        sorted(smtp_server.subjects())
        == ["COMPLETED: Mining, Minerals and Metals Investment Ministerial (due 2026-04-26)"] * 2
    )


def _alerts_by_recipient() -> dict[str, list[Alert]]:
    by_recipient: dict[str, list[Alert]] = {}
    for a in Alert.objects.select_related("event", "milestone__commitment__agreement"):
        by_recipient.setdefault(a.recipient, []).append(a)
    return by_recipient


def _but_for_date_id_boundary(raw: bytes) -> bytes:
    """The message with its Date, Message-ID and MIME boundary (which differ from one
    build to the next) replaced by placeholders."""
    boundary = re.search(rb'boundary="([^"]+)"', raw)
    assert boundary is not None
    raw = raw.replace(boundary.group(1), b"BOUNDARY")
    raw = re.sub(rb"\r\nDate: [^\r]*", b"\r\nDate: DATE", raw)
    return re.sub(rb"\r\nMessage-ID: (\r\n )?<[^>]*>", b"\r\nMessage-ID: ID", raw)


@pytest.mark.parametrize(
    ("title", "note", "site", "kept"),
    [
        ("Mining, Minerals and Metals Investment Ministerial", "", "", True),
        ("Ministère: réunion « ministérielle » " + "très longue " * 12, "Noté.", "", True),
        # A line over 998 bytes: the part is quoted-printable, built the slow way.
        ("Ministerial", "A note " + "x" * 1000, "", False),
        # The link's line grows past 998 bytes with this link only: the slow way.
        ("Ministerial", "", "/" + "p" * 819, True),
        # The link is escaped in the HTML part (&amp;): the slow way.
        ("Ministerial", "", "/?a=1&b=2", True),
    ],
)
def test_a_message_from_the_kept_skeleton_is_the_one_django_builds(
    followers, settings, title, note, site, kept
):
    from django.utils import timezone

    from tracker.alerts import emails

    settings.SITE_URL += site
    Milestone.objects.filter(key="ministerial-convened").update(title=title, last_note=note)
    with time_machine.travel(AFTER, tick=False):
        sweep.run()
        dispatch.run()
        now = timezone.now()
        rendered: emails.Rendered = {}
        for recipient, items in _alerts_by_recipient().items():
            message = emails.alerts_message(recipient, items, now=now, rendered=rendered)
            fast, slow = message.as_bytes(), message.built_bytes()
            assert _but_for_date_id_boundary(fast) == _but_for_date_id_boundary(slow)
            # A backend given the message object (console, locmem) gets the same.
            parsed = message.message().as_bytes(linesep="\r\n")  # built again: a new ID
            assert _but_for_date_id_boundary(parsed) == _but_for_date_id_boundary(fast)
            fresh = emails.alerts_message(recipient, items, now=now)
            assert (message.subject, message.body, message.alternatives) == (
                fresh.subject,
                fresh.body,
                fresh.alternatives,
            )
            assert b"stand-in" not in fast and message.links["page"] in message.body
            skeleton = message.rendering.skeleton
            assert skeleton.usable == kept
            assert (skeleton.fill(message) is not None) == (kept and not site)
    assert len(rendered) == 1  # both readers' messages are about the same events


def _stand_in_skeleton():
    from tracker.alerts import emails

    link = emails.LINK_STAND_IN
    return emails.Skeleton(emails.Rendering("Subject", f"Text {link}", f"<p>{link}</p>"))


def _folded_by_the_email_package(skeleton, name: str, value: str) -> bytes:
    from django.core.mail.message import forbid_multi_line_headers

    return skeleton.policy.fold_binary(*forbid_multi_line_headers(name, value, "utf-8"))


def _by_length(name: str, line: int) -> str:
    """An ASCII value with no space that makes the header line ``line`` long."""
    return "<" + "x" * (line - len(name) - 4) + ">"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("To", "reader00001@example.org"),
        ("To", "Mixed.Case+tag@Example.ORG"),
        ("To", "josé@example.org"),
        ("To", "reader@bücher.example"),
        ("To", "Name <named@example.org>"),
        ("To", "Ünïcödé Nämé the reader <named@example.org>"),
        ("To", "a" * 90 + "@example.org"),
        ("Date", "Mon, 27 Apr 2026 00:00:00 -0000"),
        ("Message-ID", "<177999.1.2@host.example>"),
        ("Message-ID", "<" + "i" * 80 + "@" + "h" * 30 + ">"),
        ("List-Unsubscribe", "<https://tracker.example/unsubscribe/one-click/.eJyrVkpUsjI0/>"),
        ("List-Unsubscribe", "<https://tracker.example/ünsubscribe/" + "t" * 60 + "/>"),
        ("List-Unsubscribe", "<https://tracker.example/a b;c,d/" + "t " * 60 + ">"),
        *(("List-Unsubscribe", _by_length("List-Unsubscribe", n)) for n in (77, 78, 79, 998)),
        *(("Date", _by_length("Date", n)) for n in (77, 78, 79)),
        ("Date", "Mon, 27 Apr 2026 00:00:00 -0000 " + "and more words " * 4),
        ("Date", " leading and trailing  "),
        ("Date", " "),
        ("Date", ""),
        ("Date", "a\tb"),
        ("Date", "a\x0bb"),
        ("Date", "=?utf-8?q?encoded?="),
    ],
)
def test_headers_fold_as_the_email_package_folds_them(name, value):
    skeleton = _stand_in_skeleton()
    assert skeleton.fold(name, value) == _folded_by_the_email_package(skeleton, name, value)


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(["To", "Date", "Message-ID", "List-Unsubscribe"]),
    value=st.text(alphabet=st.sampled_from(list("ab<>@.:/-=?_ \t\x0b\x1céü,;")), max_size=130),
)
def test_any_header_folds_as_the_email_package_folds_it(name, value):
    skeleton = _stand_in_skeleton()
    try:
        expected = _folded_by_the_email_package(skeleton, name, value)
    except Exception as exc:  # whatever it is, the skeleton raises it too
        with pytest.raises(type(exc)):
            skeleton.fold(name, value)
    else:
        assert skeleton.fold(name, value) == expected


def test_the_smtp_server_receives_the_message_django_builds(followers, smtp_server):
    from django.conf import settings
    from django.core.mail.message import sanitize_address
    from django.utils import timezone

    from tracker.alerts import emails

    with time_machine.travel(AFTER, tick=False):  # tokens signed at the same second
        sweep.run()
        delivery.deliver()
        now = timezone.now()
        by_recipient = _alerts_by_recipient()
        assert len(smtp_server.raw) == 2
        for mail_from, rcpt_tos, raw in smtp_server.raw:
            (recipient,) = rcpt_tos
            assert mail_from == sanitize_address(settings.DEFAULT_FROM_EMAIL, "utf-8")
            built = emails.alerts_message(recipient, by_recipient[recipient], now=now)
            expected = built.built_bytes()
            assert _but_for_date_id_boundary(raw) == _but_for_date_id_boundary(expected)


@pytest.mark.parametrize(
    "address",
    [
        "reader00001@example.org",
        "Mixed.Case+tag@Example.ORG",
        "o'brien@example.co.uk",
        "a..b@example.org",
        "josé@example.org",
        "reader@bücher.example",
        '"quoted local"@example.org',
        "Name <named@example.org>",
    ],
)
def test_the_envelope_address_is_the_one_django_gives(address):
    from django.core.mail.message import sanitize_address

    assert delivery.envelope_address(address, "utf-8") == sanitize_address(address, "utf-8")


def test_kept_unsubscribe_links_are_the_ones_made_one_by_one(followers):
    from django.conf import settings
    from django.core import signing
    from django.urls import reverse

    from tracker.alerts import unsubscribe

    with time_machine.travel(AFTER, tick=False):
        sweep.run()
        dispatch.run()
        alert = Alert.objects.first()
        links = unsubscribe.Links().urls(alert=alert)
        for key, name, salt in [
            ("page", "tracker:unsubscribe", unsubscribe.LINK_SALT),
            ("one_click", "tracker:unsubscribe_one_click", unsubscribe.ONECLICK_SALT),
        ]:
            token = signing.dumps({"a": alert.pk}, salt=salt, compress=True)
            assert links[key] == settings.SITE_URL + reverse(name, args=[token])


@pytest.mark.parametrize(
    "emails",
    [
        [],
        [None],
        ["newsroom@example.org"],
        ["NEWSROOM@example.org", "newsroom@example.org", None, "nobody@example.org"],
        [f"reader{i}@example.org" for i in range(0, 300, 7)],
    ],
)
def test_any_of_finds_the_rows_in_finds(agreements, emails):
    """``AnyOf`` (one array parameter on PostgreSQL) against the ORM's ``__in``."""
    from django.db.models import F
    from django.db.models.functions import Lower

    from tracker.alerts.sql import AnyOf

    ministerial = Milestone.objects.get(key="ministerial-convened")
    Subscription.objects.bulk_create(
        Subscription(email=e, milestone=ministerial)
        for e in ["Newsroom@Example.org", *(f"reader{i}@example.org" for i in range(100))]
    )
    lowered = [e.lower() if e else e for e in emails]
    subs = Subscription.objects.all()
    by_in = subs.alias(low=Lower("email")).filter(low__in=lowered)
    assert set(subs.filter(AnyOf(Lower("email"), lowered))) == set(by_in)
    ids = [s.pk for s in by_in] + [0, -1]
    assert set(subs.filter(AnyOf(F("id"), ids))) == set(subs.filter(id__in=ids))
    either = Q(AnyOf(F("id"), ids)) | Q(AnyOf(Lower("email"), ["reader3@example.org"]))
    assert set(subs.filter(either)) == set(
        subs.filter(Q(id__in=ids) | Q(email="reader3@example.org"))
    )


def test_delivery_queries_do_not_grow_with_the_batch(agreements, settings):
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    ministerial = Milestone.objects.get(key="ministerial-convened")
    counts = []
    for readers in (3, 30):
        with transaction.atomic():  # each round from the same start, undone after
            Subscription.objects.bulk_create(
                Subscription(email=f"reader{i}@example.org", milestone=ministerial)
                for i in range(readers)
            )
            with time_machine.travel(AFTER, tick=False):
                sweep.run()
                dispatch.run()
                with CaptureQueriesContext(connection) as queries:
                    result = delivery.deliver()
            assert result.emails >= readers
            counts.append(len(queries))
            transaction.set_rollback(True)
    assert counts[0] == counts[1], counts


class _Envelopes:
    """An aiosmtpd handler keeping each message's whole envelope (with the MAIL and
    RCPT options); refuses the data of messages to ``refuse``."""

    def __init__(self, refuse: str = "") -> None:
        self.refuse = refuse
        self.seen: list[tuple] = []

    async def handle_DATA(self, server, session, envelope):
        rcpt = tuple(envelope.rcpt_tos)
        options = (tuple(envelope.mail_options), tuple(envelope.rcpt_options))
        self.seen.append((envelope.mail_from, options, rcpt, envelope.original_content))
        return "554 5.6.0 refused here" if self.refuse in rcpt else "250 OK"


@pytest.fixture
def envelopes(settings):
    from aiosmtpd.controller import Controller

    handler = _Envelopes()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    yield handler
    controller.stop()


def test_the_outbox_sends_what_smtplib_sendmail_sends(followers, envelopes):
    """The outbox's own MAIL, RCPT and DATA (the server's last answer read later)
    against smtplib's ``sendmail`` given the same bytes: the same envelope and data."""
    import smtplib

    from django.conf import settings
    from django.core.mail.message import sanitize_address
    from django.utils import timezone

    from tracker.alerts import emails

    with time_machine.travel(AFTER, tick=False):
        sweep.run()
        dispatch.run()
        now = timezone.now()
        outbox = delivery.Outbox()
        for recipient, items in _alerts_by_recipient().items():
            outbox.send(emails.alerts_message(recipient, items, now=now), [a.id for a in items])
        outbox.close()
        ours, envelopes.seen = envelopes.seen, []
        sender = sanitize_address(settings.DEFAULT_FROM_EMAIL, "utf-8")
        with smtplib.SMTP(settings.EMAIL_HOST, settings.EMAIL_PORT) as smtp:
            for _mail_from, _options, (to,), raw in ours:
                smtp.sendmail(sender, [to], raw)
    assert len(ours) == 2 and len(outbox.accepted) == 2 and outbox.refused == []
    assert envelopes.seen == ours


def test_a_message_the_server_refuses_fails_alone(agreements, envelopes):
    """The server's refusal of one message's data (read while the next message is
    handed over) fails that message's alerts only, with the server's answer."""
    ministerial = Milestone.objects.get(key="ministerial-convened")
    readers = [f"reader{i}@example.org" for i in range(5)]
    for reader in readers:
        Subscription.objects.create(email=reader, milestone=ministerial)
    envelopes.refuse = "reader2@example.org"
    with time_machine.travel(AFTER, tick=False):
        sweep.run()
        result = delivery.deliver()
    refused = Alert.objects.get(recipient="reader2@example.org", milestone=ministerial)
    assert refused.sent_at is None and refused.attempts == 1
    assert "554" in refused.last_error and "refused here" in refused.last_error
    others = Alert.objects.filter(recipient__in=readers).exclude(pk=refused.pk)
    assert others.count() == 4 and not others.filter(sent_at__isnull=True).exists()
    assert sorted(to for _from, _options, (to,), _raw in envelopes.seen) == readers
    assert result.failed == 1


@pytest.mark.parametrize(
    "address",
    [
        "tracker@localhost",
        "reader00001@example.org",
        "Mixed.Case+tag@Example.ORG",
        "o'brien@example.co.uk",
        "a..b@example.org",
        '"quoted local"@example.org',
        "=?utf-8?q?jos=C3=A9?=@example.org",
        "reader@xn--bcher-kva.example",
        "<>",
    ],
)
def test_the_envelope_is_quoted_as_smtplib_quotes_it(address):
    import smtplib

    assert delivery.quoted(address) == smtplib.quoteaddr(address)
