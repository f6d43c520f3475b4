"""Incident reports: every event, message and acknowledgement of one incident, afterwards.

The provincial working group reads these after an incident or a drill. The facts are
gathered once into a frozen :class:`IncidentReportDoc` (every string already passed
through :func:`crisisd.redaction.redact`), then rendered as Markdown or as one
standalone HTML page (:mod:`crisisd.reports.render`). Every instant is shown twice:
Jalali with Persian digits and Gregorian in English, in the daemon's zone (Asia/Tehran
unless configured otherwise). The statistics per audience (time to ack, ack rate,
median, nearest-rank p90) are defined in :mod:`crisisd.reports.facts`.

The drill score lives in :mod:`crisisd.reports.drill`; it is reachable from here too.
"""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import datetime, tzinfo
from typing import Any

from crisisd.domain import channel_kind
from crisisd.library.model import Library
from crisisd.playbook import Names, Playbook
from crisisd.redaction import redact
from crisisd.reports.drill import DrillScore, drill_score, previous_drill
from crisisd.reports.drill_text import render_drill_markdown, render_drill_text
from crisisd.reports.facts import (
    Ack,
    AudienceSummary,
    IncidentReportDoc,
    MessageLine,
    Name,
    TaskLine,
    TimelineEvent,
    When,
    acks_of,
    audience_name,
    factory_names,
    incident_rows,
    name_of,
    person,
    summarize_audiences,
    when,
)
from crisisd.reports.render import render_html, render_markdown
from crisisd.reports.rollcall import roll_call_facts
from crisisd.store import AuditEntry, IncidentRow, MessageRow, Store

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
    receipts = {
        e.detail["message_id"]: e
        for e in trail
        if e.action.startswith("receipt.") and e.detail and "message_id" in e.detail
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
            _with_receipt(_message_line(lib, pb, m, acks, sent.get(m.id), tz), receipts, tz)
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
        roll_call=await roll_call_facts(store, lib, row),
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


def _with_receipt(line: MessageLine, receipts: dict[Any, AuditEntry], tz: tzinfo) -> MessageLine:
    """The line with its SMS delivery receipt (scheduler/receipts.py), when there is one."""
    entry = receipts.get(line.id)
    if entry is None or entry.channel != line.channel:  # failed over and sent elsewhere since
        return line
    at = entry.at
    provider_at = (entry.detail or {}).get("provider_at")
    if isinstance(provider_at, str):
        with contextlib.suppress(ValueError):
            at = datetime.fromisoformat(provider_at)
    state = entry.action.removeprefix("receipt.")
    return dataclasses.replace(line, delivery=state, delivered=when(at, tz))


def _event(
    lib: Library, pb: Playbook | None, row: IncidentRow, e: AuditEntry, tz: tzinfo
) -> TimelineEvent:
    facts: list[tuple[str, str]] = []
    for key, value in (e.detail or {}).items():
        if key == "text" or value is None or value == "":
            continue  # the sent text goes with its message, in the HTML report only
        if key == "recipient":
            shown = person(lib, str(value)).both
        elif key == "recipients" and isinstance(value, list):
            shown = "، ".join(person(lib, str(v)).both for v in value)
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
