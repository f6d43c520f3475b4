"""The dashboard's pages over real HTTP: what each role sees, hostile text shown as text,
the incident page's charts and exact texts, drills, reachability, and 10,000 incidents
paged."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from crisisd.domain import Answer, Purpose
from crisisd.rollcall.service import RollCalls
from crisisd.store.tables import incidents
from tests.boardworld import Board, sign_in, start_board
from tests.rollcalltree import make_rollcall_tree

HOSTILE = '<script>alert("x")</script> \u202eevil\u202c'
ROWS = re.compile(r"<tr class=\"sev-")


@pytest.fixture
async def board(tmp_path: Path) -> AsyncIterator[Board]:
    async for b in start_board(tmp_path):
        yield b


async def test_province_sees_every_factory_and_no_headcount_without_a_roll_call(
    board: Board,
) -> None:
    mini, north = await board.open("mini"), await board.open("north")
    await sign_in(board, "staff.b")  # province staff (config)
    status, text, _ = await board.call("GET", "/dashboard/")
    assert status == 200
    assert mini in text and north in text
    assert "کارخانه کوچک" in text and "کارخانه شمال" in text
    assert '<td class="headcount" title="' in text and "حضور و غیاب" in text
    assert re.search(r'<td class="headcount"[^>]*>—</td>', text)  # nobody was asked
    assert "مانورهای پیش رو" in text  # upcoming drills (cron in the playbooks)
    assert "آمادگی کارخانه‌ها" in text
    status, live, _ = await board.call("GET", "/dashboard/live/overview", headers={"X-Live": "1"})
    assert status == 200 and mini in live and "<html" not in live


async def test_the_headcount_of_a_roll_call_in_the_overview_and_on_the_incident(
    tmp_path: Path,
) -> None:
    async for board in start_board(tmp_path, tree=make_rollcall_tree):
        iid = await board.open("mini")  # fire/major asks staff: staff.b, boss.c, officer.a
        await sign_in(board, "staff.b")
        _, text, _ = await board.call("GET", "/dashboard/")
        assert re.search(r'<td class="headcount"[^>]*>۰/۳</td>', text)  # answered / asked
        asked = [m for m in await board.store.messages_of(iid) if m.purpose is Purpose.ROLL_CALL]
        calls = RollCalls(board.service)
        await calls.answer_code(asked[0].ack_code, Answer.HELP, "test", location="انبار")
        await calls.answer_code(asked[1].ack_code, Answer.SAFE, "test")
        _, text, _ = await board.call("GET", "/dashboard/")
        assert re.search(r'<td class="headcount"[^>]*>۲/۳ · 🆘 ۱</td>', text)
        _, page, _ = await board.call("GET", f"/dashboard/incidents/{iid}")
        assert re.search(r'<dd class="headcount"[^>]*>۲/۳ · 🆘 ۱</dd>', page)


async def test_an_officer_sees_only_their_factory_and_is_refused_another(board: Board) -> None:
    mini, north = await board.open("mini"), await board.open("north")
    await sign_in(board, "officer.a")
    _, text, _ = await board.call("GET", "/dashboard/")
    assert mini in text and north not in text
    status, text, _ = await board.call("GET", f"/dashboard/incidents/{north}")
    assert status == 403
    assert "<html" in text and 'dir="rtl"' in text
    refused = [e for e in await board.store.audit_of(north) if e.action == "access.refused"]
    assert [(e.actor, (e.detail or {})["what"]) for e in refused] == [
        ("officer.a", "dashboard.read")
    ]


async def test_hostile_details_are_shown_as_text(board: Board) -> None:
    iid = await board.open(details=HOSTILE, location="<b>hall</b>")
    await sign_in(board, "officer.a")
    _, text, _ = await board.call("GET", f"/dashboard/incidents/{iid}")
    assert "<script>alert" not in text and "<b>hall</b>" not in text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in text
    assert "\u202eevil\u202c" in text  # kept, inside <bdi>: it cannot reorder the page
    assert re.search(r"<bdi>[^<]*\u202eevil", text)


async def test_the_incident_page_has_charts_texts_and_tasks(board: Board) -> None:
    iid = await board.open()
    await sign_in(board, "officer.a")
    _, text, _ = await board.call("GET", f"/dashboard/incidents/{iid}")
    assert text.count("<svg") >= 2 and "<polyline" in text  # one chart per audience
    assert "emergency_team" in text and "management" in text
    assert "گزارش به تأمین اجتماعی" in text  # the task, with its due date
    assert "کارخانه کوچک: آتش‌سوزی" in text  # the exact text of the alert
    assert 'data-live="/dashboard/live/incidents/' in text
    status, live, _ = await board.call(
        "GET", f"/dashboard/live/incidents/{iid}", headers={"X-Live": "1"}
    )
    assert status == 200 and "<polyline" in live


async def test_the_drill_page_compares_with_the_previous_drill(board: Board) -> None:
    first = await board.open(drill=True)
    board.clock.move(days=7)
    second = await board.open(drill=True)
    await sign_in(board, "officer.a")
    status, text, _ = await board.call("GET", f"/dashboard/drills/{second}")
    assert status == 200, text
    assert first in text
    assert "کسانی که پاسخ ندادند" in text


async def test_the_contacts_page_shows_reachability_per_audience(board: Board) -> None:
    await sign_in(board, "staff.b")
    status, text, _ = await board.call("GET", "/dashboard/contacts?factory=north")
    assert status == 200
    assert "emergency_team" in text or "management" in text
    assert "<svg" in text


async def test_ten_thousand_incidents_stay_paged(board: Board) -> None:
    base = board.clock.now
    rows = [
        {
            "id": f"ZZ-{i:05d}",
            "factory": "mini" if i % 2 else "north",
            "incident_type": "fire",
            "severity": "major",
            "status": "open" if i % 3 else "resolved",
            "drill": False,
            "reporter": "officer.a",
            "source": "test",
            "details": "",
            "location": "",
            "casualties": "unknown",
            "opened_at": base - timedelta(minutes=i),
            "updated_at": base - timedelta(minutes=i),
            "update_number": 0,
            "update_details": "",
            "reported": False,
        }
        for i in range(10_000)
    ]
    async with board.store.engine.begin() as conn:
        await conn.execute(sa.insert(incidents), rows)
    await sign_in(board, "staff.b")
    status, text, _ = await board.call("GET", "/dashboard/")
    assert status == 200
    assert len(ROWS.findall(text)) == 50
    assert "ZZ-00001" in text and "ZZ-00100" not in text
    status, text, _ = await board.call("GET", "/dashboard/incidents?status=all&page=200")
    assert status == 200
    assert len(ROWS.findall(text)) == 50
    assert "ZZ-09999" in text
    assert "۱۰٬۰۰۰" in text or "۱۰۰۰۰" in text  # the total, in Persian digits
    status, _, _ = await board.call("GET", "/dashboard/incidents?page=x")
    assert status == 400
