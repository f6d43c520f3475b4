"""The roll call in the incident report (a section and a chart) and in the drill score
(time to 50/90/100 % accounted for, who never answered, against the previous drill)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from crisisd.domain import Answer, ack_code
from crisisd.incidents import IncidentService
from crisisd.library.loader import load_library
from crisisd.library.model import Library
from crisisd.reports.incident import (
    drill_score,
    incident_report,
    render_drill_markdown,
    render_drill_text,
    render_html,
    render_markdown,
)
from crisisd.rollcall.service import RollCalls
from crisisd.store import Store
from tests.minitree import T0, Clock, report
from tests.rollcalltree import make_rollcall_tree


@pytest.fixture
def rc_library(tmp_path: Path) -> Library:
    return load_library(make_rollcall_tree(tmp_path / "tree"))


async def _drill(store: Store, lib: Library, start: timedelta, answers: dict[str, int]) -> str:
    """A drill opened at T0+start; each named person answers safe after so many minutes."""
    clock = Clock(T0 + start)
    svc = IncidentService(store, lambda: lib, clock)
    opened = await svc.open(report(drill=True))
    rc = RollCalls(svc)
    for who, minute in sorted(answers.items(), key=lambda kv: kv[1]):
        clock.at = T0 + start + timedelta(minutes=minute)
        code = ack_code(f"{opened.incident_id}/roll_call/0/3/{who}")
        await rc.answer_code(code, Answer.SAFE if who != "staff.b" else Answer.HELP, "bale")
    return opened.incident_id


async def test_a_drill_roll_call_is_scored_and_compared(store: Store, rc_library: Library) -> None:
    first = await _drill(store, rc_library, timedelta(0), {"staff.b": 2, "officer.a": 8})
    second = await _drill(
        store, rc_library, timedelta(days=7), {"staff.b": 1, "officer.a": 3, "boss.c": 6}
    )
    one = await drill_score(store, rc_library, first, None)
    assert one.roll_call is not None
    assert one.roll_call.t50 == timedelta(minutes=8)  # 2 of 3: 50 % needs 2 people
    assert one.roll_call.t100 is None
    assert [en for _, en in one.roll_call.never] == ["Sara Kazemi"]
    two = await drill_score(store, rc_library, second, first)
    assert two.roll_call is not None and two.roll_call.t100 == timedelta(minutes=6)
    text = render_drill_text(two, "en")
    assert "Roll call: 3/3" in text and "Since the previous drill" in text
    assert "Never answered -1" in text
    md = render_drill_markdown(one)
    assert "Roll call" in md and "Sara Kazemi" in md


async def test_the_incident_report_has_the_headcount_and_a_chart(
    store: Store, rc_library: Library
) -> None:
    clock = Clock()
    svc = IncidentService(store, lambda: rc_library, clock)
    opened = await svc.open(report())
    rc = RollCalls(svc)
    clock.at = T0 + timedelta(minutes=3)
    await rc.answer_sms("+989121114455", "2 <script>alert(1)</script> انبار", "webhook")
    doc = await incident_report(store, rc_library, opened.incident_id)
    assert doc.roll_call is not None and doc.roll_call.totals == (0, 1, 2, 0)
    html = render_html(doc)
    assert "<svg" in html and "<script>" not in html and "&lt;script&gt;" in html
    md = render_markdown(doc)
    assert "حضور و غیاب · Roll call" in md and "Ali Bahrami" in md
