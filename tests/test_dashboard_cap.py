"""The CAP 1.2 feed: every non-drill incident as an alert that validates against the
official OASIS schema (tests/data/cap/CAP-v1.2.xsd), an Atom index, drills never shown,
scoped tokens refused another factory's alert (403, audited)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from lxml import etree

from crisisd.dashboard.cap import SEVERITY
from tests.boardworld import ALL_TOKEN, MINI_TOKEN, NORTH_VIEW_TOKEN, Board, start_board

XSD = etree.XMLSchema(etree.parse(str(Path(__file__).parent / "data" / "cap" / "CAP-v1.2.xsd")))
NS = {"cap": "urn:oasis:names:tc:emergency:cap:1.2", "a": "http://www.w3.org/2005/Atom"}
HOSTILE = "<script>alert(1)</script> \u202eevil\u202c & co"


@pytest.fixture
async def board(tmp_path: Path) -> AsyncIterator[Board]:
    async for b in start_board(tmp_path):
        yield b


def _valid(text: str) -> etree._Element:
    doc = etree.fromstring(text.encode("utf-8"))
    XSD.assertValid(doc)
    return doc


async def test_each_state_of_an_incident_is_a_valid_cap_alert(board: Board) -> None:
    iid = await board.open(details=HOSTILE)
    status, text, headers = await board.call("GET", f"/cap/{iid}.xml", token=ALL_TOKEN)
    assert status == 200, text
    assert headers["Content-Type"].startswith("application/cap+xml")
    doc = _valid(text)
    assert doc.findtext("cap:msgType", namespaces=NS) == "Alert"
    assert doc.findtext("cap:status", namespaces=NS) == "Actual"
    assert doc.findtext("cap:identifier", namespaces=NS) == f"{iid}.0"
    infos = doc.findall("cap:info", NS)
    assert [i.findtext("cap:language", namespaces=NS) for i in infos] == ["fa-IR", "en-US"]
    en = infos[1]
    assert en.findtext("cap:severity", namespaces=NS) == "Severe"
    assert en.findtext("cap:urgency", namespaces=NS) == "Immediate"
    assert en.findtext("cap:certainty", namespaces=NS) == "Observed"
    assert en.findtext("cap:category", namespaces=NS) == "Fire"
    assert en.findtext("cap:event", namespaces=NS) == "Fire"
    assert en.findtext("cap:description", namespaces=NS) == HOSTILE  # escaped, kept as text
    assert "<script>" not in text

    board.clock.move(minutes=5)
    await board.service.update(iid, "contained", "officer.a")
    doc = _valid((await board.call("GET", f"/cap/{iid}.xml", token=ALL_TOKEN))[1])
    assert doc.findtext("cap:msgType", namespaces=NS) == "Update"
    assert doc.findtext("cap:identifier", namespaces=NS) == f"{iid}.1"
    assert doc.findtext("cap:references", namespaces=NS).split(",")[1] == f"{iid}.0"

    await board.service.resolve(iid, "officer.a")
    doc = _valid((await board.call("GET", f"/cap/{iid}.xml", token=ALL_TOKEN))[1])
    info = doc.find("cap:info", NS)
    assert info.findtext("cap:responseType", namespaces=NS) == "AllClear"
    assert info.findtext("cap:urgency", namespaces=NS) == "Past"

    other = await board.open()
    await board.service.cancel(other, "officer.a", "by mistake")
    doc = _valid((await board.call("GET", f"/cap/{other}.xml", token=ALL_TOKEN))[1])
    assert doc.findtext("cap:msgType", namespaces=NS) == "Cancel"


async def test_drills_never_appear(board: Board) -> None:
    drill = await board.open(drill=True)
    real = await board.open()
    status, text, _ = await board.call("GET", f"/cap/{drill}.xml", token=ALL_TOKEN)
    assert status == 404
    status, text, headers = await board.call("GET", "/cap/index.atom", token=ALL_TOKEN)
    assert status == 200
    assert headers["Content-Type"].startswith("application/atom+xml")
    feed = etree.fromstring(text.encode())
    links = [e.get("href") for e in feed.findall("a:entry/a:link", NS)]
    assert links == [f"http://crisisd.test/cap/{real}.xml"]
    assert drill not in text


async def test_a_scoped_token_sees_only_its_factories(board: Board) -> None:
    mine = await board.open("mini")
    theirs = await board.open("north")
    status, _, _ = await board.call("GET", f"/cap/{theirs}.xml", token=MINI_TOKEN)
    assert status == 403
    refused = [e for e in await board.store.audit_of(theirs) if e.action == "access.refused"]
    assert [(e.actor, (e.detail or {})["what"]) for e in refused] == [("api:mini", "cap.read")]
    _, text, _ = await board.call("GET", "/cap/index.atom", token=MINI_TOKEN)
    assert mine in text and theirs not in text
    _, text, _ = await board.call("GET", "/cap/index.atom", token=NORTH_VIEW_TOKEN)
    assert theirs in text and mine not in text


async def test_the_feed_needs_a_token_and_pages(board: Board) -> None:
    assert (await board.call("GET", "/cap/index.atom"))[0] == 401
    assert (await board.call("GET", "/cap/index.atom", token="wrong"))[0] == 401
    for _ in range(3):
        await board.open()
    _, text, _ = await board.call("GET", "/cap/index.atom?page=2", token=ALL_TOKEN)
    assert etree.fromstring(text.encode()).findall("a:entry", NS) == []


def test_every_cap_severity_the_mapping_names_is_in_the_schema() -> None:
    allowed = {"Extreme", "Severe", "Moderate", "Minor", "Unknown"}
    assert set(SEVERITY.values()) <= allowed
