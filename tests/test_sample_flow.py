"""The sample fire/major at Shahriar Steel, end to end on the real dispatcher, read in both
languages: alerts → holding statement → update → all-clear, every text as a reader sees it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crisisd.config import load_config
from crisisd.domain import IncidentReport, Purpose, UpdateTexts
from crisisd.incidents import IncidentService
from crisisd.library.loader import load_library
from crisisd.library.model import Library
from crisisd.store import MessageRow, Store
from tests.recording import deliver_due

ROOT = Path(__file__).resolve().parent.parent
OPENED = datetime(2026, 11, 28, 14, 46, tzinfo=UTC)  # Saturday 18:16 in Tehran
PERSIAN = re.compile(r"[\u0600-\u06ff]")
KEYS = ("emergency_team", "management", "authorities", "press", "staff")


@pytest.fixture(scope="module")
def samples() -> Library:
    return load_library(load_config(ROOT / "config.yaml"))


def texts_of(m: MessageRow) -> list[str]:
    out = []
    for kind in m.renderings:
        r = m.rendering(kind)
        out += [r.text, r.subject or ""]
    return out


def check_language(m: MessageRow) -> None:
    for text in texts_of(m):
        if m.lang == "en":  # the officer's Persian words only with a label
            for line in text.splitlines():
                assert not PERSIAN.search(line) or "(in Persian)" in line, (m.key, line)
        else:
            for key in KEYS:
                assert key not in text, (m.key, key, text)
            assert " · " not in text, (m.key, text)


async def test_fire_major_in_both_languages(store: Store, samples: Library) -> None:
    now = [OPENED]
    svc = IncidentService(store, lambda: samples, lambda: now[0])
    report = IncidentReport(
        "shahriar-steel", "fire", "major", "officer.rezaei",
        details="آتش در انبار مواد اولیه، سالن ۲", location="سالن ۲",
    )  # fmt: skip
    opened = await svc.open(report)
    iid = opened.incident_id
    await deliver_due(store, samples, iid, lambda: now[0])

    now[0] = OPENED + timedelta(minutes=31)  # the press's holding statement is due
    await deliver_due(store, samples, iid, lambda: now[0])
    press = [m for m in await store.messages_of(iid) if m.audience == "press"]
    assert press and all(m.status == "sent" for m in press)

    now[0] = OPENED + timedelta(minutes=35)
    update = UpdateTexts(
        common="Fire contained",
        groups={"press": {"fa": "آتش مهار شد", "en": "The fire is contained."}},
    )
    await svc.update(iid, update, "officer.rezaei")
    await deliver_due(store, samples, iid, lambda: now[0])

    now[0] = OPENED + timedelta(minutes=50)
    await svc.resolve(iid, "officer.rezaei")
    await deliver_due(store, samples, iid, lambda: now[0])

    msgs = await store.messages_of(iid)
    told = {m.recipient for m in msgs if m.purpose == Purpose.ALERT and m.status == "sent"}
    cleared = {m.recipient for m in msgs if m.purpose == Purpose.ALL_CLEAR}
    assert cleared == told  # everyone who heard, nobody else
    for m in msgs:
        if m.purpose != Purpose.NOTICE:
            check_language(m)
    english_press = next(
        m for m in msgs if m.recipient == "press.irna-en" and m.purpose == Purpose.UPDATE
    )
    assert "The fire is contained." in english_press.rendering("email").text
