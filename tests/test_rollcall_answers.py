"""Roll-call answers on a real store (SQLite and PostgreSQL): buttons, links and SMS replies,
the bad input the issue lists, re-asks and reports by the sweep."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from crisisd.config import Config
from crisisd.domain import Answer, MessageStatus, Purpose, ack_code
from crisisd.errors import PermissionDeniedError, UnknownIncidentError
from crisisd.incidents import IncidentService
from crisisd.library.loader import load_library
from crisisd.library.model import Library
from crisisd.rollcall.headcount import State
from crisisd.rollcall.service import RollCalls
from crisisd.store import Store
from crisisd.store.rollcall import Event, RollCallBook
from tests.minitree import T0, Clock, report
from tests.rollcalltree import make_rollcall_tree

STAFF_B = "+989121114455"  # "0912 111 4455" in the mini directory
OFFICER_A = "+989121112233"


@pytest.fixture
def rc_library(tmp_path: Path) -> Library:
    return load_library(make_rollcall_tree(tmp_path / "tree"))


async def _open(store: Store, lib: Library) -> tuple[RollCalls, str, Clock]:
    clock = Clock()
    svc = IncidentService(store, lambda: lib, clock)
    opened = await svc.open(report())
    return RollCalls(svc), opened.incident_id, clock


def _code(incident_id: str, who: str) -> str:
    return ack_code(f"{incident_id}/roll_call/0/3/{who}")


async def test_a_button_answers_for_its_person_only(store: Store, rc_library: Library) -> None:
    rc, iid, _ = await _open(store, rc_library)
    with pytest.raises(PermissionDeniedError):
        await rc.answer_code(_code(iid, "staff.b"), Answer.SAFE, "bale", presser="boss.c")
    done = await rc.answer_code(_code(iid, "staff.b"), Answer.SAFE, "bale", presser="staff.b")
    assert done.counted and done.contact == "staff.b"
    count = await rc.headcount(iid)
    assert (count.total.safe, count.total.no_answer, count.total.total) == (1, 2, 3)
    assert count.by_audience["staff"].safe == 1
    with pytest.raises(UnknownIncidentError):  # a forged code names no question
        await rc.answer_code("0" * 24, Answer.SAFE, "link")


async def test_sms_help_in_persian_digits_escalates_at_once_then_latest_wins(
    store: Store, rc_library: Library
) -> None:
    rc, iid, _ = await _open(store, rc_library)
    got = await rc.answer_sms("۰۹۱۲ ۱۱۱ ۴۴۵۵", "۲ انبار <b>شماره</b> ۲", "sms:kavenegar")
    assert (got.outcome, got.answer, got.contact) == ("counted", Answer.HELP, "staff.b")
    calls = [m for m in await store.messages_of(iid) if m.purpose is Purpose.ESCALATION]
    assert calls and all(m.ack_required for m in calls)
    chat_or_sms = calls[0].renderings[next(iter(calls[0].renderings))]["text"]
    assert "انبار" in chat_or_sms and STAFF_B in chat_or_sms
    assert (await rc.headcount(iid)).people["staff.b"].state is State.HELP
    again = await rc.answer_sms(STAFF_B, "1", "sms:kavenegar")  # then "I am safe": latest wins
    assert again.counted
    count = await rc.headcount(iid)
    assert count.people["staff.b"].state is State.SAFE and count.total.help == 0
    answers = [e for e in await store.audit_of(iid) if e.action == "rollcall.answer"]
    assert len(answers) == 2  # both audited, counted once


async def test_a_call_for_help_lost_to_a_crash_is_made_by_the_sweep_once(
    store: Store, rc_library: Library
) -> None:
    rc, iid, clock = await _open(store, rc_library)
    # the daemon stopped after recording "need help" and before planning the call for it
    said = Event(
        iid, "staff.b", "answer", "counted", "sms:kavenegar", clock(), Answer.HELP, "انبار"
    )
    await RollCallBook(store).add([said])
    assert [m for m in await store.messages_of(iid) if m.purpose is Purpose.ESCALATION] == []
    clock.at += timedelta(seconds=5)
    await rc.sweep()
    calls = [m for m in await store.messages_of(iid) if m.purpose is Purpose.ESCALATION]
    assert calls and {m.audience for m in calls} == {"emergency_team"}
    assert all(m.ack_required and "انبار" in str(m.renderings) for m in calls)
    first = len(calls)
    await rc.sweep()  # called for once: the mark says so
    await rc.answer_sms(STAFF_B, "2 انبار", "sms:kavenegar")  # the same call again: not repeated
    await rc.sweep()
    calls = [m for m in await store.messages_of(iid) if m.purpose is Purpose.ESCALATION]
    assert len(calls) == first
    marks = [e for e in await RollCallBook(store).events(iid) if e.kind == "escalated"]
    assert len(marks) == 2 and (await rc.headcount(iid)).people["staff.b"].state is State.HELP


@pytest.mark.parametrize(
    ("text", "outcome", "state"),
    [
        ("3", "unreadable", State.NO_ANSWER),  # unknown code
        ("hello there", "unreadable", State.NO_ANSWER),
        ("1 در پارکینگ هستم، همه خوبند", "counted", State.SAFE),  # extra words
        ("سالمم", "counted", State.SAFE),
        ("بله", "counted", State.SAFE),
        ("کمک", "counted", State.HELP),
    ],
)
async def test_reply_words(
    store: Store, rc_library: Library, text: str, outcome: str, state: State
) -> None:
    rc, iid, _ = await _open(store, rc_library)
    got = await rc.answer_sms(OFFICER_A, text, "webhook")
    assert got.outcome == outcome
    assert (await rc.headcount(iid)).people["officer.a"].state is state


async def test_an_unknown_number_is_audited_never_counted(
    store: Store, rc_library: Library
) -> None:
    rc, iid, _ = await _open(store, rc_library)
    got = await rc.answer_sms("+989350000000", "1", "webhook")
    assert got.outcome == "unknown_sender" and not got.counted
    bad = await rc.answer_sms("not a number", "1", "webhook")
    assert bad.outcome == "unknown_sender"
    assert (await rc.headcount(iid)).total.safe == 0
    refused = await rc.book.refused()
    assert {e.outcome for e in refused} == {"unknown_sender"}


async def test_a_number_shared_by_two_people_asked_is_not_counted(
    store: Store, tmp_path: Path
) -> None:
    make_rollcall_tree(tmp_path, members="staff.b, worker.e")
    directory = tmp_path / "playbooks" / "directory.yaml"
    text = directory.read_text(encoding="utf-8").replace('"0912 111 6677"', '"0912 111 4455"')
    directory.write_text(text, encoding="utf-8")
    lib = load_library(Config(playbooks=tmp_path / "playbooks", templates=tmp_path / "templates"))
    rc, iid, _ = await _open(store, lib)
    got = await rc.answer_sms(STAFF_B, "1", "webhook")
    assert got.outcome == "shared_number" and got.incident_id == iid
    assert (await rc.headcount(iid)).total.safe == 0


async def test_a_repeat_of_the_same_inbound_sms_is_recorded_once(
    store: Store, rc_library: Library
) -> None:
    rc, iid, _ = await _open(store, rc_library)
    first = await rc.answer_sms(STAFF_B, "2", "sms:kavenegar", "kavenegar", "m-1")
    again = await rc.answer_sms(STAFF_B, "2", "sms:kavenegar", "kavenegar", "m-1")
    assert (first.outcome, again.outcome) == ("counted", "duplicate")
    assert len([e for e in await rc.book.events(iid) if e.kind == "answer"]) == 1


async def test_after_the_all_clear_an_answer_is_recorded_and_reopens_nothing(
    store: Store, rc_library: Library
) -> None:
    rc, iid, clock = await _open(store, rc_library)
    await rc.service.resolve(iid, "officer.a")
    pending = [m for m in await store.messages_of(iid) if m.purpose is Purpose.ROLL_CALL]
    assert not [m for m in pending if m.status is MessageStatus.PENDING]
    got = await rc.answer_sms(STAFF_B, "2", "webhook")
    assert got.outcome == "after_close"
    assert not [m for m in await store.messages_of(iid) if m.purpose is Purpose.ESCALATION]
    assert (await rc.service.get(iid)).status == "resolved"
    assert (await rc.headcount(iid)).people["staff.b"].late
    clock.at = T0 + timedelta(hours=2)
    assert await rc.sweep() == (0, 0)


async def test_500_answers_at_once_are_all_recorded(store: Store, rc_library: Library) -> None:
    rc, iid, _ = await _open(store, rc_library)
    senders = [STAFF_B, OFFICER_A]
    jobs = [
        rc.answer_sms(senders[i % 2], "1" if i % 3 else "2", "webhook", "load", f"id-{i}")
        for i in range(500)
    ]
    results = await asyncio.gather(*jobs)
    assert all(r.outcome == "counted" for r in results)
    assert len([e for e in await rc.book.events(iid) if e.kind == "answer"]) == 500
    count = await rc.headcount(iid)
    assert count.total.accounted == 2 and count.total.no_answer == 1


async def test_the_sweep_asks_again_then_reports_by_name(store: Store, rc_library: Library) -> None:
    rc, iid, clock = await _open(store, rc_library)
    await rc.answer_code(_code(iid, "staff.b"), Answer.SAFE, "bale")
    clock.at = T0 + timedelta(minutes=9)
    assert await rc.sweep() == (0, 0)  # not yet: 10 minutes to answer
    clock.at = T0 + timedelta(minutes=10)
    assert await rc.sweep() == (2, 0)  # boss.c and officer.a asked again
    assert await rc.sweep() == (0, 0)  # and only once
    again = [m for m in await store.messages_of(iid) if m.key.startswith(f"{iid}/roll_call/1/")]
    assert {m.recipient for m in again} == {"boss.c", "officer.a"}
    clock.at = T0 + timedelta(minutes=14)
    assert await rc.sweep() == (0, 0)
    await rc.answer_sms(OFFICER_A, "۱", "webhook")
    clock.at = T0 + timedelta(minutes=15)
    assert await rc.sweep() == (0, 1)  # boss.c, by name, to the team and management
    notices = [m for m in await store.messages_of(iid) if "rc-missing" in m.key]
    assert {m.audience for m in notices} == {"notice"} and notices
    text = next(iter(notices[0].renderings.values()))["text"]
    assert "Sara Kazemi" in text or "سارا کاظمی" in text
    assert await rc.sweep() == (0, 0)
    assert (await rc.headcount(iid)).people["boss.c"].reported
