"""What the sample statements say about casualties and the place, read off the messages a
sample fire/major sends (fa and en): a report saying "injured" never sends "not yet known"
wording, a count given reaches every text that speaks of casualties, a place picked from
the playbook's list reaches each reader in their language."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from crisisd.config import load_config
from crisisd.domain import Casualties, IncidentFacts, IncidentReport
from crisisd.errors import InvalidReportError
from crisisd.incidents import IncidentService
from crisisd.library.loader import load_library
from crisisd.library.model import Library
from crisisd.planning.planner import plan_open
from crisisd.store import MessageRow, Store
from crisisd.store.tables import incidents

ROOT = Path(__file__).resolve().parent.parent
OPENED = datetime(2026, 11, 28, 14, 46, tzinfo=UTC)
# Wording that says casualties are not known, or that there are none, in either language.
NOT_KNOWN = ("روشن نیست", "در حال بررسی", "نامعلوم", "ادامه دارد", "not yet known",
             "being checked", "still accounting", "unknown")  # fmt: skip
NONE_SAID = ("گزارش نشده", "no injuries", "none reported", "No casualties")


@pytest.fixture(scope="module")
def samples() -> Library:
    return load_library(load_config(ROOT / "config.yaml"))


def _report(casualties: Casualties, count: int | None = None, location: str = "") -> IncidentReport:
    return IncidentReport(
        "shahriar-steel",
        "fire",
        "major",
        "officer.rezaei",
        details="آتش در انبار",
        location=location,
        casualties=casualties,
        casualties_count=count,
    )


def _seen(msg: MessageRow) -> str:
    """Every text the message's reader could be shown, on whichever channel it goes."""
    parts = []
    for kind in msg.renderings:
        r = msg.rendering(kind)
        parts += [r.text, r.html or "", r.subject or ""]
    return "\n".join(parts)


def _of(msgs: list[MessageRow], recipient: str, kind: str) -> str:
    msg = next(m for m in msgs if m.recipient == recipient)
    r = msg.rendering(kind)
    return f"{r.text}\n{r.html or ''}"


@pytest.mark.parametrize("count", [None, 2])
async def test_an_injured_report_says_injured_everywhere(
    store: Store, samples: Library, count: int | None
) -> None:
    svc = IncidentService(store, lambda: samples, lambda: OPENED)
    opened = await svc.open(_report(Casualties.INJURED, count, location="انبار مواد اولیه"))
    msgs = await store.messages_of(opened.incident_id)
    for m in msgs:
        seen = _seen(m)
        assert not [w for w in NOT_KNOWN + NONE_SAID if w in seen], (m.recipient, seen)
    press_fa = _of(msgs, "press.irna", "email")
    press_en = _of(msgs, "press.irna-en", "email")
    team = _of(msgs, "hse.mousavi", "chat")
    if count:
        assert "۲ نفر از همکاران ما آسیب دیده‌اند" in press_fa
        assert "2 of our colleagues have been injured" in press_en
        assert "مصدوم: ۲ نفر" in team
    else:
        assert "شماری از همکاران ما آسیب دیده‌اند" in press_fa
        assert "a number of our colleagues have been injured" in press_en
        assert "مصدوم گزارش شده است" in team
    # The place from the playbook's list, in each reader's language.
    assert "(محدودهٔ انبار مواد اولیه)" in press_fa
    assert "(Raw materials store)" in press_en
    row = await store.get_incident(opened.incident_id)
    assert row is not None and row.location == "انبار مواد اولیه"
    opened_entry = next(e for e in await store.audit_of(row.id) if e.action == "incident.opened")
    assert opened_entry.detail is not None
    assert opened_entry.detail["casualties"] == "injured"
    assert opened_entry.detail["casualties_count"] == count


def _plan_texts(lib: Library, casualties: Casualties, count: int | None) -> dict[str, str]:
    """What each reader would get, by "recipient/kind" (planned; nothing stored)."""
    facts = IncidentFacts(
        "ABC-346",
        "shahriar-steel",
        "fire",
        "major",
        "officer.rezaei",
        OPENED,
        details="آتش در انبار",
        location="جلوی درِ ۳",
        casualties=casualties,
        casualties_count=count,
    )
    return {
        f"{m.recipient}/{kind}": f"{r.text}\n{r.html or ''}"
        for m in plan_open(lib, facts).messages
        for kind, r in m.renderings.items()
    }


def test_fatalities_with_a_count_of_one(samples: Library) -> None:
    texts = _plan_texts(samples, Casualties.FATALITIES, 1)
    assert "یکی از همکاران ما جان باخت" in texts["press.irna/email"]
    assert "one of our colleagues has lost their life" in texts["press.irna-en/email"]
    assert "جان‌باخته: ۱ نفر" in texts["hse.mousavi/chat"]
    assert "Fatalities: 1" in texts["advisor.rossi/email"]
    for text in texts.values():
        assert not [w for w in NOT_KNOWN + NONE_SAID if w in text]
    # A typed place goes as typed (an English reader sees it is not theirs).
    assert "جلوی درِ ۳" in texts["press.irna-en/email"]


def test_none_and_unknown_keep_their_own_wording(samples: Library) -> None:
    none = _plan_texts(samples, Casualties.NONE, None)
    assert "no injuries have been reported so far" in none["press.irna-en/email"]
    assert "تاکنون مصدومی گزارش نشده است" in none["hse.mousavi/chat"]
    unknown = _plan_texts(samples, Casualties.UNKNOWN, None)
    assert "still accounting for all staff" in unknown["press.irna-en/email"]
    assert "وضعیت مصدومان هنوز روشن نیست" in unknown["hse.mousavi/chat"]
    for text in none.values():
        assert "روشن نیست" not in text and "still accounting" not in text


async def test_an_incident_stored_with_yes_reads_as_injured(store: Store, samples: Library) -> None:
    """Rows written before injured and fatalities were told apart said "yes"."""
    svc = IncidentService(store, lambda: samples, lambda: OPENED)
    opened = await svc.open(_report(Casualties.UNKNOWN))
    async with store.engine.begin() as conn:
        await conn.execute(
            sa.update(incidents)
            .where(incidents.c.id == opened.incident_id)
            .values(casualties="yes")
        )
    row = await store.get_incident(opened.incident_id)
    assert row is not None
    facts = svc.facts_of(row)
    assert facts.casualties is Casualties.INJURED
    team = next(m for m in plan_open(samples, facts).messages if m.recipient == "hse.mousavi")
    assert "مصدوم گزارش شده است" in team.renderings["chat"].text


@pytest.mark.parametrize(
    ("casualties", "count", "says"),
    [
        (Casualties.NONE, 2, "goes with 'injured' or 'fatalities'"),
        (Casualties.INJURED, 0, "out of range"),
        (Casualties.FATALITIES, 100_000, "out of range"),
    ],
)
async def test_a_count_that_cannot_be_right_is_refused(
    store: Store, samples: Library, casualties: Casualties, count: int, says: str
) -> None:
    svc = IncidentService(store, lambda: samples, lambda: OPENED)
    with pytest.raises(InvalidReportError, match=says):
        await svc.open(_report(casualties, count))
    assert await store.list_incidents() == []
