"""Drill scores: how fast and how far a drill's alerts got, and whether that improved.

A score counts the *recipients'* messages: the drill copies of external statements
sent to the reporting officer, and crisisd's notices to the officer, are left out,
since they reach the officer, not the people the drill exercises. The statistics
(time to ack, ack rate, median, nearest-rank p90) are defined in :mod:`crisisd.reports.facts`.

- time to first notification: the first recipient message's ``sent_at`` (the
  ``message.sent`` audit time) minus the incident's ``opened_at``;
- per channel: messages delivered on it, and messages that ended failed with it as
  the last channel tried (failovers that later succeeded elsewhere are not failures);
- never reached: recipients none of whose messages went out, with the last error
  recorded on their messages (a stale number, a bot the person blocked, …);
- the change since the previous drill: this drill's number minus that drill's;
- reachability: per audience, the share of its members their step's first-choice channel
  reached (e.g. Bale, before any failover to SMS), and the recipients whose messenger chat
  is stale now (they blocked the bot: see docs/enrolment.md), by name.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from crisisd.domain import MessageStatus, Purpose
from crisisd.errors import InvalidReportError
from crisisd.library.model import Library
from crisisd.playbook import Playbook
from crisisd.redaction import redact
from crisisd.reports.facts import (
    AudienceSummary,
    Name,
    When,
    acks_of,
    audience_name,
    factory_names,
    incident_row,
    incident_rows,
    median,
    nearest_rank,
    person,
    summarize_audiences,
    when,
)
from crisisd.reports.rollcall import RollCallFacts, roll_call_facts
from crisisd.store import MessageRow, Store
from crisisd.store.bindings import STALE, BindingBook

__all__ = [
    "ChannelTally",
    "DrillDelta",
    "DrillScore",
    "FirstChoice",
    "Unreached",
    "drill_score",
    "previous_drill",
]


@dataclass(frozen=True, slots=True)
class ChannelTally:
    channel: str
    delivered: int
    failed: int


@dataclass(frozen=True, slots=True)
class FirstChoice:
    """How much of an audience its step's first-choice channel reached."""

    audience: Name
    channel: str
    reached: int
    members: int

    @property
    def share(self) -> float | None:
        return self.reached / self.members if self.members else None


@dataclass(frozen=True, slots=True)
class Unreached:
    """A recipient none of whose messages went out."""

    person: Name
    audiences: tuple[Name, ...]
    last_error: str | None
    status: str  # of their latest message: failed, pending, cancelled


@dataclass(frozen=True, slots=True)
class DrillDelta:
    """This drill's numbers minus the previous drill's; a negative time is an improvement."""

    previous_id: str
    previous_opened: When
    first_notification: timedelta | None
    ack_rate_points: float | None  # percentage points
    p90_ack: timedelta | None
    unreachable: int


@dataclass(frozen=True, slots=True)
class DrillScore:
    incident_id: str
    factory: Name
    scenario: Name
    severity: str
    drill: bool
    status: str
    opened: When
    first_notification: timedelta | None
    channels: tuple[ChannelTally, ...]
    audiences: tuple[AudienceSummary, ...]
    unreachable: tuple[Unreached, ...]
    previous: DrillDelta | None = None
    silent: tuple[Name, ...] = ()  # reached and asked to acknowledge, never did
    first_choice: tuple[FirstChoice, ...] = ()
    stale: tuple[Name, ...] = ()  # recipients whose messenger chat is stale now
    roll_call: RollCallFacts | None = None  # its headcount, when it had a roll call
    previous_roll_call: RollCallFacts | None = None  # the previous drill's, to compare

    @property
    def asked(self) -> int:
        return sum(a.asked for a in self.audiences)

    @property
    def acked(self) -> int:
        return sum(a.asked_acked for a in self.audiences)

    @property
    def ack_rate(self) -> float | None:
        """Over every audience membership asked to acknowledge."""
        return self.acked / self.asked if self.asked else None

    @property
    def ack_times(self) -> tuple[timedelta, ...]:
        return tuple(t for a in self.audiences for t in a.ack_times)

    @property
    def median_ack(self) -> timedelta | None:
        return median(self.ack_times)

    @property
    def p90_ack(self) -> timedelta | None:
        return nearest_rank(self.ack_times, 90)


async def previous_drill(store: Store, factory: str, before_id: str) -> str | None:
    """The latest drill of ``factory`` opened before ``before_id``; cancelled drills don't count."""
    before = await incident_row(store, before_id)
    limit = 100
    while True:
        rows = await store.list_incidents(
            statuses=["open", "taken_over", "resolved"], factory=factory, limit=limit
        )
        for row in rows:  # newest first
            if row.drill and row.id != before.id and row.opened_at < before.opened_at:
                return row.id
        if len(rows) < limit:
            return None
        limit *= 4  # all of these were newer than ``before``: look further back


async def drill_score(
    store: Store, lib: Library, incident_id: str, previous_id: str | None
) -> DrillScore:
    """Score a drill and, with ``previous_id`` (see :func:`previous_drill`), compare."""
    score = await _measure(store, lib, incident_id)
    if previous_id is None:
        return score
    prev = await _measure(store, lib, previous_id)
    if prev.factory.id != score.factory.id:
        raise InvalidReportError(
            f"{prev.incident_id} is a drill of {prev.factory.id}, not of {score.factory.id}; "
            "compare drills of the same factory"
        )
    return replace(score, previous=_delta(score, prev), previous_roll_call=prev.roll_call)


def _delta(now: DrillScore, prev: DrillScore) -> DrillDelta:
    def minus(a: timedelta | None, b: timedelta | None) -> timedelta | None:
        return None if a is None or b is None else a - b

    rate = None
    if now.ack_rate is not None and prev.ack_rate is not None:
        rate = (now.ack_rate - prev.ack_rate) * 100
    return DrillDelta(
        previous_id=prev.incident_id,
        previous_opened=prev.opened,
        first_notification=minus(now.first_notification, prev.first_notification),
        ack_rate_points=rate,
        p90_ack=minus(now.p90_ack, prev.p90_ack),
        unreachable=len(now.unreachable) - len(prev.unreachable),
    )


def _is_recipient(m: MessageRow) -> bool:
    return not m.sink_for and m.audience != "notice"


async def _measure(store: Store, lib: Library, incident_id: str) -> DrillScore:
    row, messages, trail = await incident_rows(store, incident_id)
    tz = lib.config.zone
    pb, factory, scenario = factory_names(lib, row)
    mine = [m for m in messages if _is_recipient(m)]
    sent = [m.sent_at for m in mine if m.sent_at is not None]
    tallies: dict[str, list[int]] = {}
    for m in mine:
        if m.status == "sent" and m.sent_channel:
            tallies.setdefault(m.sent_channel, [0, 0])[0] += 1
        elif m.status == "failed":
            tallies.setdefault(m.channel or "—", [0, 0])[1] += 1
    return DrillScore(
        incident_id=row.id,
        factory=factory,
        scenario=scenario,
        severity=redact(row.severity),
        drill=row.drill,
        status=row.status,
        opened=when(row.opened_at, tz),
        first_notification=min(sent) - row.opened_at if sent else None,
        channels=tuple(ChannelTally(redact(c), d, f) for c, (d, f) in sorted(tallies.items())),
        audiences=summarize_audiences(pb, mine, acks_of(lib, trail, mine, tz)),
        unreachable=_unreached(lib, pb, mine),
        silent=_silent(lib, mine),
        first_choice=_first_choice(pb, row.incident_type, row.severity, mine),
        stale=await _stale(store, lib, mine),
        roll_call=await roll_call_facts(store, lib, row),
    )


def _first_choice(
    pb: Playbook | None, itype: str, severity: str, mine: list[MessageRow]
) -> tuple[FirstChoice, ...]:
    """Per audience, in step order: who its first step's first channel reached."""
    if pb is None or itype not in pb.incidents or severity not in pb.incidents[itype].severities:
        return ()
    steps = pb.plan_for(itype, severity).steps
    found: dict[str, tuple[Name, str, set[str], set[str]]] = {}
    for m in sorted(mine, key=lambda m: (m.step, m.id)):
        if m.purpose != Purpose.ALERT or m.step >= len(steps):
            continue
        step = steps[m.step]
        if step.audience != m.audience or not step.channels:
            continue
        _name, first, reached, members = found.setdefault(
            m.audience, (audience_name(pb, m), step.channels[0], set(), set())
        )
        if step.channels[0] != first:
            continue  # the audience's first step decides its first choice
        members.add(m.recipient)
        if m.status == MessageStatus.SENT and m.sent_channel == first:
            reached.add(m.recipient)
    return tuple(
        FirstChoice(name, redact(first), len(reached), len(members))
        for name, first, reached, members in found.values()
    )


async def _stale(store: Store, lib: Library, mine: list[MessageRow]) -> tuple[Name, ...]:
    """Recipients with a stale chat (the messenger refused it) and no working one there."""
    book = BindingBook.of(store)
    await book.load()
    who = {m.recipient for m in mine}
    stale = {
        b.contact
        for b in book.rows
        if b.state == STALE and b.contact in who and book.active(b.contact, b.messenger) is None
    }
    return tuple(person(lib, c) for c in sorted(stale))


def _silent(lib: Library, mine: list[MessageRow]) -> tuple[Name, ...]:
    asked = {m.recipient for m in mine if m.ack_required and m.status == "sent"}
    acked = {m.recipient for m in mine if m.acked_at is not None}
    return tuple(person(lib, r) for r in sorted(asked - acked))


def _unreached(lib: Library, pb: Playbook | None, mine: list[MessageRow]) -> tuple[Unreached, ...]:
    by_person: dict[str, list[MessageRow]] = {}
    for m in sorted(mine, key=lambda m: (m.priority, m.id)):
        by_person.setdefault(m.recipient, []).append(m)
    out = []
    for recipient, ms in by_person.items():
        if any(m.status == "sent" for m in ms):
            continue
        latest = max(ms, key=lambda m: m.id)
        errors = [m.last_error for m in sorted(ms, key=lambda m: m.id) if m.last_error]
        auds = {a.id: a for a in (audience_name(pb, m) for m in ms)}
        out.append(
            Unreached(
                person=person(lib, recipient),
                audiences=tuple(auds.values()),
                last_error=redact(errors[-1]) if errors else None,
                status=latest.status,
            )
        )
    return tuple(out)


# -- rendering --------------------------------------------------------------------------------
