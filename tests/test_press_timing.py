"""Press timing that holds, read off what the press and staff would receive (real samples).

- a holding statement sent 30 minutes after the fire never promises the next update at or
  before its own sending time;
- an update does not reach the press before its holding statement is due, unless the
  officer says "send now";
- the all-clear reaches only people who heard something: the press, whose statement was
  not due yet, gets nothing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crisisd.config import load_config
from crisisd.domain import IncidentReport, MessageStatus, Purpose, UpdateTexts
from crisisd.incidents import IncidentService
from crisisd.library.loader import load_library
from crisisd.library.model import Library
from crisisd.store import MessageRow, Store
from tests.recording import deliver_due

ROOT = Path(__file__).resolve().parent.parent
OPENED = datetime(2026, 11, 28, 14, 46, tzinfo=UTC)  # 18:16 in Tehran
FIRE = IncidentReport("shahriar-steel", "fire", "major", "officer.rezaei", details="آتش در انبار")


@pytest.fixture(scope="module")
def samples() -> Library:
    return load_library(load_config(ROOT / "config.yaml"))


def _promise(text: str) -> str:
    found = re.search(r"next statement will be issued by (\d\d:\d\d)", text)
    assert found, text
    return found.group(1)


async def test_a_late_holding_statement_promises_an_update_after_it_goes_out(
    store: Store, samples: Library
) -> None:
    svc = IncidentService(store, lambda: samples, lambda: OPENED)
    opened = await svc.open(FIRE)
    msgs = await store.messages_of(opened.incident_id)
    english_press = next(m for m in msgs if m.recipient == "press.irna-en")
    goes_out = english_press.not_before.astimezone(samples.config.zone)
    assert goes_out.strftime("%H:%M") == "18:46"  # after: 30m
    promised = _promise(english_press.rendering("email").text)
    assert promised == "19:16"  # update_every: 30m from its own sending time, not 18:46
    assert promised > goes_out.strftime("%H:%M")


def _press(msgs: list[MessageRow], purpose: Purpose) -> list[MessageRow]:
    return [m for m in msgs if m.audience == "press" and m.purpose == purpose]


async def test_an_early_update_waits_for_the_press_holding_statement(
    store: Store, samples: Library
) -> None:
    now = [OPENED]
    svc = IncidentService(store, lambda: samples, lambda: now[0])
    opened = await svc.open(FIRE)
    now[0] = OPENED + timedelta(minutes=5)
    await svc.update(opened.incident_id, "آتش مهار شد", "officer.rezaei")
    msgs = await store.messages_of(opened.incident_id)
    holding = _press(msgs, Purpose.ALERT)
    updates = _press(msgs, Purpose.UPDATE)
    assert updates, "the press still gets the update, after its first statement"
    first_due = min(m.not_before for m in holding)
    assert all(m.not_before > first_due for m in updates)
    staff = [m for m in msgs if m.audience == "staff" and m.purpose == Purpose.UPDATE]
    assert staff and all(m.not_before == now[0] for m in staff)  # internal: at once


async def test_send_now_reaches_the_press_at_once(store: Store, samples: Library) -> None:
    now = [OPENED]
    svc = IncidentService(store, lambda: samples, lambda: now[0])
    opened = await svc.open(FIRE)
    now[0] = OPENED + timedelta(minutes=5)
    await svc.update(opened.incident_id, "آتش مهار شد", "officer.rezaei", send_now=True)
    updates = _press(await store.messages_of(opened.incident_id), Purpose.UPDATE)
    assert updates and all(m.not_before == now[0] for m in updates)


async def test_the_all_clear_skips_a_press_that_never_heard(store: Store, samples: Library) -> None:
    now = [OPENED]
    svc = IncidentService(store, lambda: samples, lambda: now[0])
    opened = await svc.open(FIRE)
    now[0] = OPENED + timedelta(minutes=10)
    # everything due by then went out; the press statement (after: 30m) was not due yet
    await deliver_due(store, samples, opened.incident_id, lambda: now[0])
    await svc.resolve(opened.incident_id, "officer.rezaei")
    msgs = await store.messages_of(opened.incident_id)
    assert not _press(msgs, Purpose.ALL_CLEAR)
    told = {m.recipient for m in msgs if m.status == MessageStatus.SENT}
    cleared = {m.recipient for m in msgs if m.purpose == Purpose.ALL_CLEAR}
    assert cleared and cleared <= told
    assert all(m.status == MessageStatus.CANCELLED for m in _press(msgs, Purpose.ALERT))


async def test_an_update_worded_per_group_and_language(store: Store, samples: Library) -> None:
    now = [OPENED]
    svc = IncidentService(store, lambda: samples, lambda: now[0])
    opened = await svc.open(FIRE)
    now[0] = OPENED + timedelta(minutes=40)  # the press's holding statement is due by now
    texts = UpdateTexts(
        common="آتش مهار شد",
        groups={
            "staff": {"fa": "کارکنان سالن ۲ در محل تجمع بمانند"},
            "press": {"fa": "آتش مهار شد و مصدومی نداریم", "en": "The fire is out; no injuries."},
        },
    )
    await svc.update(opened.incident_id, texts, "officer.rezaei")
    msgs = [m for m in await store.messages_of(opened.incident_id) if m.purpose == Purpose.UPDATE]

    def text(recipient: str) -> str:
        m = next(m for m in msgs if m.recipient == recipient)
        return m.rendering(next(iter(m.renderings))).text

    assert "در محل تجمع بمانند" in text("staff.ghasemi")  # staff group, Persian
    assert "مصدومی نداریم" in text("press.irna")  # press, Persian
    assert "The fire is out; no injuries." in text("press.irna-en")  # press, English
    english_staff = [
        m.recipient for m in msgs if m.lang == "en" and m.audience in ("management", "staff")
    ]
    for who in english_staff:  # no English staff text: the Persian one, labelled
        assert "(in Persian) کارکنان سالن ۲" in text(who)
