"""/drill: reaches no external audience, and every message says it is a drill."""

from __future__ import annotations

from pathlib import Path

from tests.botworld import PTB_RETRY_AFTER, World, confirm, wait_for

MARKS = ("تمرین", "DRILL")

pytestmark = PTB_RETRY_AFTER


async def test_drill_reaches_no_outsider_and_every_message_is_marked(tmp_path: Path) -> None:
    async with World.open(tmp_path) as w:
        officer = w.chat("bale", 1001)
        officer.write("/drill")
        preview, _data = await officer.button("ok", "the drill preview")
        assert "مانور" in preview["text"]
        assert "در مانور چیزی نمی‌گیرند" in preview["text"]  # press: a marked copy to the officer
        incident_id = await confirm(officer)
        await wait_for(lambda: w.settled(incident_id), "the drill fan-out")

        row = await w.store.get_incident(incident_id)
        assert row is not None and row.drill and row.source == "bot:bale"
        msgs = await w.messages(incident_id)
        assert msgs and all(m.drill and not m.external for m in msgs)
        outsiders = {"press"}
        assert not [m for m in msgs if m.audience in outsiders and m.sink_for is None]
        (sink,) = [m for m in msgs if m.sink_for]
        assert sink.recipient == "officer.a"  # the press statement comes to the officer only
        for m in msgs:
            for kind, rendering in m.renderings.items():
                assert any(mark in rendering["text"] for mark in MARKS), (kind, rendering)

        assert w.sb.inbox.query(service="smtp", to="desk@example.com") == []
        delivered = [d for d in w.sb.inbox.query() if d.to != "1001"]
        assert {d.to for d in delivered} >= {"1002", "1003"}  # emergency team, management
        for d in delivered:
            assert any(mark in d.text for mark in MARKS), d
            if d.subject is not None:
                assert any(mark in d.subject for mark in MARKS), d.subject
        sink_copy = [d for d in w.sb.inbox.query(to="1001") if "فرستاده می‌شد" in d.text]
        assert sink_copy and all("تمرین" in d.text for d in sink_copy)
