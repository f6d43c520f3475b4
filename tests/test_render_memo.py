"""Renderings shared within a plan are exactly what each person would have got alone.

The repository's own playbooks and templates: some read ``recipient`` (an email greeting),
some carry an ack link, most are the same for everyone. Every planned rendering is
compared with a rendering made for that person alone, without sharing.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from crisisd.config import load_config
from crisisd.domain import IncidentFacts, PlannedMessage, Purpose
from crisisd.library.loader import load_library
from crisisd.library.model import Library
from crisisd.planning.planner import plan_open, plan_statement
from crisisd.planning.render import MessageExtras, RenderMemo, render_one

ROOT = Path(__file__).resolve().parents[1]
OPENED = datetime(2026, 11, 28, 10, 30, tzinfo=ZoneInfo("Asia/Tehran"))


@pytest.fixture(scope="module")
def samples() -> Library:
    return load_library(load_config(ROOT / "config.yaml"))


def _alone(lib: Library, facts: IncidentFacts, m: PlannedMessage, ack: str | None) -> dict:  # type: ignore[type-arg]
    pb = lib.playbook(facts.factory)
    step = pb.plan_for(facts.incident_type, facts.severity).steps[m.step]
    aud = pb.audiences[m.audience]
    out = {}
    for kind in m.renderings:
        extra = MessageExtras(
            ack_required=m.ack_required,
            ack_url=ack if m.ack_required else None,
            next_update=None,
        )
        out[kind] = render_one(
            lib, pb, facts, step.template, kind, lib.directory.contacts[m.recipient],
            m.audience, aud.sms_parts, extra,
        )  # fmt: skip
    return out


@pytest.mark.parametrize("factory", ["shahriar-steel", "malard-paint"])
@pytest.mark.parametrize("drill", [False, True])
def test_shared_renderings_equal_renderings_made_alone(
    samples: Library, factory: str, drill: bool
) -> None:
    pb = samples.playbook(factory)
    for itype, spec in pb.incidents.items():
        for severity, sev in spec.severities.items():
            if sev.update_every is not None:
                continue  # the promised update time is compared by the planner's own tests
            facts = IncidentFacts(
                "K7M-42Q", factory, itype, severity, pb.factory.officers[0], OPENED,
                details="آتش در انبار", drill=drill,
            )  # fmt: skip
            plan = plan_open(samples, facts, ack_link=lambda key: f"https://x.example/ack/{key}")
            for m in plan.messages:
                if m.sink_for is not None:
                    continue
                alone = _alone(samples, facts, m, f"https://x.example/ack/{m.key}")
                assert m.renderings == alone, (m.recipient, m.audience)


def test_a_template_that_reads_the_recipient_is_rendered_per_person(samples: Library) -> None:
    pb = samples.playbook("shahriar-steel")
    facts = IncidentFacts("K7M-42Q", "shahriar-steel", "fire", "major", "officer.rezaei", OPENED)
    targets = [
        (aid, cid, ("email",))
        for aid, aud in pb.audiences.items()
        for cid in aud.members
        if samples.directory.contacts[cid].email
    ]
    plan = plan_statement(
        samples, facts, Purpose.ALL_CLEAR, pb.statements.all_clear.template, targets, 0, OPENED
    )
    emails = [m for m in plan.messages if "email" in m.renderings]
    assert len(emails) >= 2
    texts = {m.renderings["email"].text for m in emails}
    names = {samples.directory.contacts[m.recipient].name.get(m.lang) for m in emails}
    assert len(texts) == len(emails)  # each greets its own reader
    assert all(any(n in t for t in texts) for n in names)
    # and a memo used for two people yields each one's own name in To
    memo = RenderMemo()
    a, b = (samples.directory.contacts[m.recipient] for m in emails[:2])
    for person in (a, b):
        r = render_one(
            samples, pb, facts, pb.statements.all_clear.template, "email", person,
            emails[0].audience, 3,
            MessageExtras(), memo=memo,
        )  # fmt: skip
        assert r.to_name == person.name.get(person.lang)
