"""The pure half of the roll-call sweep: who is due to be asked again, who to report.

For each person asked and not answered: once the step's ``within`` has passed since the
first question, a second one goes out on their next channel (the same channels, starting
after the one the first went on); ``reask_every`` after that second question — or after
``within`` for someone no channel reaches — their name goes to ``missing_to``, once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from crisisd.domain import IncidentFacts, Plan, PlannedMessage
from crisisd.planning.rollcall import REASK, question, question_key, reask_channels
from crisisd.planning.sources import Sources
from crisisd.rollcall.headcount import Headcount, State
from crisisd.steps import RollCallStep
from crisisd.store.rollcall import Question

AckLink = Callable[[str], str]


def due_now(
    lib: Sources,
    facts: IncidentFacts,
    questions: list[Question],
    count: Headcount,
    now: datetime,
    ack_link: AckLink | None,
) -> tuple[Plan, dict[int, list[str]]]:
    """(the re-asks to plan, the people to report by roll-call step) at ``now``."""
    pb = lib.playbook(facts.factory)
    entries = pb.plan_for(facts.incident_type, facts.severity).entries
    rounds: dict[tuple[int, str], dict[int, Question]] = {}
    for q in questions:
        rounds.setdefault((q.step, q.contact), {})[q.round] = q
    reasks: list[PlannedMessage] = []
    missing: dict[int, list[str]] = {}
    for (position, contact), asked in sorted(rounds.items()):
        person = count.people.get(contact)
        rc = entries[position] if position < len(entries) else None
        if person is None or person.reported or not isinstance(rc, RollCallStep):
            continue
        if person.state in (State.SAFE, State.HELP) or 0 not in asked:
            continue
        first, second = asked[0], asked.get(REASK)
        if second is not None:
            if now >= second.not_before + rc.reask_every:
                missing.setdefault(position, []).append(contact)
        elif now >= first.not_before + rc.within:
            if first.channels and contact in lib.directory.contacts:
                channels = reask_channels(first.channels, first.channel)
                key = question_key(facts.id, REASK, position, contact)
                reasks.append(
                    question(lib, pb, facts, rc, key, contact, channels, now, ack_link, True)
                )
            elif now >= first.not_before + rc.within + rc.reask_every:
                missing.setdefault(position, []).append(contact)
    return Plan(tuple(reasks)), missing
