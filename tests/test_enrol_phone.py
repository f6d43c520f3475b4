"""Enrolment by phone number in the bot, on Bale (Bale mode) and Telegram (Telegram mode),
over the fake Bot API's HTTP control API, on SQLite and PostgreSQL.

Two taps: /start, then "share my number"; the next alert arrives on that messenger and can
be acknowledged. Bad input gets a clear answer and nothing already bound is lost.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from crisisd.bot import BotSettings
from crisisd.store import Store
from crisisd.store.bindings import ACTIVE, RETIRED
from tests.botworld import PTB_RETRY_AFTER
from tests.enrolworld import NEWCOMER_PHONE, EnrolWorld, enrol_world, wait_for
from tests.minitree import report

pytestmark = PTB_RETRY_AFTER
NEW = 7001  # a staff member's messenger id, unknown to crisisd


@pytest.fixture
async def world(tmp_path: Path, store: Store) -> AsyncIterator[EnrolWorld]:
    async with enrol_world(tmp_path, store) as w:
        yield w


def keyboard(record: dict[str, Any]) -> list[dict[str, Any]]:
    markup = record.get("reply_markup") or {}
    return [b for row in markup.get("keyboard", []) for b in row]


async def bindings_of(world: EnrolWorld, contact: str) -> list[tuple[str, int, str, str]]:
    await world.bound.book.load()
    return [(b.messenger, b.chat_id, b.how, b.state) for b in world.bound.book.of_contact(contact)]


@pytest.mark.parametrize(("messenger", "lang"), [("bale", "fa"), ("telegram", "en")])
async def test_two_taps_connect_and_the_next_alert_arrives_and_is_acknowledged(
    tmp_path: Path, store: Store, messenger: str, lang: str
) -> None:
    async with enrol_world(tmp_path, store, alerts_on=messenger) as world:
        await _two_taps(world, messenger, lang)


async def _two_taps(world: EnrolWorld, messenger: str, lang: str) -> None:
    chat = world.chat(messenger, NEW)
    await world.user(messenger, NEW, lang)
    await world.start(messenger, NEW)
    asked = await chat.said("📱")
    [button] = keyboard(asked)
    assert button["request_contact"] is True
    assert ("شماره" in asked["text"]) == (lang == "fa")  # the client's language
    # Persian digits and spaces, as a phone may hand the number over
    await world.share(messenger, NEW, "۰۹۱۲ ۲۲۲ ۳۳۴۴")
    done = await chat.said("نوید نوری")  # staff.n reads Persian (the directory's lang)
    assert "/test" in done["text"]
    assert (done.get("reply_markup") or {}).get("remove_keyboard") is True
    for factory in ("کارخانه کوچک", "کارخانهٔ دیگر"):  # one person in two factories
        assert factory in done["text"]
    assert await bindings_of(world, "staff.n") == [(messenger, NEW, "phone", ACTIVE)]
    [bound] = await world.audit("binding.bound")
    assert bound.detail == {"contact": "staff.n", "chat_id": NEW, "how": "phone"}
    assert "3344" not in json.dumps(bound.detail)

    # The next alert goes to this chat (the directory has no chat id for staff.n) ...
    opened = await world.service.open(report())
    rows = await world.store.messages_of(opened.incident_id)
    [msg] = [m for m in rows if m.recipient == "staff.n" and m.audience == "emergency_team"]
    assert msg.channels == [messenger, "sms"]

    def alert() -> dict[str, Any] | None:
        return next(
            (m for m in chat.messages() if "ack:" in json.dumps(m.get("reply_markup"))), None
        )

    record = await wait_for(alert, "the alert with its ack button")
    data = record["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    body = {"user_id": NEW, "message_id": record["message_id"], "data": data}
    await world.control(messenger, "callback", body)  # ... and is acknowledged there

    async def acked() -> bool:
        rows = await world.store.messages_of(opened.incident_id)
        return any(m.recipient == "staff.n" and m.acked_at for m in rows)

    await wait_for(acked, "the acknowledgement")


async def test_a_number_sent_as_a_json_number_is_read(world: EnrolWorld) -> None:
    """python-bale-bot types Contact.phone_number as an int: Bale may send a number."""
    await world.user("bale", NEW)
    await world.control(
        "bale", "contact", {"user_id": NEW, "phone_number": 989122223344, "contact_user_id": NEW}
    )
    await world.chat("bale", NEW).said("✅ وصل شدید")
    assert await bindings_of(world, "staff.n") == [("bale", NEW, "phone", ACTIVE)]


async def test_someone_elses_number_is_refused_and_nothing_is_stored(world: EnrolWorld) -> None:
    chat = world.chat("bale", NEW)
    await world.user("bale", NEW)
    await world.share("bale", NEW, NEWCOMER_PHONE, owner=NEW + 1)
    await chat.said("خود شما نیست")
    await world.share("bale", NEW, NEWCOMER_PHONE, owner=None)  # a card without a user id
    await wait_for(lambda: len(chat.messages()) == 2, "the second refusal")
    assert await bindings_of(world, "staff.n") == []
    refusals = await world.audit("enrol.refused")
    assert [r.detail["reason"] for r in refusals if r.detail] == ["not_own_contact"] * 2
    assert all("3344" not in json.dumps(r.detail) for r in refusals)


async def test_an_unknown_number_gets_a_polite_answer_and_an_audit_line_without_it(
    world: EnrolWorld,
) -> None:
    chat = world.chat("telegram", NEW)
    await world.user("telegram", NEW, "en")
    await world.share("telegram", NEW, "+98 935 000 1234")
    answer = await chat.said("not in the alerting system")
    assert "PR officer" in answer["text"]  # whom to ask
    [line] = await world.audit("enrol.refused")
    assert line.detail == {"reason": "unknown_number", "matches": 0}
    assert line.actor == f"telegram:{NEW}"
    assert "1234" not in json.dumps(line.detail)
    assert world.bound.book.rows == ()


async def test_a_number_two_contacts_share_binds_neither(world: EnrolWorld) -> None:
    chat = world.chat("bale", NEW)
    await world.user("bale", NEW)
    await world.share("bale", NEW, "09129990000")
    await chat.said("بیش از یک نفر")
    assert await bindings_of(world, "desk.1") == [] and await bindings_of(world, "desk.2") == []


async def test_a_chat_that_is_someone_elses_stays_theirs(world: EnrolWorld) -> None:
    """staff.b's directory chat (1002) shares staff.n's number: 1002 keeps getting staff.b's
    alerts, and staff.n is not bound to it."""
    chat = world.chat("bale", 1002)
    await world.share("bale", 1002, NEWCOMER_PHONE)
    answer = await chat.said("علی بهرامی")
    assert "یک نفر" in answer["text"]
    assert await bindings_of(world, "staff.n") == []
    assert world.bound().directory.contacts["staff.b"].chats["bale"] == 1002


async def test_blocked_then_started_again_reconnects_without_the_number(world: EnrolWorld) -> None:
    chat = world.chat("bale", NEW)
    await world.user("bale", NEW)
    await world.share("bale", NEW, NEWCOMER_PHONE)
    await chat.said("✅")
    at = world.service.clock()
    await world.bound.book.stale(
        "staff.n", "bale", NEW, "forbidden: bot was blocked by the user", at, "crisisd"
    )
    assert "bale" not in world.bound().directory.contacts["staff.n"].chats
    before = chat.last_id()
    await world.start("bale", NEW)
    await chat.said("دوباره وصل شدید", after=before)
    assert await bindings_of(world, "staff.n") == [("bale", NEW, "phone", ACTIVE)]
    assert world.bound().directory.contacts["staff.n"].chats == {"bale": NEW}


async def test_start_from_a_connected_chat_says_so(world: EnrolWorld) -> None:
    chat = world.chat("bale", 1002)  # staff.b, from the directory
    await world.start("bale", 1002)
    answer = await chat.said("پیش‌تر وصل شده")
    assert "علی بهرامی" in answer["text"]
    assert world.bound.book.rows == ()


async def test_stop_asks_first_then_unbinds_and_the_officer_is_told(world: EnrolWorld) -> None:
    chat = world.chat("bale", NEW)
    await world.user("bale", NEW)
    await world.share("bale", NEW, NEWCOMER_PHONE)
    await chat.said("✅")
    await world.control("bale", "message", {"user_id": NEW, "text": "/stop"})
    question = await chat.said("متوقف شود")
    assert "پیامک" in question["text"]  # where the alerts would go instead
    keep, stop = (b["callback_data"] for b in reversed(buttons(question)))
    await world.control(
        "bale", "callback", {"user_id": NEW, "message_id": question["message_id"], "data": keep}
    )
    await chat.said("تغییری نکرد")
    assert await bindings_of(world, "staff.n") == [("bale", NEW, "phone", ACTIVE)]

    await world.control("bale", "message", {"user_id": NEW, "text": "/stop"})
    question = await chat.said("متوقف شود", after=question["message_id"])
    await world.control(
        "bale", "callback", {"user_id": NEW, "message_id": question["message_id"], "data": stop}
    )
    await chat.said("متوقف شد.")
    assert await bindings_of(world, "staff.n") == [("bale", NEW, "phone", RETIRED)]
    opened = await world.service.open(report())
    [msg] = [
        m for m in await world.store.messages_of(opened.incident_id) if m.recipient == "staff.n"
    ]
    assert msg.channels == ["sms"]
    # officer.a (mini) and officer.z, officer.y (other) hear it, on their chats
    officer = world.chat("bale", 1001)
    told = await officer.said("/stop")
    assert "نوید نوری" in told["text"]


def buttons(record: dict[str, Any]) -> list[dict[str, Any]]:
    markup = record.get("reply_markup") or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


async def test_stop_in_a_directory_chat_stops_the_directory_chat_too(world: EnrolWorld) -> None:
    chat = world.chat("bale", 1002)
    await world.control("bale", "message", {"user_id": 1002, "text": "/stop"})
    question = await chat.said("متوقف شود")
    stop = buttons(question)[0]["callback_data"]
    await world.control(
        "bale", "callback", {"user_id": 1002, "message_id": question["message_id"], "data": stop}
    )
    await chat.said("متوقف شد.")
    assert await bindings_of(world, "staff.b") == [("bale", 1002, "directory", RETIRED)]
    assert "bale" not in world.bound().directory.contacts["staff.b"].chats
    before = chat.last_id()
    await world.start("bale", 1002)  # and back again
    await chat.said("دوباره وصل شدید", after=before)
    assert world.bound().directory.contacts["staff.b"].chats["bale"] == 1002


async def test_a_flood_of_start_is_bounded_and_loses_nothing(tmp_path: Path, store: Store) -> None:
    """The bot's flood control (here 8 updates a minute) and the attempts limit (6 numbers
    or invite tokens an hour) bound the answers and the audit lines."""
    async with enrol_world(tmp_path, store, BotSettings(flood_per_minute=8)) as world:
        await _flood(world)


async def _flood(world: EnrolWorld) -> None:
    stranger, member, prober = (world.chat("bale", NEW + i) for i in range(3))
    for i in range(3):
        await world.user("bale", NEW + i)
    await world.share("bale", NEW + 1, NEWCOMER_PHONE)
    await member.said("✅")
    for _ in range(30):
        await world.start("bale", NEW)
        await world.start("bale", NEW + 1)
    for _ in range(12):  # shared numbers are attempts: a few an hour
        await world.share("bale", NEW + 2, "+98 935 000 1234")
    await stranger.said("پیام‌های زیادی فرستادید")  # the bot's flood control, said once
    await member.said("پیام‌های زیادی فرستادید")
    await prober.said("تلاش‌ها بیش از حد")
    await prober.said("پیام‌های زیادی فرستادید")
    assert len(stranger.messages()) == 9  # 8 answers and the warning, then silence
    assert len(member.messages()) == 9  # connected, 7 answers, the warning
    assert len(prober.messages()) == 8  # 6 answers, "too many attempts", the warning
    assert len(await world.audit("enrol.refused")) == 7  # no line for a bare /start
    assert await bindings_of(world, "staff.n") == [("bale", NEW + 1, "phone", ACTIVE)]


async def test_start_in_a_group_asks_for_a_private_chat(world: EnrolWorld) -> None:
    await world.control("bale", "users", {"id": -500, "first_name": "shift", "type": "group"})
    await world.control("bale", "message", {"chat_id": -500, "user_id": 1002, "text": "/start"})
    await world.chat("bale", -500).said("خصوصی")
    assert world.bound.book.rows == ()
