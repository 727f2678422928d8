"""Emails in the subscriber's language: a Japanese subscriber's alert and digest carry
the record's Japanese text where it has one (the Ministerial's title in its source's
words), rendered once per language however many readers share an event."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import translation

from commitments.models import Milestone
from tracker.alerts import delivery, digests, sweep
from tracker.alerts.forms import SubscriptionForm, page_language
from tracker.models import Subscription

AFTER = dt.datetime(2026, 4, 27, 0, 0, tzinfo=dt.UTC)  # the Ministerial is overdue
MONDAY_9_TOKYO = dt.datetime(2026, 4, 27, 0, 0, tzinfo=dt.UTC)


@pytest.fixture
def readers(agreements) -> dict[str, Subscription]:
    """One reader of English, two of Japanese, of the US–Japan framework."""
    agreement = Milestone.objects.get(key="ministerial-convened").commitment.agreement
    return {
        name: Subscription.objects.create(
            email=f"{name}@example.org",
            agreement=agreement,
            language=language,
            kinds=["overdue"],
            time_zone="Asia/Tokyo",
        )
        for name, language in (("en", "en"), ("ja", "ja"), ("ja2", "ja"))
    }


def test_a_japanese_subscriber_gets_the_record_in_japanese(readers, smtp_server):
    with time_machine.travel(AFTER, tick=False):
        sweep.run()
        result = delivery.deliver()
    assert result.emails == 3
    (english,) = smtp_server.to("en@example.org")
    (japanese,) = smtp_server.to("ja@example.org")
    assert english["Subject"] == (
        "OVERDUE: Mining, Minerals and Metals Investment Ministerial (due 2026-04-26)"
    )
    assert "大臣級投資会合" in japanese["Subject"] and "Mining" not in japanese["Subject"]
    text = japanese.get_body(("plain",)).get_content()
    # The agreement's name where it has a Japanese one: its official title's words.
    assert "大臣級投資会合" in text and "日米枠組み" in text
    assert "大臣級投資会合" in japanese.get_body(("html",)).get_content()
    assert "大臣級投資会合" not in english.get_body(("plain",)).get_content()


def test_the_rendering_is_shared_within_a_language_and_never_across(readers, monkeypatch):
    from tracker.alerts import emails

    renders: list[str] = []
    original = emails._render

    def counting(alerts, now):
        renders.append(translation.get_language())
        return original(alerts, now)

    monkeypatch.setattr(emails, "_render", counting)
    with time_machine.travel(AFTER, tick=False):
        sweep.run()
        assert delivery.deliver().emails == 3
    # Two readers of Japanese, one rendering for them; one for the English reader.
    assert sorted(renders) == ["en", "ja"]


def test_a_japanese_alert_names_the_deadline_moment_in_japan_time(readers, smtp_server):
    with time_machine.travel(AFTER, tick=False):
        sweep.run()
        delivery.deliver()
    (japanese,) = smtp_server.to("ja@example.org")
    text = japanese.get_body(("plain",)).get_content()
    assert "日本時間" in text and "2026年4月27日" in text
    # The fixed words too ("OVERDUE", "1 day overdue"), once the ja catalog has them.
    assert "OVERDUE" not in japanese["Subject"] and "overdue" not in text


def test_the_weekly_digest_is_in_the_subscribers_language(readers, smtp_server):
    for sub in readers.values():
        sub.kinds = ["digest"]
        sub.time_zone = "Asia/Tokyo"
        sub.save()
    with time_machine.travel(MONDAY_9_TOKYO, tick=False):
        assert digests.send_due_digests() == 3
    (japanese,) = smtp_server.to("ja@example.org")
    (english,) = smtp_server.to("en@example.org")
    assert "大臣級投資会合" in japanese.get_body(("plain",)).get_content()
    assert "大臣級投資会合" not in english.get_body(("plain",)).get_content()


def test_a_new_subscription_defaults_to_the_language_being_read(db):
    with translation.override("ja"):
        assert page_language() == "ja"
        assert SubscriptionForm().initial["language"] == "ja"
    with translation.override("en-us"):
        assert SubscriptionForm().initial["language"] == "en"
    form = SubscriptionForm(
        data={"email": "x@example.org", "kinds": ["overdue"], "lead_days": "7", "language": "fr"}
    )
    assert not form.is_valid() and "language" in form.errors


def test_following_from_a_japanese_page_keeps_japanese_unless_another_is_chosen(
    client, ministerial, settings
):
    from django.core.cache import cache

    cache.clear()
    target = f"milestone:{ministerial.pk}"
    # The Japanese pages' form posts to the Japanese address.
    client.post("/ja/follow/", {"email": "tokyo@example.org", "target": target})
    client.post("/ja/follow/", {"email": "london@example.org", "target": target, "language": "en"})
    client.post("/follow/", {"email": "default@example.org", "target": target})
    languages = dict(Subscription.objects.values_list("email", "language"))
    assert languages == {
        "tokyo@example.org": "ja",
        "london@example.org": "en",
        "default@example.org": "en",
    }
    response = client.post(
        "/follow/", {"email": "x@example.org", "target": target, "language": "fr"}
    )
    assert response.status_code == 400 and "language" in response.content.decode()
    cache.clear()
