"""Follow by email with no account: double opt-in, a signed expiring link,
throttled per address and per client."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from django.core import mail
from django.core.cache import cache

from commitments.models import Milestone
from tracker.models import OptOut, Subscription

pytestmark = pytest.mark.usefixtures("frozen")


@pytest.fixture(autouse=True)
def clean_cache():
    cache.clear()
    yield
    cache.clear()


def follow(client, target: str, email: str = "reader@example.org", **extra):
    return client.post("/follow/", {"email": email, "target": target}, **extra)


def link_in(message) -> str:
    return re.search(r"http://\S+/follow/confirm/\S+/", message.body).group(0)


def test_following_creates_a_pending_subscription_and_mails_a_link(client, ministerial):
    response = follow(client, f"milestone:{ministerial.pk}")
    assert response.status_code == 200 and "Check your inbox" in response.content.decode()
    sub = Subscription.objects.get(email="reader@example.org")
    assert sub.milestone == ministerial and sub.pending_since is not None and not sub.active
    (message,) = mail.outbox
    assert message.to == ["reader@example.org"] and "Confirm" in message.subject
    path = link_in(message).removeprefix("http://127.0.0.1:8000")
    assert "Confirm that you want to follow" in client.get(path).content.decode()
    sub.refresh_from_db()
    assert sub.pending_since is not None and not sub.active  # a GET (a scanner) does nothing
    assert client.post(path).status_code == 200
    sub.refresh_from_db()
    assert sub.pending_since is None and sub.active


def test_confirming_lifts_an_earlier_unsubscribe(client, ministerial):
    OptOut.objects.create(email="reader@example.org")
    follow(client, f"agreement:{ministerial.commitment.agreement_id}")
    client.post(link_in(mail.outbox[0]).removeprefix("http://127.0.0.1:8000"))
    assert not OptOut.objects.filter(email="reader@example.org").exists()


def test_an_expired_or_forged_link_confirms_nothing(client, ministerial, frozen, settings):
    follow(client, f"commitment:{ministerial.commitment_id}")
    path = link_in(mail.outbox[0]).removeprefix("http://127.0.0.1:8000")
    frozen.shift(dt.timedelta(seconds=settings.TRACKER_FOLLOW_CONFIRM_MAX_AGE + 1))
    assert client.post(path).status_code == 400
    assert client.post("/follow/confirm/not-a-token/").status_code == 400
    assert Subscription.objects.get().pending_since is not None


def test_an_address_already_following_gets_no_second_email(client, ministerial):
    Subscription.objects.create(email="reader@example.org", milestone=ministerial)
    response = follow(client, f"milestone:{ministerial.pk}")
    assert response.status_code == 200 and mail.outbox == []
    assert Subscription.objects.count() == 1


@pytest.mark.parametrize(
    ("email", "target", "words"),
    [
        ("not-an-address", "milestone:{pk}", "Enter a valid email address"),
        # No mail can go there (a label over 63 letters once IDNA-encoded), and one too
        # long to keep once in lower case (each "İ" becomes two letters).
        ("reader@" + "ü" * 62 + ".de", "milestone:{pk}", "Enter a valid email address"),
        ("r@" + ".".join(["İ" * 20] * 11) + ".jp", "milestone:{pk}", "Enter a valid email address"),
        ("reader@example.org", "milestone:999999", "'milestone:999999' is not something"),
        ("reader@example.org", "user:1", "'user:1' is not something"),
        ("reader@example.org", "milestone:²", "'milestone:²' is not something"),
        ("reader@example.org", "milestone:" + "9" * 4301, "is not something one can follow"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(client, ministerial, email, target, words):
    response = follow(client, target.format(pk=ministerial.pk), email=email)
    assert response.status_code == 400 and words in html.unescape(response.content.decode())
    assert Subscription.objects.count() == 0 and mail.outbox == []


def test_follow_is_throttled_per_address(client, ministerial, settings):
    settings.TRACKER_FOLLOW_PER_ADDRESS = 2
    codes = [
        follow(client, f"milestone:{ministerial.pk}", email="Same@Example.org").status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]
    assert len(mail.outbox) == 2
    other = follow(client, f"milestone:{ministerial.pk}", email="other@example.org")
    assert other.status_code == 200


def test_follow_is_throttled_per_client(client, ministerial, settings):
    settings.TRACKER_FOLLOW_PER_CLIENT = 2
    codes = [
        follow(client, f"milestone:{ministerial.pk}", email=f"r{i}@example.org").status_code
        for i in range(3)
    ]
    assert codes == [200, 200, 429]
    elsewhere = follow(
        client, f"milestone:{ministerial.pk}", email="r9@example.org", REMOTE_ADDR="10.0.0.9"
    )
    assert elsewhere.status_code == 200


def test_behind_a_proxy_clients_are_told_apart_by_the_forwarded_address(
    client, ministerial, settings
):
    settings.TRACKER_FOLLOW_PER_CLIENT = 1
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    codes = [
        follow(
            client,
            f"milestone:{ministerial.pk}",
            email=f"r{i}@example.org",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{i % 2}",
        ).status_code
        for i in range(3)
    ]
    assert codes == [200, 200, 429]


def test_the_confirmation_link_carries_no_address(client, ministerial):
    """The link shows in access logs: it carries a signed reference, not the address
    (not even base64-encoded inside the signed value)."""
    import base64

    follow(client, f"milestone:{ministerial.pk}", email="private.reader@example.org")
    token = link_in(mail.outbox[0]).rstrip("/").rsplit("/", 1)[1]
    payload = token.split(":")[0]
    decoded = base64.urlsafe_b64decode(payload.lstrip(".") + "=" * (-len(payload) % 4))
    assert b"private.reader" not in decoded and "private.reader" not in token
    path = link_in(mail.outbox[0]).removeprefix("http://127.0.0.1:8000")
    assert client.post(path).status_code == 200
    assert Subscription.objects.get(email="private.reader@example.org").active
    assert client.post(path).status_code == 200  # a second click: still fine


SPELLINGS = [
    "victim@example.test",
    "Victim@Example.TEST",
    '"victim"@example.test',
    '"\\v\\ictim"@example.test',
    '"vi\\ctim"@example.test',
    "victim+1@example.test",
    "VICTIM+news@example.test",
    "victim+a.b@example.test",
] * 3


def _flood(client, ministerial, addresses) -> int:
    """One POST per address, each from another client (the per-client limit is not
    what is tested): how many confirmation emails went out."""
    for i, address in enumerate(addresses):
        follow(client, f"milestone:{ministerial.pk}", email=address, REMOTE_ADDR=f"10.9.0.{i}")
    return len(mail.outbox)


def test_the_per_address_limit_counts_a_mailbox_however_it_is_spelled(
    client, ministerial, settings
):
    """Quoted, escaped, upper-case and plus-addressed spellings of one mailbox share its
    limit: 24 POSTs put at most TRACKER_FOLLOW_PER_ADDRESS emails in it."""
    assert _flood(client, ministerial, SPELLINGS) == settings.TRACKER_FOLLOW_PER_ADDRESS
    assert {m.to[0] for m in mail.outbox} <= set(SPELLINGS)


def test_one_mailbox_is_one_address_however_its_domain_is_spelled(client, ministerial, settings):
    """Full-width letters and the punycode of an international domain reach the same
    mailbox (IDNA): they share its limit and its one subscription."""
    spellings = [
        "reader@bücher.example",
        "reader@xn--bcher-kva.example",
        "reader@ＢÜＣＨＥＲ.example",
        "reader@bücher.ｅｘａｍｐｌｅ",
    ] * 3
    assert _flood(client, ministerial, spellings) == settings.TRACKER_FOLLOW_PER_ADDRESS
    assert {m.to[0] for m in mail.outbox} == {"reader@bücher.example"}
    assert list(Subscription.objects.values_list("email", flat=True)) == ["reader@bücher.example"]


def test_the_limits_count_one_mailbox_whatever_spells_its_domain():
    """The rate counter's own rule, for every caller (not only the follow form, which
    also keeps the address so spelled)."""
    from tracker.ops import throttle

    spellings = ["Reader+x@xn--bcher-kva.example", "reader@ＢÜＣＨＥＲ.example."]
    assert {throttle.mailbox(s) for s in spellings} == {"reader@bücher.example"}
    assert throttle.mailbox("reader@" + "ü" * 62 + ".de") == "reader@" + "ü" * 62 + ".de"


def test_the_per_address_limit_holds_while_the_cache_is_down(client, ministerial, settings):
    """With the cache unreachable the limit is counted from the requests to follow kept
    in the database, so a Redis outage does not open the mailbox to a flood."""
    from tracker.ops import ratelimit

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    ratelimit.reset()
    try:
        sent = _flood(client, ministerial, SPELLINGS[:10])
    finally:
        ratelimit.reset()
    assert sent == settings.TRACKER_FOLLOW_PER_ADDRESS


def test_a_title_with_a_line_break_is_followed_with_a_one_line_subject(client, ministerial):
    Milestone.objects.filter(pk=ministerial.pk).update(title="Ministerial\r\nconvened")
    response = follow(client, f"milestone:{ministerial.pk}")
    assert response.status_code == 200
    assert mail.outbox[0].subject == "Confirm: follow “Ministerial convened”"
