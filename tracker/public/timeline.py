"""The timeline picture: one SVG per agreement, drawn on the server, headed by the
agreement's name (it is downloaded and shown on its own). Up to MAX_LANES dated
milestones get a lane each (a recurring obligation one for all its occurrences); past
that a lane stands for a commitment, and past MAX_LANES commitments the rest share one
lane. So the picture stays readable, and its size bounded, at any number of milestones.

Colours are presentation attributes (no inline style: the site's CSP forbids it); the
stylesheet overrides them through the classes for dark mode when the picture is
inlined in a page. The same markup is served as a file and rendered to PNG."""

from __future__ import annotations

import datetime as dt
import re
import textwrap
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from django.utils.html import escape as html_escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from commitments import deadlines
from commitments.deadlines import day_text
from commitments.models import Agreement

from .record import Brief, Moment, Row, summarise
from .responses import xml_text

WIDTH = 320  # viewBox units: at 360 px wide a unit is a pixel or more
MARGIN = 8
MAX_LANES = 12
LINE = 14  # one line of a lane's label (12 units high)
LABEL_CHARS = 46  # of a 12-unit label in the width (a title line is 13 units: 40)
BIN = 4  # a column of the commitment lanes, in units
COLOURS = {
    "bg": "#ffffff",
    "text": "#1f2937",
    "muted": "#6b7280",
    "ok": "#15803d",
    "late": "#b45309",
    "overdue": "#b91c1c",
    "due": "#1d4ed8",
}
# Worst news first: a column of several milestones takes the colour of the first here.
KINDS = ("overdue", "late", "due", "ok", "muted")
KIND_WORDS = {
    "overdue": gettext_noop("overdue"),
    "late": gettext_noop("completed late"),
    "due": gettext_noop("not yet due"),
    "ok": gettext_noop("completed on time"),
    "muted": gettext_noop("cancelled"),
}
FONTS = "system-ui, sans-serif"
# A Japanese picture names a Japanese family first: cairosvg (the PNG) draws all text in
# the first family of the list, with no fallback per glyph, and Noto Sans CJK JP (Debian's
# fonts-noto-cjk, scripts/ensure-public-deps) has the Latin letters too.
FONTS_JA = "'Noto Sans CJK JP', 'Noto Sans JP', 'Hiragino Sans', 'Yu Gothic', Meiryo, sans-serif"

X = Callable[[dt.date], float]


@dataclass(frozen=True)
class Lane:
    """One lane as the page's table lists it: a milestone, or a commitment's dated
    milestones counted by kind."""

    label: str
    briefs: list[Brief]
    counts: dict[str, int] = field(default_factory=dict)
    series: Brief | None = None  # a recurring obligation; ``briefs`` its occurrences

    @property
    def words(self) -> str:
        return _(", ").join(
            _("%(n)s %(kind)s") % {"n": n, "kind": _(KIND_WORDS[k])}
            for k in KINDS
            if (n := self.counts.get(k))
        )

    @property
    def first_due(self) -> dt.date | None:
        return self.briefs[0].s.due_on if self.briefs else None

    @property
    def last_due(self) -> dt.date | None:
        return self.briefs[-1].s.due_on if self.briefs else None


@dataclass(frozen=True)
class Picture:
    svg: str
    title: str
    desc: str
    desc_html: str  # the same words, record titles marked with their language
    lanes: list[Lane]
    by_commitment: bool  # lanes stand for commitments, not milestones


def draw(
    agreement: Agreement,
    rows: Sequence[Row | Brief],
    moment: Moment,
    commitments: Mapping[int, str] | None = None,
) -> Picture:
    """The picture of ``rows`` (full rows or briefs) at ``moment``. ``commitments``
    (id -> title, in the agreement's order) names the lanes when there are too many
    milestones for one each; full rows carry their commitment's title themselves."""
    briefs = summarise([r if isinstance(r, Brief) else Brief.of(r) for r in rows])
    if commitments is None:
        full = sorted(
            (r.m.commitment for r in rows if isinstance(r, Row)), key=lambda c: (c.number, c.pk)
        )
        commitments = {c.pk: c.title for c in full}
    today = moment.today(agreement.time_zone)
    dated = sorted((b for b in briefs if b.s.due_on is not None), key=lambda b: (b.s.due_on, b.pk))
    ends: list[dt.date | None] = [today, agreement.signed_on + dt.timedelta(days=30)]
    ends += [b.s.due_on for b in dated] + [b.s.completed_on for b in dated if b.s.completed_on]
    start = agreement.signed_on - dt.timedelta(days=7)
    end = max(d for d in ends if d) + dt.timedelta(days=14)
    span = max((end - start).days, 1)

    def x(day: dt.date) -> float:
        return round(MARGIN + (WIDTH - 2 * MARGIN) * (day - start).days / span, 1)

    lanes = _milestone_lanes(dated, {b.pk: b for b in briefs if b.s.is_series})
    by_commitment = len(lanes) > MAX_LANES
    if by_commitment:
        lanes = _commitment_lanes(dated, commitments)
    name = agreement.short_name or agreement.title
    heading = _lines(name, 40)
    top = 18 * len(heading) + 6  # the heading's height; everything below moves down by it
    body: list[str] = []
    y = top + 58
    for lane in lanes:
        if by_commitment:
            body += _commitment_lane(lane, y, x, start, end)
        elif lane.series is not None:
            body += _series_lane(lane, y, x)
        else:
            body += _milestone_lane(lane, y, x, today)
        y += _lane_height(lane)
    if not dated:
        body.append(_text(MARGIN, y + 16, _("No dated deadline yet."), "muted", size=11))
        y += 24
    height = y + 10
    uid = f"tl-{agreement.pk}"
    fonts = FONTS_JA if deadlines.reads_japanese() else FONTS
    title = _("Timeline of %(name)s") % {"name": name}
    desc = _describe(agreement, lanes, by_commitment, briefs, dated, today, moment)
    desc_html = _describe(
        agreement, lanes, by_commitment, briefs, dated, today, moment, mark=_marked
    )
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" class="timeline" '
        f'aria-labelledby="{uid}-title {uid}-desc" font-family="{fonts}">',
        f'<title id="{uid}-title">{escape(title)}</title>',
        f'<desc id="{uid}-desc">{escape(desc)}</desc>',
        f'<rect class="tl-bg" x="0" y="0" width="{WIDTH}" height="{height}" '
        f'fill="{COLOURS["bg"]}"/>',
    ]
    out += [
        _text(MARGIN, 17 + 18 * i, line, "text", size=13, weight="bold", lang="en")
        for i, line in enumerate(heading)
    ]
    out += _axis(start, end, x, top, height)
    sx, tx = x(agreement.signed_on), x(today)
    now_label = (_("As of %(day)s") if moment.as_of else _("Today %(day)s")) % {
        "day": day_text(today)
    }
    out += [
        _line(sx, top + 30, sx, height - 6, "muted", width=1.5),
        _text(
            sx + 3,
            top + 14,
            _("Signed %(day)s") % {"day": day_text(agreement.signed_on)},
            "text",
            size=11,
        ),
        _line(tx, top + 30, tx, height - 6, "text", width=1, dash="3 3"),
        _text(
            tx - 3,
            top + 27,
            now_label,
            "text",
            size=11,
            anchor="end" if tx > WIDTH / 2 else "start",
        ),
    ]
    out += body
    out.append("</svg>")
    return Picture(
        svg=xml_text("\n".join(out)),
        title=title,
        desc=desc,
        desc_html=mark_safe(desc_html),  # every record word escaped by _marked
        lanes=lanes,
        by_commitment=by_commitment,
    )


def _milestone_lanes(dated: list[Brief], series: Mapping[int, Brief]) -> list[Lane]:
    """A lane per dated milestone; a recurring obligation's occurrences share one,
    placed where its first occurrence falls."""
    lanes: list[Lane] = []
    shared: dict[int, Lane] = {}
    for b in dated:
        owner = series.get(b.series_id or 0)
        if owner is None:
            lanes.append(Lane(b.title, [b], Counter([b.verdict[0]])))
            continue
        if owner.pk not in shared:
            shared[owner.pk] = Lane(owner.title, [], Counter(), owner)
            lanes.append(shared[owner.pk])
        shared[owner.pk].briefs.append(b)
        shared[owner.pk].counts[b.verdict[0]] += 1
    return lanes


def _commitment_lanes(dated: list[Brief], commitments: Mapping[int, str]) -> list[Lane]:
    """A lane per commitment with dated milestones, in the agreement's order; past
    MAX_LANES, the rest share the last lane."""
    grouped: dict[int, list[Brief]] = {}
    for b in dated:
        grouped.setdefault(b.commitment_id, []).append(b)
    order = [pk for pk in commitments if pk in grouped] + [
        pk for pk in grouped if pk not in commitments
    ]
    named = [(commitments.get(pk, _("Other milestones")), grouped[pk]) for pk in order]
    if len(named) > MAX_LANES:
        rest = named[MAX_LANES - 1 :]
        merged = sorted((b for _, bs in rest for b in bs), key=lambda b: (b.s.due_on, b.pk))
        named = [*named[: MAX_LANES - 1], (_("%(n)s more commitments") % {"n": len(rest)}, merged)]
    return [Lane(label, bs, Counter(b.verdict[0] for b in bs)) for label, bs in named]


_WIDE = re.compile(r"[\u3000-\u30ff\u3400-\u9fff\uff00-\uffef]")


def _lines(words: str, chars: int) -> list[str]:
    """Words wrapped to lines of ``chars`` Latin letters' width. Japanese has no spaces
    and its characters are about twice as wide: a Japanese title (a record's Japanese
    version) is cut into lines of half as many characters."""
    if _WIDE.search(words):
        chars //= 2
    return textwrap.wrap(words, chars) or [words]


def _lane_height(lane: Lane) -> int:
    return LINE * len(_lines(lane.label, LABEL_CHARS)) + 32


def _describe(
    agreement: Agreement,
    lanes: list[Lane],
    by_commitment: bool,
    briefs: list[Brief],
    dated: list[Brief],
    today: dt.date,
    moment: Moment,
    mark: Callable[[str], str] = str,
) -> str:
    """The picture in words. ``mark`` wraps each record title (``_marked`` for HTML)."""
    counts = {k: sum(lane.counts.get(k, 0) for lane in lanes) for k in KINDS}
    counted = [b for b in briefs if not b.s.is_series]  # a series counts by occurrence
    day = {"signed": day_text(agreement.signed_on), "today": day_text(today)}
    parts = [
        (
            _("Signed on %(signed)s; as of %(today)s.")
            if moment.as_of
            else _("Signed on %(signed)s; today is %(today)s.")
        )
        % day,
        _(
            "%(dated)s of %(all)s milestones have a due date: %(ok)s completed on time, "
            "%(late)s completed late, %(overdue)s overdue."
        )
        % {"dated": len(dated), "all": len(counted), **counts},
    ]
    if by_commitment:
        parts.append(_("One lane per commitment:"))
        for lane in lanes:
            parts.append(
                _("%(label)s: %(n)s due from %(first)s to %(last)s, %(words)s.")
                % {
                    "label": mark(lane.label),
                    "n": len(lane.briefs),
                    "first": day_text(lane.first_due),
                    "last": day_text(lane.last_due),
                    "words": lane.words,
                }
            )
        return _sentences(parts)
    for lane in lanes:
        if lane.series is not None:
            every = deadlines.recurrence_sentence(lane.series.rule_rrule, start=agreement.signed_on)
            parts.append(
                _("%(label)s: %(every)s; %(verdict)s.")
                % {"label": mark(lane.label), "every": every, "verdict": lane.series.verdict[1]}
            )
            continue
        b = lane.briefs[0]
        kind, words = b.verdict
        said = _("not yet due") if kind == "due" else words
        parts.append(
            _("%(title)s: due %(due)s, %(words)s.")
            % {"title": mark(b.title), "due": day_text(b.s.due_on), "words": said}
        )
    return _sentences(parts)


def _sentences(parts: list[str]) -> str:
    """Sentences one after another: a space between them in English, none in Japanese."""
    return ("" if deadlines.reads_japanese() else " ").join(parts)


def _marked(words: str) -> str:
    """A record title inside the description's HTML: escaped, and said to be English
    on a Japanese page (the record is kept in English)."""
    if deadlines.reads_japanese():
        return f'<span lang="en">{html_escape(words)}</span>'
    return html_escape(words)


def _axis(start: dt.date, end: dt.date, x: X, top: int, height: int) -> list[str]:
    """A tick on the first of each month (every third month on long spans)."""
    step = 1 if (end - start).days < 400 else 3
    out = [_line(MARGIN, top + 40, WIDTH - MARGIN, top + 40, "muted", width=1)]
    day = dt.date(start.year, start.month, 1)
    while day <= end:
        if day >= start and (day.month - 1) % step == 0:
            out.append(_line(x(day), top + 36, x(day), top + 44, "muted", width=1))
            labelled = day.month in (1, 7) or (step == 1 and day.month % 3 == 1)
            if labelled and x(day) + 34 <= WIDTH:  # a label cut by the edge says nothing
                out.append(_text(x(day) + 2, top + 54, f"{day:%Y-%m}", "muted", size=9))
        day = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return out


def _label(lane: Lane, y: int) -> tuple[list[str], int]:
    """The lane's label, every word of it, one line under another, and the lane's axis
    below it; and the y of that axis."""
    lines = _lines(lane.label, LABEL_CHARS)
    out = [
        _text(MARGIN, y + 12 + LINE * i, line, "text", size=12, lang="en")
        for i, line in enumerate(lines)
    ]
    base = y + LINE * (len(lines) - 1) + 22
    return [*out, _line(MARGIN, base, WIDTH - MARGIN, base, "grid", width=0.5)], base


def _mark(due: float, base: int, kind: str) -> str:
    diamond = f"M{due} {base - 6} l5 6 l-5 6 l-5 -6 z"
    return f'<path class="tl-{kind}" d="{diamond}" fill="{COLOURS[kind]}"/>'


def _dot(cx: float, base: int, kind: str, r: float) -> str:
    return f'<circle class="tl-{kind}" cx="{cx}" cy="{base}" r="{r}" fill="{COLOURS[kind]}"/>'


def _milestone_lane(lane: Lane, y: int, x: X, today: dt.date) -> list[str]:
    (b,) = lane.briefs
    s = b.s
    kind, words = b.verdict
    assert s.due_on is not None
    out, base = _label(lane, y)
    due = x(s.due_on)
    if kind == "overdue":
        out.append(_rect(due, base - 4, max(x(today) - due, 2), 8, "overdue"))
    elif kind == "late" and s.completed_on:
        out.append(_rect(due, base - 4, max(x(s.completed_on) - due, 2), 8, "late"))
    out.append(_mark(due, base, "due"))
    if s.completed_on and s.status == "completed":
        out.append(_dot(x(s.completed_on), base, kind, 4.5))
    if kind != "due":
        words = _("due %(day)s · %(words)s") % {"day": day_text(s.due_on), "words": words}
    out.append(_text(MARGIN, base + 17, words, kind, size=11, weight="bold"))
    return out


def _series_lane(lane: Lane, y: int, x: X) -> list[str]:
    """A recurring obligation: each occurrence a mark on its due date, in the colour
    of its own news (met, late, missed, ahead), a dot where one was met; its summary
    in words below."""
    assert lane.series is not None
    out, base = _label(lane, y)
    for b in lane.briefs:
        assert b.s.due_on is not None
        out.append(_mark(x(b.s.due_on), base, b.verdict[0]))
        if b.s.completed_on and b.s.status == "completed":
            out.append(_dot(x(b.s.completed_on), base, b.verdict[0], 3.5))
    kind, words = lane.series.verdict
    out.append(_text(MARGIN, base + 17, words, kind, size=11, weight="bold"))
    return out


def _commitment_lane(lane: Lane, y: int, x: X, start: dt.date, end: dt.date) -> list[str]:
    """A commitment's dated milestones as columns along the axis: each column BIN
    units wide, in the colour of its worst news."""
    out, base = _label(lane, y)
    columns: dict[int, str] = {}
    for b in lane.briefs:
        assert b.s.due_on is not None
        column = int((x(b.s.due_on) - MARGIN) // BIN)
        kind = b.verdict[0]
        if column not in columns or KINDS.index(kind) < KINDS.index(columns[column]):
            columns[column] = kind
    for column, kind in sorted(columns.items()):
        out.append(_rect(MARGIN + column * BIN, base - 5, BIN - 0.5, 10, kind, corner=1))
    said = _("%(n)s dated: %(words)s") % {"n": len(lane.briefs), "words": lane.words}
    worst = next((k for k in KINDS if lane.counts.get(k)), "muted")
    out.append(_text(MARGIN, base + 17, said, worst, size=11, weight="bold"))
    return out


def _line(x1, y1, x2, y2, kind: str, width: float = 1, dash: str = "") -> str:
    colour = COLOURS.get(kind, "#d1d5db")
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<line class="tl-{kind}-line" x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" '
        f'stroke="{colour}" stroke-width="{width}"{dashed}/>'
    )


def _rect(x0: float, y0: float, w: float, h: float, kind: str, corner: float = 2) -> str:
    return (
        f'<rect class="tl-{kind}" x="{x0}" y="{y0}" width="{round(w, 1)}" height="{h}" '
        f'rx="{corner}" fill="{COLOURS[kind]}"/>'
    )


def _text(
    x0: float,
    y0: float,
    words: str,
    kind: str,
    size: int = 11,
    anchor: str = "start",
    weight: str = "normal",
    lang: str = "",
) -> str:
    """The words twice: first as a halo in the background colour, so that a line
    crossing them does not hide them (paint-order is not drawn by every renderer)."""
    common = f'x="{x0}" y="{y0}" font-size="{size}" text-anchor="{anchor}" font-weight="{weight}"'
    if lang:  # a record's words (English until a Japanese version exists)
        common += f' lang="{lang}"'
    words = escape(words)
    return (
        f'<text class="tl-halo" {common} fill="{COLOURS["bg"]}" stroke="{COLOURS["bg"]}" '
        f'stroke-width="3" stroke-linejoin="round">{words}</text>'
        f'<text class="tl-{kind}-text" {common} fill="{COLOURS.get(kind, COLOURS["text"])}">'
        f"{words}</text>"
    )
