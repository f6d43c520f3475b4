"""The facts and statistics shared by incident reports and drill scores.

Gathered from the store, every string passed through :func:`crisisd.redaction.redact`,
every instant held twice: Jalali with Persian digits and Gregorian in English, in the
daemon's zone. :mod:`crisisd.reports.incident` and :mod:`crisisd.reports.drill` build on these.

Statistics, in both:

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

from crisisd.errors import UnknownIncidentError
from crisisd.formats.timefmt import fa_digits, gregorian, is_persian, jalali
from crisisd.library.model import Library
from crisisd.playbook import Names, Playbook
from crisisd.redaction import redact
from crisisd.reports.rollcall import RollCallFacts
from crisisd.store import AuditEntry, IncidentRow, MessageRow, Store

__all__ = [
    "Ack",
    "AudienceSummary",
    "Name",
    "When",
    "acks_of",
    "audience_name",
    "factory_names",
    "incident_row",
    "incident_rows",
    "median",
    "name_of",
    "nearest_rank",
    "number",
    "pct",
    "person",
    "span",
    "summarize_audiences",
    "when",
]


@dataclass(frozen=True, slots=True)
class When:
    """One instant as people read it: Jalali in Persian digits, Gregorian in English."""

    at: datetime
    fa: str
    en: str

    def get(self, lang: str) -> str:
        return self.fa if is_persian(lang) else self.en


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
        status: list[str] = [m.status for m in ms]
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


def number(value: object, lang: str) -> str:
    """A number in the reader's digits."""
    return fa_digits(value) if is_persian(lang) else str(value)


def pct(rate: float, lang: str) -> str:
    text = f"{rate * 100:.0f}"
    return fa_digits(text) + "٪" if is_persian(lang) else text + "%"


async def incident_row(store: Store, incident_id: str) -> IncidentRow:
    """One incident, its id as typed (any case, spaces around); raises UnknownIncidentError."""
    row = await store.get_incident(incident_id.strip().upper())
    if row is None:
        raise UnknownIncidentError(f"no incident '{incident_id}' — check the id (e.g. KMT-479)")
    return row


async def incident_rows(
    store: Store, incident_id: str
) -> tuple[IncidentRow, list[MessageRow], list[AuditEntry]]:
    row = await incident_row(store, incident_id)
    return row, await store.messages_of(row.id), await store.audit_of(row.id)


def factory_names(lib: Library, row: IncidentRow) -> tuple[Playbook | None, Name, Name]:
    """The playbook (if still loaded), the factory's and the incident type's names."""
    pb = lib.playbooks.get(row.factory)
    factory = name_of(row.factory, pb.factory.name if pb else None)
    kind = pb.incidents.get(row.incident_type) if pb else None
    return pb, factory, name_of(row.incident_type, kind.name if kind else None)


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
    delivery: str | None = None  # SMS receipt: delivered | undelivered | expired
    delivered: When | None = None  # when the provider says so (else when crisisd learned it)


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
    roll_call: RollCallFacts | None = None  # the headcount, when the incident had one
