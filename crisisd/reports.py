"""Incident reports: every event, message and acknowledgement of one incident, afterwards.

The provincial working group reads these after an incident or a drill. The facts are
gathered once into a frozen :class:`IncidentReportDoc` (every string already passed
through :func:`crisisd.redaction.redact`), then rendered as Markdown or as one
standalone HTML page. Every instant is shown twice: Jalali with Persian digits and
Gregorian in English, in the daemon's zone (Asia/Tehran unless configured otherwise).

Statistics, here and in :mod:`crisisd.reports_drill`:

- time to ack of a recipient asked to acknowledge = their acknowledgement minus the
  ``sent_at`` of the first message that reached them in that audience (the alert, or
  its escalation resend when the alert failed); one sample per person, never negative;
- ack rate = recipients who acknowledged / recipients asked to (an ack-required
  message was planned for them, delivered or not: an unreachable person is a miss);
- median = :func:`statistics.median` (mean of the two middle samples for an even count);
- p90 = nearest rank: the smallest sample with at least 90 % of samples at or below it,
  ``sorted(samples)[ceil(0.9 * n) - 1]`` — always an observed time, defined for n = 1.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from crisisd.domain import channel_kind
from crisisd.errors import UnknownIncidentError
from crisisd.library import Library
from crisisd.playbook import Names, Playbook
from crisisd.redaction import redact
from crisisd.store import AuditEntry, IncidentRow, MessageRow, Store
from crisisd.timefmt import fa_digits, gregorian, is_persian, jalali

if TYPE_CHECKING:  # at run time these come through __getattr__ below (no import cycle)
    from crisisd.reports_drill import (
        DrillScore,
        drill_score,
        previous_drill,
        render_drill_markdown,
        render_drill_text,
    )

__all__ = [
    "Ack",
    "AudienceSummary",
    "DrillScore",
    "IncidentReportDoc",
    "MessageLine",
    "Name",
    "TaskLine",
    "TimelineEvent",
    "When",
    "drill_score",
    "incident_report",
    "previous_drill",
    "render_drill_markdown",
    "render_drill_text",
    "render_html",
    "render_markdown",
]
_FROM_DRILL = frozenset(
    {"DrillScore", "drill_score", "previous_drill", "render_drill_markdown", "render_drill_text"}
)


def __getattr__(name: str) -> Any:
    """The drill score lives in :mod:`crisisd.reports_drill`; it is reachable from here too."""
    if name in _FROM_DRILL:
        from crisisd import reports_drill

        return getattr(reports_drill, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# -- shared facts and statistics (also used by reports_drill) ---------------------------------


@dataclass(frozen=True, slots=True)
class When:
    """One instant as people read it: Jalali in Persian digits, Gregorian in English."""

    at: datetime
    fa: str
    en: str


def when(at: datetime, tz: tzinfo) -> When:
    return When(at, jalali(at, tz=tz), gregorian(at, tz=tz))


@dataclass(frozen=True, slots=True)
class Name:
    """Something with an id and a name in both languages: a person, factory or audience."""

    id: str
    fa: str
    en: str

    def get(self, lang: str) -> str:
        return self.fa if is_persian(lang) else self.en

    @property
    def both(self) -> str:
        return self.fa if self.fa == self.en else f"{self.fa} ({self.en})"


def name_of(key: str, names: Names | None) -> Name:
    if names is None:
        return Name(redact(key), redact(key), redact(key))
    return Name(redact(key), redact(names.fa), redact(names.en))


def person(lib: Library, contact_id: str) -> Name:
    """A directory contact's name; ids that are not contacts (crisisd, api:…) stay as they are."""
    contact = lib.directory.contacts.get(contact_id)
    return name_of(contact_id, contact.name if contact else None)


def audience_name(pb: Playbook | None, msg: MessageRow) -> Name:
    """The group a message counts under; drill copies and notices to the officer stand apart."""
    if msg.sink_for:
        sink = pb.audiences.get(msg.sink_for) if pb else None
        base = name_of(msg.sink_for, sink.name if sink else None)
        return Name(
            redact(f"drill_sink:{msg.sink_for}"),
            f"نسخهٔ تمرینی «{base.fa}» برای مسئول گزارش",
            f"drill copy of “{base.en}” to the reporting officer",
        )
    if msg.audience == "notice":
        return Name("notice", "اعلان‌ها به مسئول گزارش", "notices to the reporting officer")
    aud = pb.audiences.get(msg.audience) if pb else None
    return name_of(msg.audience, aud.name if aud else None)


@dataclass(frozen=True, slots=True)
class Ack:
    recipient: Name
    when: When
    via: str
    message_id: int | None


def acks_of(
    lib: Library, trail: Sequence[AuditEntry], messages: Sequence[MessageRow], tz: tzinfo
) -> dict[str, Ack]:
    """First acknowledgement per recipient (the store keeps one), from the audit trail."""
    found: dict[str, Ack] = {}
    for e in trail:
        if e.action == "ack" and e.actor not in found:
            mid = (e.detail or {}).get("message_id")
            via = redact(e.channel or "?")
            found[e.actor] = Ack(person(lib, e.actor), when(e.at, tz), via, mid)
    for m in messages:  # an ack whose audit entry is missing still shows on its message
        if m.acked_at is not None and m.recipient not in found:
            found[m.recipient] = Ack(person(lib, m.recipient), when(m.acked_at, tz), "?", m.id)
    return found


def median(samples: Sequence[timedelta]) -> timedelta | None:
    """statistics.median: the middle sample, or the mean of the two middle ones."""
    if not samples:
        return None
    return timedelta(seconds=statistics.median(s.total_seconds() for s in samples))


def nearest_rank(samples: Sequence[timedelta], pct: float) -> timedelta | None:
    """The nearest-rank percentile: ``sorted(samples)[ceil(pct/100 * n) - 1]``."""
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[max(math.ceil(pct / 100 * len(ordered)), 1) - 1]


@dataclass(frozen=True, slots=True)
class AudienceSummary:
    """Delivery and acknowledgement of one audience (see the module doc for the rules)."""

    audience: Name
    external: bool
    recipients: int
    sent: int
    failed: int
    pending: int  # waiting or being sent
    cancelled: int
    acks: int  # recipients of this audience who acknowledged
    asked: int  # recipients asked to acknowledge
    asked_acked: int
    ack_times: tuple[timedelta, ...] = field(default=())

    @property
    def ack_rate(self) -> float | None:
        return self.asked_acked / self.asked if self.asked else None

    @property
    def median_ack(self) -> timedelta | None:
        return median(self.ack_times)

    @property
    def p90_ack(self) -> timedelta | None:
        return nearest_rank(self.ack_times, 90)


def summarize_audiences(
    pb: Playbook | None, messages: Sequence[MessageRow], acks: dict[str, Ack]
) -> tuple[AudienceSummary, ...]:
    groups: dict[str, tuple[Name, list[MessageRow]]] = {}
    for m in sorted(messages, key=lambda m: (m.priority, m.id)):
        label = audience_name(pb, m)
        groups.setdefault(label.id, (label, []))[1].append(m)
    out = []
    for label, ms in groups.values():
        aud = pb.audiences.get(ms[0].audience) if pb else None
        status = [m.status for m in ms]
        recipients = {m.recipient for m in ms}
        asked = {m.recipient for m in ms if m.ack_required}
        times = []
        for r in sorted(asked & acks.keys()):
            sent = [m.sent_at for m in ms if m.recipient == r and m.sent_at]
            if sent:
                times.append(max(acks[r].when.at - min(sent), timedelta(0)))
        out.append(
            AudienceSummary(
                audience=label,
                external=bool(aud and aud.external) and not ms[0].sink_for,
                recipients=len(recipients),
                sent=status.count("sent"),
                failed=status.count("failed"),
                pending=status.count("pending") + status.count("sending"),
                cancelled=status.count("cancelled"),
                acks=len(recipients & acks.keys()),
                asked=len(asked),
                asked_acked=len(asked & acks.keys()),
                ack_times=tuple(times),
            )
        )
    return tuple(out)


def span(d: timedelta, lang: str) -> str:
    """A duration to the second: "1 h 2 min 5 s" / "۱ ساعت و ۲ دقیقه و ۵ ثانیه"."""
    total = abs(round(d.total_seconds()))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    parts = [(n, u) for n, u in ((h, 0), (m, 1), (s, 2)) if n] or [(0, 2)]
    if is_persian(lang):
        return fa_digits(" و ".join(f"{n} {('ساعت', 'دقیقه', 'ثانیه')[u]}" for n, u in parts))
    return " ".join(f"{n} {('h', 'min', 's')[u]}" for n, u in parts)


def pct(rate: float, lang: str) -> str:
    text = f"{rate * 100:.0f}"
    return fa_digits(text) + "٪" if is_persian(lang) else text + "%"


async def incident_rows(
    store: Store, incident_id: str
) -> tuple[IncidentRow, list[MessageRow], list[AuditEntry]]:
    row = await store.get_incident(incident_id.strip().upper())
    if row is None:
        raise UnknownIncidentError(f"no incident '{incident_id}' — check the id (e.g. KMT-479)")
    return row, await store.messages_of(row.id), await store.audit_of(row.id)


def factory_names(lib: Library, row: IncidentRow) -> tuple[Playbook | None, Name, Name]:
    """The playbook (if still loaded), the factory's and the incident type's names."""
    pb = lib.playbooks.get(row.factory)
    factory = name_of(row.factory, pb.factory.name if pb else None)
    kind = pb.incidents.get(row.incident_type) if pb else None
    return pb, factory, name_of(row.incident_type, kind.name if kind else None)


# -- the incident report ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """One audit entry; ``facts``: its detail as (key, shown value), names for ids."""

    when: When
    offset: timedelta  # since the incident was opened
    action: str
    actor: Name
    channel: str | None
    facts: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class MessageLine:
    id: int
    purpose: str
    audience: Name
    recipient: Name
    channel: str  # the channel it went out on, or the one tried last
    status: str
    attempts: int
    sent: When | None
    ack: When | None
    ack_via: str | None
    last_error: str | None
    provider_id: str | None
    template: str | None
    sha256: str | None
    text: str | None  # the exact text sent, from the audit trail


@dataclass(frozen=True, slots=True)
class TaskLine:
    title: Name
    due: When
    done: When | None


@dataclass(frozen=True, slots=True)
class IncidentReportDoc:
    """Everything known about one incident, redacted, with times in both calendars."""

    id: str
    factory: Name
    incident_type: Name
    severity: str
    drill: bool
    status: str
    reporter: Name
    source: str
    details: str
    location: str
    casualties: str
    update_number: int
    opened: When
    closed: When | None
    zone: str
    timeline: tuple[TimelineEvent, ...]
    messages: tuple[MessageLine, ...]
    acks: tuple[Ack, ...]
    audiences: tuple[AudienceSummary, ...]
    tasks: tuple[TaskLine, ...]


async def incident_report(store: Store, lib: Library, incident_id: str) -> IncidentReportDoc:
    """Gather one incident's report from the store; raises UnknownIncidentError."""
    row, messages, trail = await incident_rows(store, incident_id)
    tasks = await store.tasks_of(row.id, open_only=False)
    tz = lib.config.zone
    pb, factory, kind = factory_names(lib, row)
    acks = acks_of(lib, trail, messages, tz)
    sent = {
        e.detail["message_id"]: e.detail
        for e in trail
        if e.action == "message.sent" and e.detail and "message_id" in e.detail
    }
    return IncidentReportDoc(
        id=row.id,
        factory=factory,
        incident_type=kind,
        severity=redact(row.severity),
        drill=row.drill,
        status=row.status,
        reporter=person(lib, row.reporter),
        source=redact(row.source),
        details=redact(row.details),
        location=redact(row.location),
        casualties=row.casualties,
        update_number=row.update_number,
        opened=when(row.opened_at, tz),
        closed=when(row.closed_at, tz) if row.closed_at else None,
        zone=str(tz),
        timeline=tuple(_event(lib, pb, row, e, tz) for e in sorted(trail, key=lambda e: e.at)),
        messages=tuple(
            _message_line(lib, pb, m, acks, sent.get(m.id), tz)
            for m in sorted(messages, key=lambda m: m.id)
        ),
        acks=tuple(sorted(acks.values(), key=lambda a: a.when.at)),
        audiences=summarize_audiences(pb, messages, acks),
        tasks=tuple(
            TaskLine(
                name_of(str(t.id), Names(fa=t.title_fa, en=t.title_en)),
                when(t.due_at, tz),
                when(t.done_at, tz) if t.done_at else None,
            )
            for t in tasks
        ),
    )


def _message_line(
    lib: Library,
    pb: Playbook | None,
    m: MessageRow,
    acks: dict[str, Ack],
    sent: dict[str, Any] | None,
    tz: tzinfo,
) -> MessageLine:
    channel = m.sent_channel or m.channel
    planned = m.renderings.get(channel_kind(channel)) or {}
    template = (sent or {}).get("template") or planned.get("template") or None
    sha = (sent or {}).get("sha256") or planned.get("sha256") or None
    text = (sent or {}).get("text")
    ack = acks.get(m.recipient)
    return MessageLine(
        id=m.id,
        purpose=m.purpose,
        audience=audience_name(pb, m),
        recipient=person(lib, m.recipient),
        channel=redact(channel),
        status=m.status,
        attempts=m.attempts,
        sent=when(m.sent_at, tz) if m.sent_at else None,
        ack=when(m.acked_at, tz) if m.acked_at else None,
        ack_via=ack.via if ack and m.acked_at else None,
        last_error=redact(m.last_error) if m.last_error else None,
        provider_id=redact(m.provider_id) if m.provider_id else None,
        template=redact(str(template)) if template else None,
        sha256=str(sha)[:12] if sha else None,
        text=redact(str(text)) if text else None,
    )


def _event(
    lib: Library, pb: Playbook | None, row: IncidentRow, e: AuditEntry, tz: tzinfo
) -> TimelineEvent:
    facts: list[tuple[str, str]] = []
    for key, value in (e.detail or {}).items():
        if key == "text" or value is None or value == "":
            continue  # the sent text goes with its message, in the HTML report only
        if key == "recipient":
            shown = person(lib, str(value)).both
        elif key == "to" and pb is not None and value in pb.audiences:
            shown = name_of(str(value), pb.audiences[str(value)].name).both
        elif key == "sha256":
            shown = str(value)[:12]
        elif key == "drill":
            shown = "بله · yes" if value else "خیر · no"
        else:
            shown = str(value)
        facts.append((redact(str(key).replace("_", " ")), redact(shown)))
    return TimelineEvent(
        when=when(e.at, tz),
        offset=e.at - row.opened_at,
        action=redact(e.action),
        actor=person(lib, e.actor),
        channel=redact(e.channel) if e.channel else None,
        facts=tuple(facts),
    )


ACTIONS = {
    "incident.opened": ("گشایش حادثه", "incident opened"),
    "incident.updated": ("اطلاعیهٔ تکمیلی", "update sent"),
    "incident.taken_over": ("واگذاری به ستاد بحران استان", "taken over by crisis HQ"),
    "incident.resolved": ("پایان وضعیت اضطراری", "resolved (all clear)"),
    "incident.cancelled": ("لغو", "cancelled"),
    "escalation.fired": ("تشدید", "escalation fired"),
    "delivery.failed": ("نرسیدن پیام", "delivery failed"),
    "message.sent": ("ارسال پیام", "message sent"),
    "ack": ("تأیید دریافت", "acknowledged"),
}
STATUSES = {
    "open": ("باز", "open"),
    "taken_over": ("واگذار شده", "taken over"),
    "resolved": ("پایان یافته", "resolved"),
    "cancelled": ("لغو شده", "cancelled"),
    "pending": ("در صف", "pending"),
    "sending": ("در حال ارسال", "sending"),
    "sent": ("فرستاده شد", "sent"),
    "failed": ("نرسید", "failed"),
}
DRILL_BANNER = ("تمرین — این یک حادثهٔ واقعی نبود", "DRILL — this was not a real incident")


# -- rendering: tables as data, drawn as Markdown or HTML ------------------------------------


@dataclass(frozen=True, slots=True)
class Pair:
    """Persian and English side by side."""

    fa: str
    en: str


@dataclass(frozen=True, slots=True)
class Lines:
    items: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Sent:
    """The exact text sent: a collapsible block in HTML, left out of Markdown tables."""

    text: str | None


Cell = str | int | When | Name | Pair | Lines | Sent | None


@dataclass(frozen=True, slots=True)
class Section:
    title: Pair
    head: tuple[Pair, ...]
    rows: tuple[tuple[Cell, ...], ...]


def status_of(key: str) -> Pair:
    return Pair(*STATUSES.get(key, (key, key)))


def sections(doc: IncidentReportDoc) -> list[Section]:
    return [
        Section(Pair("مشخصات", "facts"), (Pair("", ""), Pair("", "")), _header_rows(doc)),
        Section(
            Pair("خط زمانی", "timeline"),
            _head(
                "زمان time", "+ +", "رویداد event", "کنشگر actor", "کانال channel", "جزئیات details"
            ),
            tuple(
                (
                    e.when,
                    "+" + span(e.offset, "en"),
                    Pair(*ACTIONS.get(e.action, (e.action, e.action))),
                    e.actor,
                    e.channel,
                    Lines(tuple(f"{k}: {v}" for k, v in e.facts)),
                )
                for e in doc.timeline
            ),
        ),
        Section(
            Pair("پیام‌ها", "messages"),
            _head("# #", "مخاطبان audience", "گیرنده recipient", "کانال channel", "وضعیت status")
            + _head("تلاش attempts", "ارسال sent", "تأیید ack", "قالب template", "خطا last_error")
            + _head("متن text"),
            tuple(_message_row(m) for m in doc.messages),
        ),
        Section(
            Pair("تأییدها", "acknowledgements"),
            _head("گیرنده recipient", "زمان time", "از_راه via"),
            tuple((a.recipient, a.when, a.via) for a in doc.acks),
        ),
        Section(Pair("به تفکیک مخاطبان", "per audience"), AUDIENCE_HEAD, _audience_rows(doc)),
        Section(
            Pair("کارها", "tasks"),
            _head("کار task", "مهلت due", "انجام done"),
            tuple((Pair(t.title.fa, t.title.en), t.due, t.done) for t in doc.tasks),
        ),
    ]


def _message_row(m: MessageLine) -> tuple[Cell, ...]:
    return (
        str(m.id),
        m.audience,
        m.recipient,
        m.channel,
        status_of(m.status),
        m.attempts,
        m.sent,
        Lines(tuple(_w(x) for x in (m.ack, m.ack_via) if x)),
        Lines(tuple(x for x in (m.template, m.sha256, m.provider_id) if x)),
        m.last_error,
        Sent(m.text),
    )


def _w(x: When | str) -> str:
    return f"{x.fa} · {x.en}" if isinstance(x, When) else x


def _head(*labels: str) -> tuple[Pair, ...]:
    """Column heads from "فارسی english" strings; "_" stands for a space inside a word."""
    out = []
    for text in labels:
        fa, english = text.rsplit(" ", 1)
        out.append(Pair(fa.replace("_", " "), english.replace("_", " ")))
    return tuple(out)


AUDIENCE_HEAD = _head(
    "مخاطبان audience",
    "گیرندگان recipients",
    "رسید sent",
    "نرسید failed",
    "در_صف pending",
    "لغو cancelled",
    "تأیید acks",
    "میانهٔ_زمان_تأیید median_time_to_ack",
)


def _audience_rows(doc: IncidentReportDoc) -> tuple[tuple[Cell, ...], ...]:
    rows: list[tuple[Cell, ...]] = []
    for s in doc.audiences:
        med = s.median_ack
        ext = Pair(" (بیرونی)", " (external)") if s.external else Pair("", "")
        rows.append(
            (
                Pair(s.audience.fa + ext.fa, s.audience.en + ext.en),
                *(s.recipients, s.sent, s.failed, s.pending, s.cancelled, s.acks),
                Pair(span(med, "fa"), span(med, "en")) if med is not None else None,
            )
        )
    return tuple(rows)


def _header_rows(doc: IncidentReportDoc) -> tuple[tuple[Cell, ...], ...]:
    drill = Pair(*DRILL_BANNER) if doc.drill else Pair("خیر، حادثهٔ واقعی", "no, a real incident")
    return (
        (Pair("شناسه", "id"), doc.id),
        (Pair("کارخانه", "factory"), doc.factory),
        (Pair("نوع", "type"), doc.incident_type),
        (Pair("شدت", "severity"), doc.severity),
        (Pair("تمرین", "drill"), drill),
        (Pair("وضعیت", "status"), status_of(doc.status)),
        (Pair("گزارش‌دهنده", "reporter"), doc.reporter),
        (Pair("منبع", "source"), doc.source),
        (Pair("گشایش", "opened"), doc.opened),
        (Pair("پایان", "closed"), doc.closed),
        (Pair("شرح", "details"), doc.details),
        (Pair("محل", "location"), doc.location),
        (Pair("تلفات", "casualties"), doc.casualties),
        (Pair("اطلاعیه‌ها", "updates"), doc.update_number),
        (Pair("منطقهٔ زمانی", "time zone"), doc.zone),
    )


# Markdown


_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*[]<>|"})


def md(value: object) -> str:
    """One table cell: whitespace folded to one line, Markdown/HTML specials backslashed."""
    return " ".join(str(value).split()).translate(_MD_SPECIAL)


def md_cell(c: Cell) -> str:
    if c is None or c == "":
        return "—"
    if isinstance(c, When | Pair | Name):
        return md(c.fa if c.fa == c.en else f"{c.fa} · {c.en}")
    if isinstance(c, Lines):
        return "; ".join(md(x) for x in c.items) or "—"
    return md(c)


def md_section(s: Section, level: str = "##") -> list[str]:
    keep = [i for i, h in enumerate(s.head) if h.en != "text"]  # sent texts: HTML only
    lines = [f"{level} {s.title.fa} · {s.title.en}", ""]
    lines.append("| " + " | ".join(md_cell(s.head[i]) for i in keep) + " |")
    lines.append("|" + "---|" * len(keep))
    lines += ["| " + " | ".join(md_cell(r[i]) for i in keep) + " |" for r in s.rows]
    return [*lines, ""]


def render_markdown(doc: IncidentReportDoc) -> str:
    """The report as GitHub-flavoured Markdown (the sent texts are in the HTML report only)."""
    out = [f"# گزارش حادثه {md(doc.id)} · Incident report {md(doc.id)}", ""]
    if doc.drill:
        out += [f"> **{DRILL_BANNER[0]} · {DRILL_BANNER[1]}**", ""]
    for s in sections(doc):
        out += md_section(s)
    return redact("\n".join(out))


# HTML

_STYLE = Markup(
    "body{font-family:Vazirmatn,Tahoma,sans-serif;margin:2em;line-height:1.6}"
    "table{border-collapse:collapse;margin:1em 0;width:100%}"
    "th,td{border:1px solid #bbb;padding:.3em .5em;vertical-align:top;text-align:start}"
    "th{background:#eee}[lang=en]{direction:ltr;unicode-bidi:isolate}"
    ".drill{background:#fde68a;border:3px solid #b45309;padding:.6em;font-weight:bold}"
    "pre{white-space:pre-wrap;background:#f6f6f6;padding:.5em}"
)


def en(text: object) -> Markup:
    """English inside the Persian page, escaped and isolated left-to-right."""
    return Markup('<span lang="en" dir="ltr">{}</span>').format(text)


def html_cell(c: Cell) -> Markup:
    """Every value goes through Markup.format, which escapes it."""
    if c is None or c == "":
        return Markup("—")
    if isinstance(c, When | Pair | Name):
        if c.fa == c.en:
            return Markup("<bdi>{}</bdi>").format(c.fa)
        return Markup("<bdi>{}</bdi><br>{}").format(c.fa, en(c.en))
    if isinstance(c, Lines):
        return Markup("<br>").join(Markup("<bdi>{}</bdi>").format(x) for x in c.items)
    if isinstance(c, Sent):
        if c.text is None:
            return Markup("—")
        summary = html_cell(Pair("متن فرستاده", "exact text sent"))
        return Markup('<details><summary>{}</summary><pre dir="auto">{}</pre></details>').format(
            summary, c.text
        )
    return Markup("<bdi>{}</bdi>").format(c)


def html_section(s: Section) -> Markup:
    head = Markup("").join(Markup("<th>{}</th>").format(html_cell(h)) for h in s.head)
    body = Markup("").join(
        Markup("<tr>{}</tr>").format(
            Markup("").join(Markup("<td>{}</td>").format(html_cell(c)) for c in r)
        )
        for r in s.rows
    )
    return Markup(
        "<h2><bdi>{}</bdi> · {}</h2>\n<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>"
    ).format(s.title.fa, en(s.title.en), head, body)


def html_page(title: str, body: Markup) -> str:
    """A standalone page: no scripts, no external resources (its CSP forbids them too)."""
    return str(
        Markup(
            '<!DOCTYPE html>\n<html lang="fa" dir="rtl">\n<head>\n<meta charset="utf-8">\n'
            '<meta http-equiv="Content-Security-Policy" '
            "content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            "<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n{}\n</body>\n</html>\n"
        ).format(title, _STYLE, body)
    )


def drill_banner_html() -> Markup:
    return Markup('<p class="drill">{}</p>').format(html_cell(Pair(*DRILL_BANNER)))


def render_html(doc: IncidentReportDoc) -> str:
    """The report as one standalone right-to-left HTML page, English alongside."""
    parts = [
        Markup("<h1><bdi>گزارش حادثه {}</bdi> · {}</h1>").format(
            doc.id, en(f"Incident report {doc.id}")
        )
    ]
    if doc.drill:
        parts.append(drill_banner_html())
    parts += [html_section(s) for s in sections(doc)]
    title = f"گزارش حادثه {doc.id} · Incident report {doc.id}" + (" (DRILL)" if doc.drill else "")
    return redact(html_page(title, Markup("\n").join(parts)))
