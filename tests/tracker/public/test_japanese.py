"""The public site in Japanese: the same pages under /ja/, the language taken from the
address alone, Accept-Language and the language cookie only suggesting; dates, zones
and amounts in Japanese form; feeds and calendars per language."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import translation

from commitments import deadlines
from tracker.templatetags.tracker_public import amount

pytestmark = pytest.mark.usefixtures("frozen")

TOKYO_DEADLINE = dt.datetime(2026, 4, 26, 15, 0, tzinfo=dt.UTC)  # 2026-04-27 00:00 JST


def text(response) -> str:
    return response.content.decode()


def vary(response) -> set[str]:
    return {h.strip().lower() for h in response.get("Vary", "").split(",") if h.strip()}


def test_japanese_pages_live_under_ja_and_say_their_language(client, ministerial):
    a = ministerial.commitment.agreement
    for path in ("/", f"/agreements/{a.slug}/", f"/milestones/{ministerial.pk}/", "/sources/"):
        en, ja = client.get(path), client.get(f"/ja{path}")
        assert en.status_code == ja.status_code == 200, path
        assert text(en).startswith('<!DOCTYPE html>\n<html lang="en">'), path
        assert text(ja).startswith('<!DOCTYPE html>\n<html lang="ja">'), path
        assert ja["Content-Language"] == "ja" and en["Content-Language"] == "en"
    page = text(client.get(f"/ja/milestones/{ministerial.pk}/"))
    assert "<dt>期限</dt><dd>2026年4月26日" in page
    assert "2025年10月28日の署名（" in page and "から180日後" in page
    assert "2026年4月27日 0:00 日本時間から（209日）" in page
    agreement = text(client.get(f"/ja/agreements/{a.slug}/"))
    assert "（期限は日本時間で判定）" in agreement
    # Links stay in Japanese, and keep the day the reader is on.
    day = text(client.get(f"/ja/milestones/{ministerial.pk}/?as_of=2026-04-26"))
    assert f'href="/ja/agreements/{a.slug}/?as_of=2026-04-26"' in day
    assert "2026年4月26日時点。" in day


def test_every_page_names_its_versions_for_search_engines(client, ministerial):
    path = f"/milestones/{ministerial.pk}/?as_of=2026-04-26"
    for page in (text(client.get(path)), text(client.get(f"/ja{path}"))):
        assert f'<link rel="alternate" hreflang="en" href="http://testserver{path}">' in page
        ja = f'<link rel="alternate" hreflang="ja" href="http://testserver/ja{path}">'
        assert ja in page
        assert f'<link rel="alternate" hreflang="x-default" href="http://testserver{path}">' in page


def test_the_switch_keeps_the_page_and_its_day_and_remembers_the_choice(client, ministerial):
    path = f"/milestones/{ministerial.pk}/?as_of=2026-04-26"
    page = text(client.get(path))
    switch = re.search(r'<form class="lang-switch".*?</form>', page, re.S)
    assert switch, "no language switch"
    assert 'action="/language/"' in switch[0]
    assert f'name="next" value="/ja/milestones/{ministerial.pk}/?as_of=2026-04-26"' in switch[0]
    assert 'name="language" value="ja" lang="ja">日本語</button>' in switch[0]
    response = client.post("/language/", {"language": "ja", "next": f"/ja{path}"})
    assert response.status_code == 302 and response["Location"] == f"/ja{path}"
    assert response.cookies["django_language"].value == "ja"
    back = text(client.get(f"/ja{path}"))
    assert f'name="next" value="{path}"' in back.replace("&amp;", "&")
    response = client.post("/language/", {"language": "en", "next": path})
    assert response["Location"] == path and response.cookies["django_language"].value == "en"


def test_accept_language_only_suggests_and_english_pages_vary_on_it(client, ministerial):
    path = f"/milestones/{ministerial.pk}/"
    plain = client.get(path, HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9")
    asked = client.get(path, HTTP_ACCEPT_LANGUAGE="ja,en-US;q=0.8")
    assert plain.status_code == asked.status_code == 200  # no redirect
    assert 'lang="en"' in text(asked)[:60]  # still the English page
    assert "lang-suggest" not in text(plain)
    assert f'<a href="/ja{path}" hreflang="ja">このページは日本語でも' in text(asked)
    assert {"accept-language", "cookie"} <= vary(asked)
    # A reader who chose English is not asked again; one who chose Japanese is reminded.
    client.cookies["django_language"] = "en"
    assert "lang-suggest" not in text(client.get(path, HTTP_ACCEPT_LANGUAGE="ja"))
    client.cookies["django_language"] = "ja"
    assert "lang-suggest" in text(client.get(path, HTTP_ACCEPT_LANGUAGE="en"))
    # The Japanese page is the same whoever asks: it does not vary on either.
    ja = client.get(f"/ja{path}", HTTP_ACCEPT_LANGUAGE="en")
    assert "accept-language" not in vary(ja) and "lang-suggest" not in text(ja)


def test_the_api_and_the_admin_do_not_negotiate(client, agreements):
    en = client.get("/api/v1/agreements/")
    ja = client.get("/api/v1/agreements/", HTTP_ACCEPT_LANGUAGE="ja")
    assert en.status_code == ja.status_code == 200
    assert en.content == ja.content
    assert "accept-language" not in vary(ja) and "Content-Language" not in ja
    assert client.get("/ja/api/v1/agreements/").status_code == 404
    login = client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE="ja")
    assert "Log in" in text(login) and "accept-language" not in vary(login)


def test_feeds_and_calendars_come_in_each_language(client, ministerial):
    a = ministerial.commitment.agreement
    feed = text(client.get("/ja/feed.atom"))
    assert 'xml:lang="ja"' in feed and "合意履行トラッカー：すべての更新情報" in feed
    assert f"/ja/agreements/{a.slug}/" in feed
    assert 'xml:lang="en"' in text(client.get("/feed.atom"))
    ics = client.get(f"/ja/agreements/{a.slug}/calendar.ics").content.decode()
    unfolded = ics.replace("\r\n ", "")
    assert "SUMMARY:期限：" in unfolded and "規則：" in unfolded
    assert "判定の時間帯：日本時間" in unfolded
    assert f"/ja/milestones/{ministerial.pk}/" in unfolded
    assert "SUMMARY:Due: " in client.get(f"/agreements/{a.slug}/calendar.ics").content.decode()


def test_the_timeline_speaks_the_pages_language(client, ministerial):
    a = ministerial.commitment.agreement
    svg = text(client.get(f"/ja/agreements/{a.slug}/timeline.svg"))
    assert "の年表" in svg and "署名 2025年10月28日" in svg
    assert "Noto Sans CJK JP" in svg
    assert "Timeline of" in text(client.get(f"/agreements/{a.slug}/timeline.svg"))


def test_a_japanese_404_and_a_japanese_bad_day(client, db):
    missing = client.get("/ja/milestones/999999/")
    assert missing.status_code == 404 and "ページが見つかりません" in text(missing)
    bad = client.get("/ja/?as_of=2026-13-01")
    assert bad.status_code == 400 and "は暦にない日付です" in text(bad)


def test_the_deadline_moment_is_worded_in_the_readers_language():
    assert deadlines.moment_words(TOKYO_DEADLINE, "Asia/Tokyo") == (
        "27 April 2026, 00:00 Tokyo time (JST)"
    )
    assert deadlines.zone_label(TOKYO_DEADLINE, "Asia/Tokyo") == "2026-04-27 00:00 JST (Asia/Tokyo)"
    with translation.override("ja"):
        assert deadlines.moment_words(TOKYO_DEADLINE, "Asia/Tokyo") == "2026年4月27日 0:00 日本時間"
        assert deadlines.zone_label(TOKYO_DEADLINE, "America/New_York") == (
            "2026年4月26日 11:00 米国東部時間"
        )
        assert deadlines.moment_words(TOKYO_DEADLINE, "Asia/Kuala_Lumpur").endswith(
            "マレーシア時間"
        )
        assert deadlines.date_words(dt.date(2026, 4, 26)) == "2026年4月26日"
        rule = deadlines.DeadlineRule(kind=deadlines.RuleKind.MONTHS_AFTER, amount=6)
        assert rule.describe() == "署名から6か月後"
        every = deadlines.recurrence_sentence(
            "FREQ=MONTHLY;INTERVAL=3", start=dt.date(2025, 10, 26)
        )
        assert every == "2026年1月26日から3か月ごと"
    # The API and workers run with no language activated: English.
    assert deadlines.DeadlineRule(kind=deadlines.RuleKind.MONTHS_AFTER, amount=6).describe() == (
        "6 months after signature"
    )


@pytest.mark.parametrize(
    ("written", "japanese"),
    [
        ("at least USD $1 billion", "US$10億以上"),
        ("up to USD $200 million", "最大US$2億"),
        ("USD $100 million", "US$1億"),
        ("USD $250 million", "US$2億5000万"),
        ("a share of the costs", "a share of the costs"),
    ],
)
def test_amounts_are_written_in_japanese_units(written, japanese):
    assert amount(written) == written
    with translation.override("ja"):
        assert amount(written) == japanese


def test_following_from_a_japanese_page_is_answered_in_japanese(client, ministerial):
    from django.core import mail

    target = f"milestone:{ministerial.pk}"
    sent = client.post("/ja/follow/", {"email": "reader@example.jp", "target": target})
    assert sent.status_code == 200 and "受信箱をご確認ください" in text(sent)
    (message,) = mail.outbox
    assert message.subject == "確認：「大臣級投資会合」のフォロー"  # the Japanese title
    assert "時間以内に次のリンクを開いてください" in message.body
    path = re.search(r"http://\S+?(/ja/follow/confirm/\S+/)", message.body)[1]
    asked = client.get(path)
    assert "フォローの確認" in text(asked) and '<html lang="ja">' in text(asked)
    assert "フォローしました" in text(client.post(path))
    bad = client.post("/ja/follow/", {"email": "x", "target": target})
    assert bad.status_code == 400 and "申し込みを受け付けられませんでした" in text(bad)
    assert "<li>メールアドレス：" in text(bad)


def test_record_words_say_which_language_they_are_in():
    """English record text on a Japanese page is marked lang="en"; a field with a
    Japanese version (``title_ja``, as django-modeltranslation adds) or Japanese words is
    not; an English page marks nothing."""
    from types import SimpleNamespace

    from tracker.templatetags.tracker_public import rec, record_lang

    english = SimpleNamespace(title="Investment Ministerial", title_ja="")
    japanese = SimpleNamespace(title="投資閣僚会合", title_ja="投資閣僚会合")
    quoting = SimpleNamespace(section="Section I, 1 (第 I 章 1. 供給の確保)")
    assert record_lang(english, "title") == "" and rec("Tokyo") == "Tokyo"
    with translation.override("ja"):
        assert record_lang(english, "title") == ' lang="en"'
        assert record_lang(japanese, "title") == ""
        assert record_lang(quoting, "section") == ' lang="en"'
        assert rec("Akasaka Palace, Tokyo") == '<span lang="en">Akasaka Palace, Tokyo</span>'
        assert rec("東京") == "東京" and rec("<b>") == '<span lang="en">&lt;b&gt;</span>'


def test_the_follow_form_offers_the_language_of_the_emails_the_pages_own_chosen(
    client, ministerial
):
    chosen = {}
    for prefix in ("", "/ja"):
        page = text(client.get(f"{prefix}/milestones/{ministerial.pk}/"))
        chosen[prefix] = re.findall(r'<option value="(\w+)" lang="\w+" selected>', page)
    assert chosen == {"": ["en"], "/ja": ["ja"]}
