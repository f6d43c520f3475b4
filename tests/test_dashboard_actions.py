"""Actions from the dashboard through the incident service: report with preview → confirm,
update, resolve, take over, drill now; each role only what it may, viewers nothing."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from crisisd.domain import IncidentStatus
from tests.boardworld import Board, csrf_of, sign_in, start_board

KEY = re.compile(r'name="key" value="([^"]+)"')


@pytest.fixture
async def board(tmp_path: Path) -> AsyncIterator[Board]:
    async for b in start_board(tmp_path):
        yield b


async def test_an_officer_reports_with_the_same_preview_as_the_bot(board: Board) -> None:
    token = await sign_in(board, "officer.a")
    status, text, _ = await board.call("GET", "/dashboard/trigger")
    assert status == 200
    assert "mini/fire/major" in text and "north/" not in text
    form = {
        "csrf": token,
        "scenario": "mini/fire/major",
        "details": "دود در انبار",
        "location": "انبار",
    }
    status, text, _ = await board.call("POST", "/dashboard/trigger/preview", data=form)
    assert status == 200, text
    assert "== step 1: emergency_team" in text  # planning/preview.py's describe_plan
    assert "دود در انبار" in text
    assert await board.store.list_incidents(statuses=["open"]) == []  # a preview stores nothing
    key = KEY.search(text)
    assert key
    confirm = {**form, "key": key.group(1)}
    for _ in range(2):  # a double click opens one incident
        status, _, headers = await board.call(
            "POST", "/dashboard/trigger/confirm", data=confirm, allow_redirects=False
        )
        assert status == 303
    rows = await board.store.list_incidents(statuses=["open"])
    assert len(rows) == 1
    assert rows[0].source == "dashboard:officer.a"
    assert headers["Location"] == f"/dashboard/incidents/{rows[0].id}"
    assert board.kicks == ["kick", "kick"]  # the sign-in code, then the incident


async def test_an_officer_updates_and_resolves(board: Board) -> None:
    iid = await board.open()
    token = await sign_in(board, "officer.a")
    path = f"/dashboard/incidents/{iid}"
    status, _, _ = await board.call(
        "POST", f"{path}/update", data={"csrf": token, "details": "مهار شد"}, allow_redirects=False
    )
    assert status == 303
    assert (await board.service.get(iid)).update_number == 1
    status, _, _ = await board.call(
        "POST", f"{path}/takeover", data={"csrf": token}, allow_redirects=False
    )
    assert status == 403  # officers do not take over
    status, _, _ = await board.call(
        "POST", f"{path}/resolve", data={"csrf": token}, allow_redirects=False
    )
    assert status == 303
    assert (await board.service.get(iid)).status == IncidentStatus.RESOLVED
    actions = [(e.actor, e.action) for e in await board.store.audit_of(iid)]
    assert ("officer.a", "incident.updated") in actions
    assert ("officer.a", "incident.resolved") in actions
    assert ("officer.a", "access.refused") in actions


async def test_province_takes_over_and_drills_but_does_not_report(board: Board) -> None:
    iid = await board.open("north")
    token = await sign_in(board, "staff.b")
    path = f"/dashboard/incidents/{iid}"
    status, _, _ = await board.call(
        "POST", f"{path}/takeover", data={"csrf": token}, allow_redirects=False
    )
    assert status == 303
    assert (await board.service.get(iid)).status == IncidentStatus.TAKEN_OVER
    assert ("province:staff.b", "incident.taken_over") in [
        (e.actor, e.action) for e in await board.store.audit_of(iid)
    ]
    status, _, _ = await board.call("POST", f"{path}/update", data={"csrf": token, "details": "x"})
    assert status == 403
    # drill now: the form forces a drill for a role that may only drill
    form = {"csrf": token, "scenario": "north/fire/major", "details": "", "location": ""}
    status, text, _ = await board.call("POST", "/dashboard/trigger/preview", data=form)
    assert status == 200 and "DRILL SINK" in text
    key = KEY.search(text)
    assert key
    status, _, headers = await board.call(
        "POST",
        "/dashboard/trigger/confirm",
        data={**form, "key": key.group(1)},
        allow_redirects=False,
    )
    assert status == 303 and headers["Location"].startswith("/dashboard/drills/")
    drill = await board.service.get(headers["Location"].rsplit("/", 1)[1])
    assert drill.drill and drill.factory == "north"


async def test_a_viewer_is_refused_every_action(board: Board) -> None:
    iid = await board.open()
    token = await sign_in(board, "press.d")
    _, text, _ = await board.call("GET", f"/dashboard/incidents/{iid}")
    assert "/resolve" not in text  # no action forms for a viewer
    for action in ("update", "resolve", "takeover"):
        status, _, _ = await board.call(
            "POST", f"/dashboard/incidents/{iid}/{action}", data={"csrf": token, "details": "x"}
        )
        assert status == 403
    assert (await board.call("GET", "/dashboard/trigger"))[0] == 403
    form = {"csrf": token, "scenario": "mini/fire/major", "drill": "1"}
    assert (await board.call("POST", "/dashboard/trigger/confirm", data=form))[0] == 403
    row = await board.service.get(iid)
    assert row.status == IncidentStatus.OPEN and row.update_number == 0
    refused = [e for e in await board.store.audit_of(iid) if e.action == "access.refused"]
    assert len(refused) == 3
    assert await csrf_of(board, "/dashboard/")
