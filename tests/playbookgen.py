"""Hypothesis strategies for whole playbook sets nobody wrote by hand.

A drawn :class:`Drawn` is a contacts directory and one factory's playbook: audiences
(some ``external``), members reachable on some channels only, incident types with steps
that may send an unapproved template outside, update statements and drills limited to
some audiences. :func:`write` puts it beside the mini tree's templates, where only
``statement`` is approved, so crisisd loads it as an operator's files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from crisisd.config import Config

FACTORY = "gen"
PEOPLE = ("p.one", "p.two", "p.three", "p.four", "p.five", "p.six")
CHANNELS = ("bale", "telegram", "sms", "email")
AUDIENCES = ("emergency_team", "staff", "management", "families", "press", "authorities")
TYPES = {"fire": ("آتش‌سوزی", "Fire"), "leak": ("نشت گاز", "Gas leak")}
SEVERITIES = ("minor", "major", "critical")
APPROVED = "statement"  # the mini tree approves this template only
UNAPPROVED = "alert"


@dataclass(frozen=True, slots=True)
class Drawn:
    """A directory and a playbook as the YAML files hold them."""

    directory: dict[str, Any]
    playbook: dict[str, Any]

    @property
    def contacts(self) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = self.directory["contacts"]
        return found

    def reachable(self, person: str, channel: str) -> bool:
        contact = self.contacts[person]
        if channel == "sms":
            return "phone" in contact
        if channel == "email":
            return "email" in contact
        return channel in contact.get("chats", {})

    def sends_unapproved_outside(self) -> bool:
        """Some step or update would give a reachable member of an external audience a text
        from a template nobody approved (crisisd must refuse to load that)."""
        audiences = self.playbook["audiences"]
        routes = [
            (step["audience"], step["template"], step["channels"])
            for itype in self.playbook["incidents"].values()
            for plan in itype["severities"].values()
            for step in plan["steps"]
        ]
        update = self.playbook["statements"]["update"]
        routes += [(aid, update["template"], update["channels"]) for aid in update["audiences"]]
        return any(
            audiences[aid].get("external", False)
            and template != APPROVED
            and any(self.reachable(m, ch) for m in audiences[aid]["members"] for ch in chans)
            for aid, template, chans in routes
        )


@st.composite
def contact(draw: st.DrawFn, n: int) -> dict[str, Any]:
    # Each way to reach a person is there three times in four: most steps can reach
    # someone, and some people lack the channel a step prefers.
    has = st.sampled_from((True, True, True, False))
    person: dict[str, Any] = {
        "name": {"fa": f"شخص {n}", "en": f"Person {n}"},
        "lang": draw(st.sampled_from(("fa", "en"))),
    }
    chats = {m: 1000 * (i + 1) + n for i, m in enumerate(("bale", "telegram")) if draw(has)}
    if chats:
        person["chats"] = chats
    if draw(has):
        person["phone"] = f"0912 000 {1000 + n}"
    if draw(has):
        person["email"] = f"person{n}@example.com"
    return person


def _subset(items: list[str] | tuple[str, ...], min_size: int = 1) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(items), min_size=min_size, max_size=len(items), unique=True)


@st.composite
def audience(draw: st.DrawFn, name: str, others: list[str]) -> dict[str, Any]:
    external = draw(st.booleans()) if name not in ("press", "authorities") else True
    aud: dict[str, Any] = {"members": draw(_subset(PEOPLE)), "external": external}
    if not external and draw(st.booleans()):
        ack: dict[str, Any] = {"within": draw(st.sampled_from(("2m", "5m", "1h")))}
        if len(others) > 0 and draw(st.booleans()):
            ack["escalate_to"] = draw(st.sampled_from(others))
        aud["ack"] = ack
    aud["sms_parts"] = draw(st.integers(2, 5))
    if draw(st.booleans()):
        aud["priority"] = draw(st.integers(0, 100))
    return aud


@st.composite
def step(draw: st.DrawFn, audiences: dict[str, dict[str, Any]]) -> dict[str, Any]:
    aid = draw(st.sampled_from(sorted(audiences)))
    # Outside, mostly the approved template: a playbook crisisd refuses plans nothing.
    outside = (APPROVED,) * 11 + (UNAPPROVED,)
    templates = outside if audiences[aid]["external"] else (APPROVED, UNAPPROVED)
    out: dict[str, Any] = {
        "audience": aid,
        "template": draw(st.sampled_from(templates)),
        "channels": draw(_subset(CHANNELS)),
        "after": draw(st.sampled_from(("0", "5m", "15m", "1h"))),
    }
    ack = draw(st.sampled_from((None, True, False)))
    if ack is not None:
        out["ack"] = ack
    return out


@st.composite
def drawn(draw: st.DrawFn) -> Drawn:
    """A directory and one factory's playbook, consistent in their references."""
    directory = {"contacts": {p: draw(contact(n)) for n, p in enumerate(PEOPLE, 1)}}
    names = draw(_subset(AUDIENCES))
    audiences = {a: draw(audience(a, [b for b in names if b != a])) for a in names}
    incidents: dict[str, Any] = {}
    for tid in draw(_subset(tuple(TYPES))):
        severities = {
            sev: {"steps": draw(st.lists(step(audiences), min_size=1, max_size=4))}
            for sev in draw(_subset(SEVERITIES))
        }
        fa, en = TYPES[tid]
        incidents[tid] = {"name": {"fa": fa, "en": en}, "severities": severities}
    scenarios = [f"{t}/{s}" for t, it in incidents.items() for s in it["severities"]]
    drills = []
    for scenario in draw(st.lists(st.sampled_from(scenarios), max_size=2)):
        drill: dict[str, Any] = {"cron": "0 10 * * sat", "scenario": scenario}
        if draw(st.booleans()):
            drill["audiences"] = draw(_subset(sorted(audiences)))
        drills.append(drill)
    update_outside = (APPROVED,) * 11 + (UNAPPROVED,)
    playbook = {
        "factory": {
            "id": FACTORY,
            "name": {"fa": "کارخانهٔ آزمون", "en": "Generated Works"},
            "officers": draw(_subset(PEOPLE[:3])),
        },
        "audiences": audiences,
        "incidents": incidents,
        "statements": {
            "update": {
                "template": draw(st.sampled_from(update_outside)),
                "audiences": draw(_subset(sorted(audiences))),
                "channels": draw(_subset(CHANNELS)),
            },
            "all_clear": {"template": APPROVED},
            "takeover": {"template": APPROVED, "spokesperson": {"fa": "سخنگو", "en": "Speaker"}},
        },
        "drills": drills,
    }
    return Drawn(directory, playbook)


def write(found: Drawn, playbooks: Path, templates: Path) -> Config:
    """The drawn files under ``playbooks``; ``templates`` is a mini tree's template folder."""
    playbooks.mkdir(parents=True, exist_ok=True)
    for name, data in (("directory", found.directory), (FACTORY, found.playbook)):
        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
        (playbooks / f"{name}.yaml").write_text(text, encoding="utf-8")
    return Config(playbooks=playbooks, templates=templates)
