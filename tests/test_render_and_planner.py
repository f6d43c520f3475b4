"""Rendering of the real samples and the planner's safety rules (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crisisd.cli.app import main
from crisisd.config import load_config
from crisisd.domain import IncidentFacts
from crisisd.library.loader import load_library
from crisisd.library.model import Library
from crisisd.planning.planner import DRILL_PRIORITY_PENALTY, plan_open

ROOT = Path(__file__).parent.parent
OPENED = datetime(2026, 11, 28, 10, 30, tzinfo=ZoneInfo("Asia/Tehran"))  # شنبه ۷ آذر ۱۴۰۵


def samples() -> Library:
    return load_library(load_config(ROOT / "config.yaml"))


def test_samples_validate() -> None:
    result = CliRunner().invoke(main, ["validate", "--config", str(ROOT / "config.yaml")])
    assert result.exit_code == 0, result.output
    assert "shahriar-steel" in result.output


def test_render_drill_in_persian() -> None:
    result = CliRunner().invoke(
        main,
        [
            "render",
            "shahriar-steel",
            "fire",
            "major",
            "--lang",
            "fa",
            "--drill",
            "--at",
            OPENED.isoformat(),
            "--config",
            str(ROOT / "config.yaml"),
            "--details",
            "دود در سالن ۲",
        ],
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "۷ آذر ۱۴۰۵" in out  # Jalali date of the known day, Persian digits
    assert "تمرین" in out  # drill marker in Persian
    assert "\u200f" in out  # RLM on Persian chat text
    assert "SMS part(s)" in out
    assert "DRILL SINK" in out  # press and authorities replaced by the officer


def test_render_unknown_ids_fail_cleanly() -> None:
    result = CliRunner().invoke(
        main, ["render", "shahriar-steel", "fyre", "major", "--config", str(ROOT / "config.yaml")]
    )
    assert result.exit_code == 1
    assert "did you mean 'fire'" in result.output


def facts(lib: Library, **kw: object) -> IncidentFacts:
    base: dict[str, object] = {
        "id": "KMT-479",
        "factory": "shahriar-steel",
        "incident_type": "fire",
        "severity": "critical",
        "reporter": lib.playbook("shahriar-steel").factory.officers[0],
        "opened_at": OPENED,
    }
    base.update(kw)
    return IncidentFacts(**base)  # type: ignore[arg-type]


HOSTILE = ["<b>bold</b>", "{{ 7*7 }}", "{% raw %}x{% endraw %}", "\x00\x1b[31m\u202e", "ب" * 10_000]


def test_hostile_details_are_escaped_never_evaluated() -> None:
    lib = samples()
    for details in HOSTILE:
        plan = plan_open(lib, facts(lib, details=details))
        chats = [m.renderings["chat"].text for m in plan.messages if "chat" in m.renderings]
        assert chats
        for msg in plan.messages:
            budget = lib.playbook("shahriar-steel").audiences[msg.audience].sms_parts
            for kind, r in msg.renderings.items():
                assert "49" not in r.text, "user text was evaluated as a template"
                assert "\x00" not in r.text
                assert "\u202e" not in r.text
                if kind == "chat":
                    assert "<b>bold</b>" not in r.text
                if kind == "sms":
                    assert r.sms_parts <= budget
        if details == "<b>bold</b>":
            assert any("&lt;b&gt;bold&lt;/b&gt;" in text for text in chats)
        if details == "{{ 7*7 }}":
            assert any("{{ 7*7 }}" in text for text in chats)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    factory=st.sampled_from(["shahriar-steel", "malard-paint"]),
    itype=st.sampled_from(["fire", "explosion", "chemical_leak", "injury", "power_outage"]),
    severity=st.sampled_from(["minor", "major", "critical"]),
    drill=st.booleans(),
    minutes=st.integers(0, 600),
)
def test_planner_safety_rules(
    factory: str, itype: str, severity: str, drill: bool, minutes: int
) -> None:
    lib = _LIB
    pb = lib.playbook(factory)
    opened = OPENED + timedelta(minutes=minutes)
    plan = plan_open(
        lib,
        facts(
            lib,
            factory=factory,
            incident_type=itype,
            severity=severity,
            drill=drill,
            opened_at=opened,
            reporter=pb.factory.officers[0],
        ),
    )
    steps = pb.plan_for(itype, severity).steps
    seen: set[tuple[int, str]] = set()
    for msg in plan.messages:
        aud = pb.audiences[msg.audience]
        if drill:
            assert not (aud.external and msg.sink_for is None), (
                "a drill reached an external audience"
            )
            assert msg.recipient in pb.factory.officers or not aud.external
            for r in msg.renderings.values():
                assert ("تمرین" in r.text) or ("DRILL" in r.text), "drill message without marker"
        assert (msg.step, msg.recipient) not in seen, "same step twice for one person"
        seen.add((msg.step, msg.recipient))
        assert msg.not_before == opened + steps[msg.step].after
        assert msg.priority == pb.priority_of(msg.audience) + (
            DRILL_PRIORITY_PENALTY if drill else 0
        )
        assert msg.not_before.tzinfo is not None and msg.not_before.astimezone(UTC)


_LIB = samples()
