"""Reports drawn for people: tables as data, rendered as Markdown or as one HTML page.

An incident report (:mod:`crisisd.reports.incident`) and a drill score
(:mod:`crisisd.reports.drill`) are both a list of :class:`Section` tables whose cells are
plain values, names and instants in both languages. Markdown escapes every cell and leaves
the sent texts out; the HTML page is standalone (no scripts, no external resources), right
to left with English alongside, every value escaped by :class:`markupsafe.Markup`. Both pass
through redaction last.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup

from crisisd.redaction import redact
from crisisd.reports.facts import IncidentReportDoc, MessageLine, Name, When, span

__all__ = [
    "ACTIONS",
    "AUDIENCE_HEAD",
    "DRILL_BANNER",
    "NO_HEAD",
    "STATUSES",
    "Cell",
    "Lines",
    "Pair",
    "Section",
    "Sent",
    "both",
    "drill_banner_html",
    "en",
    "html_cell",
    "html_page",
    "html_section",
    "md",
    "md_cell",
    "md_document",
    "md_section",
    "render_html",
    "render_markdown",
    "sections",
    "status_of",
]

ACTIONS = {
    "incident.opened": ("گشایش حادثه", "incident opened"),
    "incident.updated": ("اطلاعیهٔ تکمیلی", "update sent"),
    "incident.taken_over": ("واگذاری به ستاد بحران استان", "taken over by crisis HQ"),
    "incident.resolved": ("پایان وضعیت اضطراری", "resolved (all clear)"),
    "incident.cancelled": ("لغو", "cancelled"),
    "escalation.fired": ("پیگیری هشدار بی‌پاسخ", "escalation: unacknowledged alert"),
    "delivery.failed": ("نرسیدن پیام", "delivery failed"),
    "message.sent": ("ارسال پیام", "message sent"),
    "receipt.delivered": ("رسیدن پیامک به گوشی", "SMS delivered to the phone"),
    "receipt.undelivered": ("نرسیدن پیامک به گوشی", "SMS not delivered to the phone"),
    "receipt.expired": ("منقضی شدن پیامک", "SMS expired undelivered"),
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
    "delivered": ("رسید به گوشی", "delivered"),
    "undelivered": ("به گوشی نرسید", "undelivered"),
    "expired": ("منقضی شد", "expired"),
}
DRILL_BANNER = ("تمرین — این یک حادثهٔ واقعی نبود", "DRILL — this was not a real incident")


# -- tables as data ----------------------------------------------------------------------------


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


def both(words: Callable[[str], str]) -> Pair:
    """A value worded by a function of the language, in both languages."""
    return Pair(words("fa"), words("en"))


@dataclass(frozen=True, slots=True)
class Section:
    title: Pair
    head: tuple[Pair, ...]
    rows: tuple[tuple[Cell, ...], ...]


NO_HEAD = (Pair("", ""), Pair("", ""))  # a two-column table of names and values


def status_of(key: str) -> Pair:
    return Pair(*STATUSES.get(key, (key, key)))


def sections(doc: IncidentReportDoc) -> list[Section]:
    return [
        Section(Pair("مشخصات", "facts"), NO_HEAD, _header_rows(doc)),
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
        _status_cell(m),
        m.attempts,
        m.sent,
        Lines(tuple(_w(x) for x in (m.ack, m.ack_via) if x)),
        Lines(tuple(x for x in (m.template, m.sha256, m.provider_id) if x)),
        m.last_error,
        Sent(m.text),
    )


def _status_cell(m: MessageLine) -> Cell:
    """The message's status, and for an SMS the provider's delivery receipt beside it."""
    status = status_of(m.status)
    if m.delivery is None:
        return status
    receipt = status_of(m.delivery)
    at = f" {_w(m.delivered)}" if m.delivered else ""
    return Lines((f"{status.fa} · {status.en}", f"{receipt.fa} · {receipt.en}{at}"))


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


def md_document(title: str, drill: bool, parts: Sequence[Section]) -> str:
    """A heading, the drill banner if it was a drill, then the tables; redacted."""
    out = [f"# {title}", ""]
    if drill:
        out += [f"> **{DRILL_BANNER[0]} · {DRILL_BANNER[1]}**", ""]
    for s in parts:
        out += md_section(s)
    return redact("\n".join(out))


def render_markdown(doc: IncidentReportDoc) -> str:
    """The report as GitHub-flavoured Markdown (the sent texts are in the HTML report only)."""
    title = f"گزارش حادثه {md(doc.id)} · Incident report {md(doc.id)}"
    text = md_document(title, doc.drill, sections(doc))
    return text if doc.roll_call is None else f"{text}\n{redact(doc.roll_call.markdown())}"


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
    if doc.roll_call is not None:  # the headcount and its chart (reports/rollcall.py)
        parts.append(doc.roll_call.html())
    title = f"گزارش حادثه {doc.id} · Incident report {doc.id}" + (" (DRILL)" if doc.drill else "")
    return redact(html_page(title, Markup("\n").join(parts)))
