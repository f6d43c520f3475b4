"""Checks of the roll-call steps of a playbook (``crisisd validate``): names that must
exist, channels that must be configured, and questions that would make no sense."""

from __future__ import annotations

from datetime import timedelta

from crisisd.parsing.yamlsource import Document, Loc
from crisisd.playbook import Playbook, SeverityPlan
from crisisd.problems import Problem, did_you_mean


def check_roll_calls(doc: Document, pb: Playbook, where: Loc, channels: set[str]) -> list[Problem]:
    """Problems of the roll calls of the severity at ``where`` (a SeverityPlan)."""
    sev = _severity(pb, where)
    out: list[Problem] = []
    asked: set[str] = set()
    for rc in sev.roll_calls:
        loc: Loc = (*where, "steps", sev.position(rc))
        out.extend(_names(doc, pb, loc, rc.roll_call, rc.help_to, rc.missing_to))
        for i, ch in enumerate(rc.channels):
            if ch not in channels:
                out.append(
                    doc.problem(
                        (*loc, "channels", i),
                        f"unknown channel '{ch}'",
                        did_you_mean(ch, sorted(channels)),
                    )
                )
        aud = pb.audiences.get(rc.roll_call)
        if aud is not None and aud.external:
            out.append(
                doc.problem(
                    (*loc, "roll_call"),
                    f"'{rc.roll_call}' is an external audience; a roll call counts the "
                    "people inside the factory",
                    "ask an internal audience such as staff",
                )
            )
        if rc.roll_call in asked:
            out.append(
                doc.problem(
                    (*loc, "roll_call"),
                    f"'{rc.roll_call}' is asked twice in this severity",
                    "keep one roll call per audience",
                )
            )
        asked.add(rc.roll_call)
        if rc.within <= timedelta(0) or rc.reask_every <= timedelta(0):
            out.append(
                doc.problem(loc, "'within' and 'reask_every' must be longer than 0", "e.g. 10m")
            )
    return out


def _severity(pb: Playbook, where: Loc) -> SeverityPlan:
    _, tid, _, sid = where
    return pb.incidents[str(tid)].severities[str(sid)]


def _names(
    doc: Document, pb: Playbook, loc: Loc, asked: str, help_to: str, missing_to: list[str]
) -> list[Problem]:
    known = list(pb.audiences)
    named: list[tuple[Loc, str]] = [((*loc, "roll_call"), asked), ((*loc, "help_to"), help_to)]
    named += [((*loc, "missing_to", i), a) for i, a in enumerate(missing_to)]
    return [
        doc.problem(at, f"unknown audience '{name}'", did_you_mean(name, known))
        for at, name in named
        if name not in pb.audiences
    ]
