"""The timeline picture: one SVG per agreement, drawn on the server. The signature,
each dated milestone's due date, today (or the "as of" day), completed milestones on
time (green) or late (amber, with the delay), overdue ones as red bars growing from
their deadline, recurring obligations as their occurrences.

Colours are presentation attributes (no inline style: the site's CSP forbids it); the
stylesheet overrides them through the classes for dark mode when the picture is
inlined in a page. The same markup is served as a file and rendered to PNG."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from xml.sax.saxutils import escape

from commitments import deadlines
from commitments.models import Agreement

from .record import Moment, Row, verdict

WIDTH = 320  # viewBox units: at 360 px wide a unit is a pixel or more
MARGIN = 8
LANE = 46
TOP = 58
COLOURS = {
    "bg": "#ffffff",
    "text": "#1f2937",
    "muted": "#6b7280",
    "ok": "#15803d",
    "late": "#b45309",
    "overdue": "#b91c1c",
    "due": "#1d4ed8",
}
TITLE_CHARS = 46


@dataclass(frozen=True)
class Picture:
    svg: str
    title: str
    desc: str


def draw(agreement: Agreement, rows: list[Row], moment: Moment) -> Picture:
    today = moment.today(agreement.time_zone)
    dated = [r for r in rows if r.s.due_on is not None]
    dated.sort(key=lambda r: (r.s.due_on, r.m.pk))
    ends: list[dt.date | None] = [today, agreement.signed_on + dt.timedelta(days=30)]
    ends += [r.s.due_on for r in dated] + [r.s.completed_on for r in dated if r.s.completed_on]
    start = agreement.signed_on - dt.timedelta(days=7)
    end = max(d for d in ends if d) + dt.timedelta(days=14)
    span = max((end - start).days, 1)

    def x(day: dt.date) -> float:
        return round(MARGIN + (WIDTH - 2 * MARGIN) * (day - start).days / span, 1)

    height = TOP + LANE * max(len(dated), 1) + 10
    uid = f"tl-{agreement.pk}"
    title = f"Timeline of {agreement.short_name or agreement.title}"
    desc = _describe(agreement, dated, rows, today, moment)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" class="timeline" '
        f'aria-labelledby="{uid}-title {uid}-desc" font-family="system-ui, sans-serif">',
        f'<title id="{uid}-title">{escape(title)}</title>',
        f'<desc id="{uid}-desc">{escape(desc)}</desc>',
        f'<rect class="tl-bg" x="0" y="0" width="{WIDTH}" height="{height}" '
        f'fill="{COLOURS["bg"]}"/>',
    ]
    out += _axis(start, end, x, height)
    sx, tx = x(agreement.signed_on), x(today)
    now_label = f"As of {today.isoformat()}" if moment.as_of else f"Today {today.isoformat()}"
    out += [
        _line(sx, 30, sx, height - 6, "muted", width=1.5),
        _text(sx + 3, 14, f"Signed {agreement.signed_on.isoformat()}", "text", size=11),
        _line(tx, 30, tx, height - 6, "text", width=1, dash="3 3"),
        _text(tx - 3, 27, now_label, "text", size=11, anchor="end" if tx > WIDTH / 2 else "start"),
    ]
    for i, row in enumerate(dated):
        out += _lane(row, TOP + i * LANE, x, today, start, end)
    if not dated:
        out.append(_text(MARGIN, TOP + 16, "No dated deadline yet.", "muted", size=11))
    out.append("</svg>")
    return Picture(svg="\n".join(out), title=title, desc=desc)


def _describe(agreement, dated, rows, today, moment) -> str:
    overdue = [r for r in dated if r.s.overdue]
    late = [r for r in dated if verdict(r)[0] == "late"]
    ok = [r for r in dated if verdict(r)[0] == "ok"]
    parts = [
        f"Signed on {agreement.signed_on.isoformat()}; "
        f"{'as of' if moment.as_of else 'today is'} {today.isoformat()}.",
        f"{len(dated)} of {len(rows)} milestones have a due date: "
        f"{len(ok)} completed on time, {len(late)} completed late, {len(overdue)} overdue.",
    ]
    for r in dated:
        kind, words = verdict(r)
        parts.append(f"{r.m.title}: due {r.s.due_on}, {'not yet due' if kind == 'due' else words}.")
    return " ".join(parts)


def _axis(start: dt.date, end: dt.date, x, height: int) -> list[str]:
    """A tick on the first of each month (every third month on long spans)."""
    step = 1 if (end - start).days < 400 else 3
    out = [_line(MARGIN, 40, WIDTH - MARGIN, 40, "muted", width=1)]
    day = dt.date(start.year, start.month, 1)
    while day <= end:
        if day >= start and (day.month - 1) % step == 0:
            out.append(_line(x(day), 36, x(day), 44, "muted", width=1))
            if day.month in (1, 7) or (step == 1 and day.month % 3 == 1):
                out.append(_text(x(day) + 2, 54, f"{day:%Y-%m}", "muted", size=9))
        day = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return out


def _lane(row: Row, y: int, x, today: dt.date, start: dt.date, end: dt.date) -> list[str]:
    s, m = row.s, row.m
    kind, words = verdict(row)
    assert s.due_on is not None
    label = m.title if len(m.title) <= TITLE_CHARS else m.title[: TITLE_CHARS - 1] + "…"
    base = y + 22
    due = x(s.due_on)
    out = [
        _text(MARGIN, y + 12, label, "text", size=12),
        _line(MARGIN, base, WIDTH - MARGIN, base, "grid", width=0.5),
    ]
    if kind == "overdue":
        out.append(_rect(due, base - 4, max(x(today) - due, 2), 8, "overdue"))
    elif kind == "late" and s.completed_on:
        out.append(_rect(due, base - 4, max(x(s.completed_on) - due, 2), 8, "late"))
    if m.rule_kind == "recurring" and m.rule_rrule:
        # Every occurrence in the picture's span, drawn over any bar so it shows.
        rule = deadlines.parse_rrule(m.rule_rrule, m.commitment.agreement.signed_on)
        span = (dt.datetime.combine(start, dt.time()), dt.datetime.combine(end, dt.time()))
        for when in rule.between(*span, inc=True)[:200]:
            if when.date() > m.commitment.agreement.signed_on:
                out.append(_line(x(when.date()), base - 7, x(when.date()), base + 7, "due", 2))
    out.append(
        f'<path class="tl-due" d="M{due} {base - 6} l5 6 l-5 6 l-5 -6 z" fill="{COLOURS["due"]}"/>'
    )
    if s.completed_on and s.status == "completed":
        cx = x(s.completed_on)
        out.append(
            f'<circle class="tl-{kind}" cx="{cx}" cy="{base}" r="4.5" fill="{COLOURS[kind]}"/>'
        )
    said = words if kind == "due" else f"due {s.due_on.isoformat()} · {words}"
    out.append(_text(MARGIN, y + 39, said, kind, size=11, weight="bold"))
    return out


def _line(x1, y1, x2, y2, kind: str, width: float = 1, dash: str = "") -> str:
    colour = COLOURS.get(kind, "#d1d5db")
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<line class="tl-{kind}-line" x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" '
        f'stroke="{colour}" stroke-width="{width}"{dashed}/>'
    )


def _rect(x0: float, y0: float, w: float, h: float, kind: str) -> str:
    return (
        f'<rect class="tl-{kind}" x="{x0}" y="{y0}" width="{round(w, 1)}" height="{h}" '
        f'rx="2" fill="{COLOURS[kind]}"/>'
    )


def _text(
    x0: float,
    y0: float,
    words: str,
    kind: str,
    size: int = 11,
    anchor: str = "start",
    weight: str = "normal",
) -> str:
    """The words twice: first as a halo in the background colour, so that a line
    crossing them does not hide them (paint-order is not drawn by every renderer)."""
    common = f'x="{x0}" y="{y0}" font-size="{size}" text-anchor="{anchor}" font-weight="{weight}"'
    words = escape(words)
    return (
        f'<text class="tl-halo" {common} fill="{COLOURS["bg"]}" stroke="{COLOURS["bg"]}" '
        f'stroke-width="3" stroke-linejoin="round">{words}</text>'
        f'<text class="tl-{kind}-text" {common} fill="{COLOURS.get(kind, COLOURS["text"])}">'
        f"{words}</text>"
    )
