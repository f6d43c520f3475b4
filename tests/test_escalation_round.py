"""One escalation round on the real samples: what management and the officer read.

Three members of Shahriar Steel's emergency team stay silent past the 5-minute rule: each
gets the alert again on their next channel, management gets **one** message naming all
three (in their language, no audience keys, the rule's 5 minutes), the officer one notice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crisisd.config import load_config
from crisisd.domain import IncidentReport, Purpose
from crisisd.incidents import IncidentService
from crisisd.library.loader import load_library
from crisisd.library.model import Library
from crisisd.scheduler.sweeper import sweep
from crisisd.store import Store
from tests.recording import deliver_due

ROOT = Path(__file__).resolve().parent.parent
TEAM = ("hse.mousavi", "hse.jafari", "hse.nazari")


@pytest.fixture(scope="module")
def samples() -> Library:
    return load_library(load_config(ROOT / "config.yaml"))


async def test_management_gets_one_message_naming_everyone_silent(
    store: Store, samples: Library
) -> None:
    now = [datetime.now(UTC)]
    svc = IncidentService(store, lambda: samples, lambda: now[0])
    opened = await svc.open(
        IncidentReport("shahriar-steel", "fire", "major", "officer.rezaei", details="آتش")
    )
    await deliver_due(store, samples, opened.incident_id, lambda: datetime.now(UTC))
    now[0] += timedelta(minutes=6)

    assert await sweep(svc) == 3
    assert await sweep(svc) == 0  # each alert escalates once

    msgs = await store.messages_of(opened.incident_id)
    escalations = [m for m in msgs if m.purpose == Purpose.ESCALATION]
    resends = [m for m in escalations if m.audience == "emergency_team"]
    told = [m for m in escalations if m.audience == "management"]
    assert sorted(m.recipient for m in resends) == sorted(TEAM)
    management = samples.playbook("shahriar-steel").audiences["management"].members
    assert sorted(m.recipient for m in told) == sorted(management)  # one each, not three each

    for m in told:
        chat = m.rendering(next(iter(m.renderings)))
        team = [samples.directory.contacts[c].name.get(m.lang) for c in TEAM]
        for name in team:
            assert name in chat.text
        assert "emergency_team" not in chat.text and "management" not in chat.text
        if m.lang == "fa":
            assert "۵ دقیقه" in chat.text  # the rule, not the time left after retries
            assert "تشدید" not in chat.text  # does not read as "the fire got worse"
        else:
            assert "5 minutes" in chat.text

    notices = [m for m in msgs if m.purpose == Purpose.NOTICE and "escalated" in m.key]
    assert [m.recipient for m in notices] == ["officer.rezaei"]
    note = notices[0].rendering(next(iter(notices[0].renderings))).text
    assert "emergency_team" not in note and "management" not in note
    assert "تیم واکنش در شرایط اضطراری" in note and "مدیران ارشد" in note
