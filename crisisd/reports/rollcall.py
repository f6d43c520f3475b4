"""The roll call in the incident report and the drill score: the headcount, who needed help
and where, who never answered, and the answers over time (a table in Markdown, an inline
SVG chart in HTML).

Kept free of the report renderer (render.py reads it, not the other way round), so it
escapes its own Markdown and HTML. Times to 50 %, 90 % and 100 % accounted for count the
people asked; an answer after the all-clear is listed but not in the curve.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from markupsafe import Markup

from crisisd.formats.timefmt import fa_digits
from crisisd.library.model import Library
from crisisd.redaction import redact
from crisisd.rollcall.headcount import Headcount, State, time_to_share, timeline
from crisisd.rollcall.headcount import headcount as count_of
from crisisd.rollcall.service import asked_of, said_of
from crisisd.store import IncidentRow, Store
from crisisd.store.rollcall import RollCallBook

Counts = tuple[int, int, int, int]  # safe, help, no answer, unreachable
Both = tuple[str, str]  # a name in Persian and English
MARKS = (5, 10, 15, 20, 30, 45, 60)  # minutes at which the Markdown table counts answers
_MD = str.maketrans({c: "\\" + c for c in "\\`*_{}[]<>()#+-.!|"})


@dataclass(frozen=True, slots=True)
class RollCallFacts:
    asked: int
    totals: Counts
    audiences: tuple[tuple[Both, Counts], ...]
    need_help: tuple[tuple[Both, str], ...]  # and where they said they were
    never: tuple[Both, ...]  # asked, never answered (or never reached)
    late: tuple[Both, ...]  # answered after the all-clear
    curve: tuple[tuple[timedelta, int, int], ...]  # (since open, safe, needing help)
    t50: timedelta | None
    t90: timedelta | None
    t100: timedelta | None

    def markdown(self) -> str:
        return rollcall_markdown(self)

    def html(self) -> Markup:
        return rollcall_html(self)


async def roll_call_facts(store: Store, lib: Library, row: IncidentRow) -> RollCallFacts | None:
    """The roll call of incident ``row``; None when it had none."""
    book = RollCallBook(store)
    questions = await book.questions(row.id)
    if not questions:
        return None
    count = count_of(asked_of(questions), said_of(await book.events(row.id)))
    return facts_of(lib, count, row)


def facts_of(lib: Library, count: Headcount, row: IncidentRow) -> RollCallFacts:
    pb = lib.playbooks.get(row.factory)

    def name(cid: str) -> Both:
        c = lib.directory.contacts.get(cid)
        return (redact(c.name.fa), redact(c.name.en)) if c else (cid, cid)

    def aud(key: str) -> Both:
        a = pb.audiences.get(key) if pb else None
        return (a.name.fa, a.name.en) if a and a.name else (key, key)

    def counts(t: object) -> Counts:
        return tuple(getattr(t, k) for k in ("safe", "help", "no_answer", "unreachable"))

    silent = count.named(State.NO_ANSWER) + count.named(State.UNREACHABLE)
    return RollCallFacts(
        asked=count.total.total,
        totals=counts(count.total),
        audiences=tuple((aud(k), counts(t)) for k, t in sorted(count.by_audience.items())),
        need_help=tuple((name(p.contact), redact(p.location)) for p in count.named(State.HELP)),
        never=tuple(sorted(name(p.contact) for p in silent)),
        late=tuple(sorted(name(p.contact) for p in count.people.values() if p.late)),
        curve=tuple(timeline(count, row.opened_at)),
        t50=time_to_share(count, row.opened_at, 0.5),
        t90=time_to_share(count, row.opened_at, 0.9),
        t100=time_to_share(count, row.opened_at, 1.0),
    )


def minutes(d: timedelta | None) -> str:
    return "—" if d is None else f"{d.total_seconds() / 60:.1f} min"


def _md(text: str) -> str:
    return " ".join(str(text).split()).translate(_MD)


def _names(people: tuple[Both, ...]) -> str:
    return ", ".join(f"{_md(fa)} ({_md(en)})" for fa, en in people) or "—"


def accounted_at(f: RollCallFacts, mark: timedelta) -> int:
    return max((s + h for t, s, h in f.curve if t <= mark), default=0)


def rollcall_markdown(f: RollCallFacts) -> str:
    safe, need, silent, lost = f.totals
    lines = [
        "## حضور و غیاب · Roll call",
        "",
        "| | |",
        "|---|---|",
        f"| پرسیده‌شده · asked | {f.asked} |",
        f"| سالم · safe | {safe} |",
        f"| کمک لازم · need help | {need} |",
        f"| بی‌پاسخ · no answer | {silent} |",
        f"| دسترس‌ناپذیر · unreachable | {lost} |",
        f"| ۵۰٪ · 50 % accounted for | {minutes(f.t50)} |",
        f"| ۹۰٪ · 90 % accounted for | {minutes(f.t90)} |",
        f"| ۱۰۰٪ · 100 % accounted for | {minutes(f.t100)} |",
        "",
        "| مخاطبان · audience | safe | help | no answer | unreachable |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {_md(fa)} · {_md(en)} | " + " | ".join(map(str, c)) + " |"
        for (fa, en), c in f.audiences
    ]
    lines += ["", "| کمک لازم · needs help | محل · location |", "|---|---|"]
    lines += [f"| {_md(fa)} · {_md(en)} | {_md(where) or '—'} |" for (fa, en), where in f.need_help]
    lines += ["", f"**هرگز پاسخ نداد · never answered:** {_names(f.never)}", ""]
    if f.late:
        lines += [f"**پس از پایان · after the all-clear:** {_names(f.late)}", ""]
    lines += [
        "### پاسخ‌ها در طول زمان · Answers over time",
        "",
        "| min | accounted for |",
        "|---|---|",
    ]
    lines += [f"| {m} | {accounted_at(f, timedelta(minutes=m))} |" for m in MARKS]
    return "\n".join([*lines, ""])


def rollcall_svg(f: RollCallFacts, width: int = 600, height: int = 200) -> Markup:
    """Accounted-for (green) and needing-help (red) people over time, as inline SVG."""
    end = max([t.total_seconds() for t, _, _ in f.curve] + [60.0])
    top = max(f.asked, 1)

    def xy(t: timedelta, n: int) -> str:
        x = 40 + (width - 50) * t.total_seconds() / end
        y = height - 20 - (height - 30) * n / top
        return f"{x:.1f},{y:.1f}"

    zero = timedelta(0)
    green = " ".join([xy(zero, 0), *(xy(t, s + h) for t, s, h in f.curve)])
    red = " ".join([xy(zero, 0), *(xy(t, h) for t, _, h in f.curve)])
    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" '
        'aria-label="answers over time" style="direction:ltr">'
        '<line x1="40" y1="{b}" x2="{w}" y2="{b}" stroke="#888"/>'
        '<line x1="40" y1="10" x2="40" y2="{b}" stroke="#888"/>'
        '<text x="2" y="16" font-size="11">{top}</text>'
        '<text x="{tx}" y="{h}" font-size="11">{mins:.0f} min</text>'
        '<polyline fill="none" stroke="#0a6b2d" stroke-width="2" points="{g}"/>'
        '<polyline fill="none" stroke="#a11" stroke-width="2" points="{r}"/></svg>'
    ).format(
        w=width, h=height, b=height - 20, top=top, tx=width - 50, mins=end / 60, g=green, r=red
    )


def rollcall_html(f: RollCallFacts) -> Markup:
    safe, need, silent, lost = f.totals
    rows = [
        ("پرسیده‌شده · asked", str(f.asked)),
        ("سالم · safe", str(safe)),
        ("کمک لازم · need help", str(need)),
        ("بی‌پاسخ · no answer", str(silent)),
        ("دسترس‌ناپذیر · unreachable", str(lost)),
        ("۵۰٪ · 50 % accounted for", minutes(f.t50)),
        ("۹۰٪ · 90 % accounted for", minutes(f.t90)),
        ("۱۰۰٪ · 100 % accounted for", minutes(f.t100)),
    ]
    rows += [(f"🆘 {fa} · {en}", where or "—") for (fa, en), where in f.need_help]
    rows.append(("هرگز پاسخ نداد · never answered", "، ".join(f"{a} · {b}" for a, b in f.never)))
    body = Markup("").join(
        Markup("<tr><td><bdi>{}</bdi></td><td><bdi>{}</bdi></td></tr>").format(k, v)
        for k, v in rows
    )
    return Markup(
        '<h2><bdi>حضور و غیاب</bdi> · <span lang="en" dir="ltr">Roll call</span></h2>'
        "<table><tbody>{}</tbody></table>"
        '<h3><bdi>پاسخ‌ها در طول زمان</bdi> · <span lang="en" dir="ltr">Answers over time'
        "</span></h3>{}"
    ).format(body, rollcall_svg(f))


# -- in the drill score (reports/drill.py, drill_text.py) ------------------------------------

_DRILL = {
    "fa": ("حضور و غیاب", "۵۰٪", "۹۰٪", "۱۰۰٪", "هرگز پاسخ نداد", "نسبت به تمرین پیش"),
    "en": ("Roll call", "50 %", "90 %", "100 %", "Never answered", "Since the previous drill"),
}


def _mins(d: timedelta | None, lang: str) -> str:
    if d is None:
        return "—"
    text = f"{d.total_seconds() / 60:.1f}"
    return fa_digits(text) + " دقیقه" if lang == "fa" else text + " min"


def drill_lines(f: RollCallFacts, lang: str, shown: int = 10) -> list[str]:
    """The roll call in the officer's drill-score message (plain lines)."""
    w = _DRILL["fa" if lang == "fa" else "en"]
    counted = f"{f.totals[0] + f.totals[1]}/{f.asked}"
    lines = [
        f"{w[0]}: {fa_digits(counted) if lang == 'fa' else counted}",
        f"• {w[1]}: {_mins(f.t50, lang)} · {w[2]}: {_mins(f.t90, lang)} · "
        f"{w[3]}: {_mins(f.t100, lang)}",
    ]
    if f.never:
        names = [fa if lang == "fa" else en for fa, en in f.never[:shown]]
        more = len(f.never) - shown
        lines.append(f"• {w[4]}: " + ", ".join(names) + (f" (+{more})" if more > 0 else ""))
    return lines


def drill_delta_lines(now: RollCallFacts, prev: RollCallFacts | None, lang: str) -> list[str]:
    """How this drill's roll call compares with the previous drill's."""
    if prev is None:
        return []
    w = _DRILL["fa" if lang == "fa" else "en"]

    def diff(a: timedelta | None, b: timedelta | None) -> str:
        if a is None or b is None:
            return "—"
        sign = "+" if a >= b else "−"
        return sign + _mins(abs(a - b), lang)

    never = len(now.never) - len(prev.never)
    return [
        f"{w[5]} ({w[0]}): {w[2]} {diff(now.t90, prev.t90)} · "
        f"{w[3]} {diff(now.t100, prev.t100)} · {w[4]} {never:+d}"
    ]
