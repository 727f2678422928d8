"""Template filters of the public site: one date format everywhere (ISO 8601 in
English, 2026年4月26日 in Japanese), labels in the reader's language, and which
language a record's words are in."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from django import template
from django.utils import translation
from django.utils.html import conditional_escape, format_html
from django.utils.translation import gettext, gettext_noop, ngettext

from commitments import deadlines
from commitments.models import Assessment, Milestone, Status

register = template.Library()

# The record's choice labels (commitments/models.py) as the public pages show them;
# listed here so that makemessages finds them (the models keep plain English labels).
CHOICE_LABELS = (
    gettext_noop("Not started"),
    gettext_noop("In progress"),
    gettext_noop("At risk"),
    gettext_noop("Completed"),
    gettext_noop("Cancelled"),
    gettext_noop("Not yet rated"),
    gettext_noop("On track"),
    gettext_noop("Partly kept"),
    gettext_noop("Kept"),
    gettext_noop("Broken"),
    gettext_noop("Investment and finance"),
    gettext_noop("Permitting"),
    gettext_noop("Stockpiling"),
    gettext_noop("Recycling"),
    gettext_noop("Geological mapping"),
    gettext_noop("Institutions and meetings"),
    gettext_noop("Like-minded partners"),
    gettext_noop("Fair markets"),
    gettext_noop("Investment security"),
    gettext_noop("Production"),
    gettext_noop("Progress"),
    gettext_noop("Setback"),
    gettext_noop("Context"),
    gettext_noop("Checked, nothing found"),
    # The follow form's fields, as its errors name them.
    gettext_noop("email"),
    gettext_noop("target"),
    # Why an ?as_of= cannot be shown (commitments.selectors.parse_as_of).
    gettext_noop("is not a date written YYYY-MM-DD"),
    gettext_noop("is not a day of the calendar"),
    gettext_noop("is in the future: the record shows only what has happened"),
)


@register.filter
def day(value: dt.date | dt.datetime | None) -> str:
    """2026-04-26 (2026年4月26日 in Japanese): the one way the public site writes a
    date. Addresses and datetime attributes use ``iso``."""
    if deadlines.reads_japanese() and isinstance(value, dt.date):
        return deadlines.date_words(value.date() if isinstance(value, dt.datetime) else value)
    return iso(value)


@register.filter
def iso(value: dt.date | dt.datetime | None) -> str:
    """2026-04-26 in every language: for ?as_of= and <time datetime>."""
    if not isinstance(value, dt.date):
        return ""
    if isinstance(value, dt.datetime):
        value = value.date()
    return value.isoformat()


@register.filter
def zone(time_zone: str) -> str:
    """ "Asia/Tokyo"; on a Japanese page "日本時間" (deadlines.zone_name)."""
    return deadlines.zone_name(time_zone) if time_zone else ""


@register.filter
def days(n: int | None) -> str:
    if n is None:
        return ""
    return ngettext("%(n)d day", "%(n)d days", n) % {"n": n}


@register.filter
def label(value: str) -> str:
    """A choice's English label (get_FOO_display) in the reader's language."""
    return gettext(str(value)) if value else ""


@register.filter
def status_label(value: str) -> str:
    return gettext(dict(Status.choices).get(value, value))


@register.filter
def assessment_label(value: str) -> str:
    return gettext(dict(Assessment.choices).get(value, value))


_AMOUNT = re.compile(
    r"^(?P<before>at least |up to )?(?:USD ?\$|US\$)"
    r"(?P<n>\d+(?:\.\d+)?) ?(?P<unit>billion|million)$"
)


@register.filter
def amount(value: str) -> str:
    """An amount as the reader writes it: "at least USD $1 billion" reads
    "US$10億以上" in Japanese (units of 万 and 億). Anything else is left as written."""
    found = _AMOUNT.match(value or "")
    if not found or not deadlines.reads_japanese():
        return value
    n = Decimal(found["n"]) * (10**9 if found["unit"] == "billion" else 10**6)
    words = f"US${_japanese_number(n)}"
    before = found["before"] or ""
    return {"at least ": f"{words}以上", "up to ": f"最大{words}"}.get(before, words)


def _japanese_number(n: Decimal) -> str:
    """1000000000 -> "10億", 250000000 -> "2億5000万", 100000000 -> "1億"."""
    oku, rest = divmod(int(n), 10**8)
    man = rest // 10**4
    return (f"{oku}億" if oku else "") + (f"{man}万" if man else "") or "0"


_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff00-\uffef]")
_LATIN = re.compile(r"[A-Za-z]")


def written_in_japanese(text: str) -> bool:
    """More Japanese characters than Latin letters: "第 I 章 1. 供給の確保" is
    Japanese, "Section I, 1 (第 I 章 1. 供給の確保)" is English quoting Japanese."""
    return len(_JAPANESE.findall(text)) > len(_LATIN.findall(text))


def _page_language() -> str:
    return (translation.get_language() or "en").split("-")[0]


@register.simple_tag
def record_lang(obj: object, field: str) -> str:
    """' lang="en"' on an element showing a record's field when its words are not in
    the page's language (English record text on a Japanese page); nothing otherwise.
    Written inside the tag: ``<h1{% record_lang m "title" %}>``. A field is in the
    page's language when it has a version in it (``title_ja``, as
    django-modeltranslation names it) or Japanese words in the field itself."""
    language = _page_language()
    if language == "en":
        return ""
    own = getattr(obj, f"{field}_{language}", "") or ""
    shown = str(getattr(obj, field, "") or "")
    return "" if own or written_in_japanese(shown) else format_html(' lang="{}"', "en")


# Shown only on Japanese pages, so written in Japanese (not interface strings to
# translate): the reader's own language says whose words these are.
OUR_TRANSLATION = "当サイトによる翻訳"
ENGLISH_ONLY = "日本語版なし・英語のまま表示"


@register.simple_tag
def record_text(obj: object, field: str) -> str:
    """A record's field in the reader's language, saying where its words come from.

    On an English page, the English text as ``{{ obj.title }}`` gave it. On a Japanese
    page, a field kept in both languages (``title_ja``, django-modeltranslation) gives
    its Japanese version marked ``lang="ja"``, followed by 「当サイトによる翻訳」 when it is
    the tracker's translation (``ja_is_translation``) rather than a Japanese source's
    words; where it has no Japanese version, the English one, marked ``lang="en"`` and
    said to be English. A field kept in one language only is marked with its language."""
    english = getattr(obj, f"{field}_en", None) or getattr(obj, field, "") or ""
    if _page_language() == "en":
        return conditional_escape(english)
    if not hasattr(obj, f"{field}_ja"):
        return rec(english)
    japanese = getattr(obj, f"{field}_ja", None)
    if japanese:
        if getattr(obj, "ja_is_translation", True):
            return format_html(
                '<span lang="ja">{}</span> <small class="record-origin">（{}）</small>',
                japanese,
                OUR_TRANSLATION,
            )
        return format_html('<span lang="ja">{}</span>', japanese)
    if not english:
        return ""
    return format_html(
        '<span lang="en">{}</span> <small class="record-fallback">（{}）</small>',
        english,
        ENGLISH_ONLY,
    )


@register.filter
def rec(value: object) -> str:
    """Record words inside an interface sentence: a span saying they are English on a
    Japanese page (Japanese words are left as they are)."""
    text = "" if value is None else str(value)
    if _page_language() == "en" or not text or written_in_japanese(text):
        return conditional_escape(text)
    return format_html('<span lang="en">{}</span>', text)


@register.filter
def deadline(m: Milestone) -> str:
    """The moment a milestone is overdue from, in its agreement's zone, named:
    "27 April 2026, 00:00 Tokyo time (JST)"."""
    if m.overdue_from is None:
        return ""
    return deadlines.moment_words(m.overdue_from, m.time_zone())


@register.inclusion_tag("tracker/public/_citation.html")
def citation(reference: str) -> dict[str, object]:
    """A source as a reader reads it (tracker.public.citations): a link where one can
    be followed, a seed as the article it copies."""
    from tracker.public.citations import cite

    return {"c": cite(reference)}


@register.filter
def web_address(value: str) -> str:
    """The address if a link may point at it (http or https), else ""."""
    from tracker.public.citations import web_address as checked

    return checked(value or "")


@register.inclusion_tag("tracker/archive/_note.html")
def archived(obj: object, passage: str = "") -> dict[str, object]:
    """Beside an address: "archived copy (fetched 2026-02-05)", and what the last link
    check found, for a row annotated by tracker.archive.selectors.with_archive."""
    from tracker.archive.selectors import note

    return {"n": note(obj, passage)}
