"""The headcount, as a pure function of the questions asked and the answers recorded.

Each person asked is in exactly one state: **safe**, **help** (needs help), **no answer**
(asked, not answered yet) or **unreachable** (no channel reached them and they have not
answered). A person's latest answer wins; answering twice counts once. An answer recorded
after the all-clear still accounts for the person (``late``) but changes nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from crisisd.domain import Answer, MessageStatus

COUNTED = ("counted", "after_close")  # outcomes of answers that count


class State(StrEnum):
    SAFE = "safe"
    HELP = "help"
    NO_ANSWER = "no_answer"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True, slots=True)
class Asked:
    """One roll-call question (an outbox message of purpose roll_call)."""

    contact: str
    audience: str
    step: int
    round: int
    status: MessageStatus
    channels: tuple[str, ...]
    channel: str  # the channel it is on (or was sent on)
    not_before: datetime
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class Said:
    """One recorded event of a roll call (answers; reports of people who never answered)."""

    contact: str
    kind: str  # answer | reported
    answer: Answer | None
    outcome: str
    at: datetime
    via: str = ""
    location: str = ""


@dataclass(frozen=True, slots=True)
class Person:
    contact: str
    audiences: tuple[str, ...]
    state: State
    at: datetime | None = None  # when they answered
    via: str = ""
    location: str = ""
    late: bool = False  # answered after the all-clear
    rounds: int = 1  # how many times they were asked
    reported: bool = False  # named to the emergency team as not answering


@dataclass(slots=True)
class Tally:
    safe: int = 0
    help: int = 0
    no_answer: int = 0
    unreachable: int = 0

    @property
    def total(self) -> int:
        return self.safe + self.help + self.no_answer + self.unreachable

    @property
    def accounted(self) -> int:
        """People who answered, either way."""
        return self.safe + self.help

    def add(self, state: State) -> None:
        setattr(self, state.value, getattr(self, state.value) + 1)


@dataclass(slots=True)
class Headcount:
    people: dict[str, Person] = field(default_factory=dict)
    by_audience: dict[str, Tally] = field(default_factory=dict)
    total: Tally = field(default_factory=Tally)

    def named(self, state: State) -> list[Person]:
        return [p for p in self.people.values() if p.state is state]


def headcount(asked: Iterable[Asked], said: Iterable[Said]) -> Headcount:
    """Who is where, from the questions and the events (any order)."""
    questions: dict[str, list[Asked]] = {}
    for q in asked:
        questions.setdefault(q.contact, []).append(q)
    latest: dict[str, Said] = {}
    reported: set[str] = set()
    for s in sorted(said, key=lambda s: s.at):
        if s.kind == "reported":
            reported.add(s.contact)
        elif s.kind == "answer" and s.outcome in COUNTED and s.answer is not None:
            latest[s.contact] = s
    out = Headcount()
    for contact, qs in questions.items():
        audiences = tuple(dict.fromkeys(q.audience for q in qs))
        person = _person(contact, audiences, qs, latest.get(contact), contact in reported)
        out.people[contact] = person
        out.total.add(person.state)
        for aud in audiences:
            out.by_audience.setdefault(aud, Tally()).add(person.state)
    return out


def _person(
    contact: str, audiences: tuple[str, ...], qs: list[Asked], answer: Said | None, rep: bool
) -> Person:
    rounds = len({(q.step, q.round) for q in qs})
    if answer is not None:
        return Person(
            contact,
            audiences,
            State.SAFE if answer.answer is Answer.SAFE else State.HELP,
            answer.at,
            answer.via,
            answer.location,
            late=answer.outcome == "after_close",
            rounds=rounds,
            reported=rep,
        )
    unreachable = all(not q.channels or q.status is MessageStatus.FAILED for q in qs)
    state = State.UNREACHABLE if unreachable else State.NO_ANSWER
    return Person(contact, audiences, state, rounds=rounds, reported=rep)


def timeline(count: Headcount, start: datetime) -> list[tuple[timedelta, int, int]]:
    """(time since ``start``, safe so far, needing help so far) at each answer, in order:
    the answers-over-time chart of the incident report and the drill score."""
    answered = sorted(
        (p.at, p.state) for p in count.people.values() if p.at is not None and not p.late
    )
    safe = need = 0
    out: list[tuple[timedelta, int, int]] = []
    for at, state in answered:
        safe += state is State.SAFE
        need += state is State.HELP
        out.append((max(at - start, timedelta(0)), safe, need))
    return out


def time_to_share(count: Headcount, start: datetime, share: float) -> timedelta | None:
    """How long until ``share`` (0–1) of the people asked were accounted for; None if never."""
    total = count.total.total
    if total == 0:
        return None
    need = max(1, math.ceil(round(share * total, 6)))  # round: no float drift past a whole
    for elapsed, safe, helped in timeline(count, start):
        if safe + helped >= need:
            return elapsed
    return None
