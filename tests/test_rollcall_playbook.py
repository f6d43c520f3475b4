"""The `roll_call` step kind: validated like any step, planned as questions per person."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crisisd.config import Config, load_config
from crisisd.domain import IncidentFacts, Purpose
from crisisd.errors import ProblemsError
from crisisd.library.loader import load_library
from crisisd.planning.planner import plan_open
from crisisd.problems import Problem
from tests.minitree import T0
from tests.rollcalltree import make_rollcall_tree

PB = "playbooks/mini.yaml"


def _facts(**kw: object) -> IncidentFacts:
    base: dict[str, object] = {
        "id": "RCT-100",
        "factory": "mini",
        "incident_type": "fire",
        "severity": "major",
        "reporter": "officer.a",
        "opened_at": T0,
    }
    base.update(kw)
    return IncidentFacts(**base)  # type: ignore[arg-type]


def _link(key: str) -> str:
    return f"https://crisisd.example/v1/ack/{'A' * 44}#{key}"


def _problems(root: Path) -> list[Problem]:
    old = Path.cwd()
    os.chdir(root)
    try:
        with pytest.raises(ProblemsError) as caught:
            load_library(make_config(root))
    finally:
        os.chdir(old)
    return list(caught.value.problems)


def make_config(root: Path) -> Config:
    return Config(playbooks=root / "playbooks", templates=root / "templates")


def test_a_roll_call_asks_every_member_with_codes_and_a_signed_link(tmp_path: Path) -> None:
    lib = load_library(make_rollcall_tree(tmp_path))
    sev = lib.playbook("mini").plan_for("fire", "major")
    assert [s.audience for s in sev.steps] == ["emergency_team", "management", "press"]
    assert [r.roll_call for r in sev.roll_calls] == ["staff"]
    plan = plan_open(lib, _facts(), _link)
    questions = {m.recipient: m for m in plan.messages if m.purpose is Purpose.ROLL_CALL}
    assert set(questions) == {"staff.b", "boss.c", "officer.a"}
    sms = questions["staff.b"].rendering_for("sms").text
    assert "۱ = سالم هستم، ۲ = کمک لازم دارم" in sms
    assert "/v1/rc/" in sms and "/v1/ack/" not in sms
    email = questions["boss.c"].rendering_for("email")
    assert "?a=safe" in email.text and "?a=help" in email.text
    assert "Are you safe?" in (email.subject or "")
    assert questions["staff.b"].key == "RCT-100/roll_call/0/3/staff.b"
    assert questions["staff.b"].step == 3  # its place in the YAML `steps`


def test_a_drill_roll_call_is_marked(tmp_path: Path) -> None:
    lib = load_library(make_rollcall_tree(tmp_path))
    plan = plan_open(lib, _facts(drill=True), _link)
    questions = [m for m in plan.messages if m.purpose is Purpose.ROLL_CALL]
    assert questions and all(m.drill for m in questions)
    for m in questions:
        for r in m.renderings.values():
            assert "[تمرین]" in r.text or "تمرین" in r.text or "DRILL" in r.text


def test_a_drill_limited_to_other_audiences_asks_nobody(tmp_path: Path) -> None:
    lib = load_library(make_rollcall_tree(tmp_path))
    plan = plan_open(lib, _facts(drill=True, drill_audiences=("management",)), _link)
    assert not [m for m in plan.messages if m.purpose is Purpose.ROLL_CALL]


def test_someone_no_channel_reaches_is_unreachable(tmp_path: Path) -> None:
    lib = load_library(make_rollcall_tree(tmp_path, members="staff.b, worker.f"))
    plan = plan_open(lib, _facts(), _link)
    assert ("staff", "worker.f") in plan.unreachable


@pytest.mark.parametrize(
    ("old", "new", "hint"),
    [
        ("{roll_call: staff,", "{roll_call: stuff,", "did you mean 'staff'"),
        ("{roll_call: staff,", "{roll_call: press,", "external audience"),
        ("channels: [bale, sms, email], within", "channels: [bale, smss], within", "'sms'"),
        ("within: 10m,", "within: soon,", "duration"),
        ("ask_location: true}", "ask_location: true, help_to: emergency_tem}", "emergency_team"),
        ("ask_location: true}", "ask_location: true, asks: 2}", "unknown key 'asks'"),
    ],
)
def test_a_bad_roll_call_is_located(tmp_path: Path, old: str, new: str, hint: str) -> None:
    make_rollcall_tree(tmp_path)
    pb = tmp_path / PB
    text = pb.read_text(encoding="utf-8")
    assert old in text
    pb.write_text(text.replace(old, new, 1), encoding="utf-8")
    problems = _problems(tmp_path)
    line = next(n for n, ln in enumerate(text.splitlines(), 1) if "roll_call:" in ln)
    located = [p for p in problems if p.path.endswith(PB) and p.line == line]
    assert located, "\n".join(p.format() for p in problems)
    assert any(hint in p.format() for p in located), "\n".join(p.format() for p in located)


def test_the_samples_ask_staff_after_fire_explosion_and_leak() -> None:
    lib = load_library(load_config(Path(__file__).parent.parent / "config.yaml"))
    pb = lib.playbook("shahriar-steel")
    for itype in ("fire", "explosion", "chemical_leak"):
        assert [r.roll_call for r in pb.plan_for(itype, "major").roll_calls] == ["staff"]
