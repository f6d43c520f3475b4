"""Scoped API tokens: a token for one factory cannot see or act on another's incidents
(403, audited); a viewer token only reads; an Idempotency-Key reused with a different
body answers 422 instead of returning the first incident."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.boardworld import ALL_TOKEN, MINI_TOKEN, NORTH_VIEW_TOKEN, Board, start_board

REPORT: dict[str, Any] = {
    "factory": "mini",
    "type": "fire",
    "severity": "major",
    "reporter": "officer.a",
    "details": "آتش در سالن ۲",
}


@pytest.fixture
async def board(tmp_path: Path) -> AsyncIterator[Board]:
    async for b in start_board(tmp_path):
        yield b


async def _refusals(board: Board, incident_id: str | None = None) -> list[tuple[str, str]]:
    import sqlalchemy as sa

    from crisisd.store.tables import audit

    async with board.store.engine.connect() as conn:
        rows = (
            await conn.execute(sa.select(audit).where(audit.c.action == "access.refused"))
        ).all()
    return [
        (r.actor, r.detail["what"])
        for r in rows
        if incident_id is None or r.incident_id == incident_id
    ]


@pytest.mark.parametrize(
    ("method", "suffix", "body", "action"),
    [
        ("GET", "", None, "read"),
        ("POST", "/updates", {"details": "x"}, "update"),
        ("POST", "/resolve", {}, "resolve"),
        ("POST", "/takeover", {}, "takeover"),
    ],
)
async def test_a_token_for_one_factory_is_refused_anothers_incident(
    board: Board, method: str, suffix: str, body: Any, action: str
) -> None:
    theirs = await board.open("north")
    path = f"/v1/incidents/{theirs}{suffix}"
    status, text, _ = await board.call(method, path, body, token=MINI_TOKEN)
    assert status == 403, text
    error = json.loads(text)["error"]
    assert error["code"] == "forbidden"
    assert "north" in error["message"]
    assert await _refusals(board, theirs) == [("api:mini", action)]
    row = await board.service.get(theirs)
    assert row.status == "open" and row.update_number == 0


async def test_a_token_cannot_open_an_incident_at_another_factory(board: Board) -> None:
    status, text, _ = await board.call(
        "POST",
        "/v1/incidents",
        {**REPORT, "factory": "north", "reporter": "boss.c"},
        token=MINI_TOKEN,
    )
    assert status == 403, text
    assert await _refusals(board) == [("api:mini", "open")]
    assert await board.store.list_incidents() == []
    status, text, _ = await board.call("POST", "/v1/incidents", REPORT, token=MINI_TOKEN)
    assert status == 201, text


async def test_roles_limit_what_a_token_does(board: Board) -> None:
    mine = await board.open("mini")
    north = await board.open("north")
    # officer: no takeover
    status, _, _ = await board.call("POST", f"/v1/incidents/{mine}/takeover", {}, token=MINI_TOKEN)
    assert status == 403
    # viewer: reads its factory, acts on nothing
    status, _, _ = await board.call("GET", f"/v1/incidents/{north}", token=NORTH_VIEW_TOKEN)
    assert status == 200
    status, _, _ = await board.call(
        "POST", f"/v1/incidents/{north}/resolve", {}, token=NORTH_VIEW_TOKEN
    )
    assert status == 403
    # an unscoped token (the default) does everything, as before scopes
    status, _, _ = await board.call("POST", f"/v1/incidents/{north}/takeover", {}, token=ALL_TOKEN)
    assert status == 200


async def test_contacts_of_a_scoped_token_are_its_factories_only(board: Board) -> None:
    status, text, _ = await board.call("GET", "/v1/contacts?factory=north", token=MINI_TOKEN)
    assert status == 403
    status, text, _ = await board.call("GET", "/v1/contacts", token=MINI_TOKEN)
    assert status == 200
    assert "boss.c" in text  # in mini's management audience
    assert all("mini" in row["factories"] for row in json.loads(text))


async def test_an_idempotency_key_reused_with_another_body_is_422(board: Board) -> None:
    key = {"Idempotency-Key": "erp-ticket-9"}
    first = await board.call("POST", "/v1/incidents", REPORT, token=ALL_TOKEN, headers=key)
    again = await board.call("POST", "/v1/incidents", REPORT, token=ALL_TOKEN, headers=key)
    other = await board.call(
        "POST", "/v1/incidents", {**REPORT, "details": "another fire"}, token=ALL_TOKEN, headers=key
    )
    assert (first[0], again[0]) == (201, 200)
    assert json.loads(again[1])["id"] == json.loads(first[1])["id"]
    assert other[0] == 422, other[1]
    error = json.loads(other[1])["error"]
    assert error["code"] == "idempotency_key_reused"
    assert json.loads(first[1])["id"] in error["message"]
    assert len(await board.store.list_incidents()) == 1
