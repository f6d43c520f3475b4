"""A restart after "Accepted" loses nothing: the fan-out completes from the store."""

from __future__ import annotations

from pathlib import Path

from crisisd.incidents import IncidentService
from crisisd.store import Store
from tests.botworld import PTB_RETRY_AFTER, World, confirm, report, wait_for

pytestmark = PTB_RETRY_AFTER


async def test_restart_after_accepted_loses_nothing(tmp_path: Path) -> None:
    async with World.open(tmp_path, dispatch=False) as w:
        officer = w.chat("bale", 1001)
        await report(officer, "انفجار کوچک در دیگ بخار")
        incident_id = await confirm(officer)
        msgs = await w.messages(incident_id)
        assert len(msgs) == 3 and all(m.status == "pending" for m in msgs)
        assert [d for d in w.sb.inbox.query() if d.to != "1001"] == []  # nothing went out yet

        # The daemon goes down right after "Accepted", and comes back on the same store.
        assert w.bots is not None
        await w.bots.aclose()
        w.bots = None
        await w.store.aclose()
        w.store = Store(w.store.url)
        await w.store.start()
        lib = w.lib
        w.service = IncidentService(w.store, lambda: lib)
        await w.start_dispatcher()

        await wait_for(lambda: w.settled(incident_id), "the fan-out after the restart")
        assert all(m.status == "sent" for m in await w.messages(incident_id))
        assert w.sb.inbox.query(service="bale", to="1002")
        assert w.sb.inbox.query(service="bale", to="1003")
        assert w.sb.inbox.query(service="smtp", to="desk@example.com")
