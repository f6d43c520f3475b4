"""Delivery state of an incident as the officer reads it: per audience, sent / failed /
waiting / acknowledged, who has not acknowledged, who could not be reached.

Pure functions of store rows; the progress message and /status both use them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from crisisd.bot.labels import (
    audience_name,
    factory_name,
    person_name,
    severity_name,
    type_name,
    when,
)
from crisisd.bot.texts import Html, joined, say, status_name
from crisisd.domain import MessageStatus, Purpose
from crisisd.library.model import Library
from crisisd.store import IncidentRow, MessageRow

FINAL = {MessageStatus.SENT.value, MessageStatus.FAILED.value, MessageStatus.CANCELLED.value}


@dataclass(slots=True)
class Tally:
    total: int = 0
    sent: int = 0
    failed: int = 0
    pending: int = 0
    cancelled: int = 0
    need: int = 0  # sent messages that ask for an acknowledgement
    acked: int = 0

    def add(self, msg: MessageRow) -> None:
        self.total += 1
        if msg.status == MessageStatus.SENT.value:
            self.sent += 1
            if msg.ack_required:
                self.need += 1
                self.acked += msg.acked_at is not None
        elif msg.status == MessageStatus.FAILED.value:
            self.failed += 1
        elif msg.status == MessageStatus.CANCELLED.value:
            self.cancelled += 1
        else:
            self.pending += 1

    def counts(self, lang: str) -> str:
        return say(
            "status_counts",
            lang,
            sent=self.sent,
            failed=self.failed,
            pending=self.pending,
            acked=self.acked,
            need=self.need,
        )


def selected(msgs: Iterable[MessageRow], prefixes: Sequence[str] | None) -> list[MessageRow]:
    """Messages people receive (no notices to the officer), optionally of some plan only."""
    return [
        m
        for m in msgs
        if m.purpose != Purpose.NOTICE.value
        and (prefixes is None or any(m.key.startswith(p) for p in prefixes))
    ]


def tallies(msgs: Iterable[MessageRow]) -> dict[tuple[str, bool], Tally]:
    """By (audience, drill copy?) in the order they are planned."""
    out: dict[tuple[str, bool], Tally] = {}
    for m in msgs:
        out.setdefault((m.audience, m.sink_for is not None), Tally()).add(m)
    return out


def settled(msgs: Iterable[MessageRow]) -> bool:
    """Every message sent, failed or cancelled, and every acknowledgement asked for is in."""
    return all(
        m.status in FINAL
        and not (m.ack_required and m.status == MessageStatus.SENT.value and m.acked_at is None)
        for m in msgs
    )


def audience_lines(
    lib: Library, row: IncidentRow, msgs: Sequence[MessageRow], lang: str
) -> list[str]:
    """One line per audience: sent of total, failed, acknowledged, waiting, cancelled."""
    lines: list[str] = []
    for (audience, sink), t in tallies(msgs).items():
        name: str = audience_name(lib, row.factory, audience, lang)
        if sink:
            name = say("sink_name", lang, name=name)
        line: str = say("progress_line", lang, name=name, sent=t.sent, total=t.total)
        if t.failed:
            line += say("progress_failed", lang, failed=t.failed)
        if t.need:
            line += say("progress_acked", lang, acked=t.acked, need=t.need)
        if t.pending:
            line += say("progress_waiting", lang, pending=t.pending)
        if t.cancelled:
            line += say("progress_cancelled", lang, cancelled=t.cancelled)
        lines.append(line)
    return lines


def progress_text(
    lib: Library, row: IncidentRow, msgs: Sequence[MessageRow], lang: str, stale: bool = False
) -> str:
    """The progress message: one line per audience, and whether it is all settled."""
    title = f"<b>{say('progress_title', lang, id=row.id)}</b>"
    if row.drill:
        title = say("drill_tag", lang) + title
    lines = [title, *audience_lines(lib, row, msgs, lang)]
    if msgs and settled(msgs):
        lines.append(say("progress_done", lang))
    elif stale:
        lines.append(say("progress_stale", lang, id=row.id))
    return "\n".join(lines)


def _heading(lib: Library, row: IncidentRow, lang: str) -> dict[str, object]:
    return {
        "id": row.id,
        "drill": Html(say("drill_tag", lang)) if row.drill else "",
        "factory": factory_name(lib, row.factory, lang),
        "type": type_name(lib, row.factory, row.incident_type, lang),
        "severity": severity_name(row.severity, lang),
        "when": when(lib, row.opened_at, lang),
    }


def summary_line(lib: Library, row: IncidentRow, msgs: Sequence[MessageRow], lang: str) -> str:
    """One incident in the /status list."""
    total = Tally()
    for m in selected(msgs, None):
        total.add(m)
    return say("status_item", lang, **_heading(lib, row, lang), counts=Html(total.counts(lang)))


def detail_text(lib: Library, row: IncidentRow, msgs: Sequence[MessageRow], lang: str) -> str:
    """/status ID: per audience, who has not acknowledged, who could not be reached."""
    people = selected(msgs, None)
    head = say(
        "status_detail", lang, **_heading(lib, row, lang), status=status_name(row.status, lang)
    )
    lines = [head, "", *audience_lines(lib, row, people, lang)]
    waiting = sorted(
        {
            person_name(lib, m.recipient, lang)
            for m in people
            if m.ack_required and m.status == MessageStatus.SENT.value and m.acked_at is None
        }
    )
    if waiting:
        lines += ["", say("not_acked", lang, names=joined(waiting, lang))]
    failed = [m for m in people if m.status == MessageStatus.FAILED.value]
    if failed:
        lines += ["", say("failures", lang)]
        lines += [
            say(
                "failure_line",
                lang,
                name=person_name(lib, m.recipient, lang),
                audience=audience_name(lib, row.factory, m.audience, lang),
                reason=(m.last_error or "")[:160],
            )
            for m in failed[:20]
        ]
    return "\n".join(lines)
