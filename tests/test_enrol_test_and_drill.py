"""/test sends a connected person a test alert with an acknowledge button (no incident, not
counted); a drill's score adds reachability: the share of each audience its first-choice
channel reached, and the people whose chat is stale, by name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from crisisd.enrolment.directory import BoundLibrary
from crisisd.incidents import IncidentService
from crisisd.library.loader import load_library
from crisisd.reports.drill import drill_score
from crisisd.reports.drill_text import render_drill_markdown, render_drill_text
from crisisd.store import OutcomeFailover, OutcomeSent, Store
from tests.botworld import PTB_RETRY_AFTER
from tests.enrolworld import NEWCOMER_PHONE, EnrolWorld, enrol_world, make_enrol_tree, wait_for
from tests.minitree import T0, Clock, report

NEW = 7001


@pytest.fixture
async def world(tmp_path: Path, store: Store) -> AsyncIterator[EnrolWorld]:
    async with enrol_world(tmp_path, store) as w:
        yield w


@PTB_RETRY_AFTER
async def test_test_sends_a_test_alert_that_can_be_acknowledged(world: EnrolWorld) -> None:
    chat = world.chat("bale", NEW)
    await world.user("bale", NEW)
    await world.share("bale", NEW, NEWCOMER_PHONE)
    await chat.said("✅ وصل شدید")
    await world.control("bale", "message", {"user_id": NEW, "text": "/test"})
    alert = await chat.said("هشدار آزمایشی")
    [[button]] = alert["reply_markup"]["inline_keyboard"]
    assert button["text"] == "✅ دریافت شد"  # as under a real alert
    body = {"user_id": NEW, "message_id": alert["message_id"], "data": button["callback_data"]}
    query = await world.control("bale", "callback", body)
    assert "موفق" in await chat.answer(query["callback_query"])
    stamped = await wait_for(
        lambda: "آزمایش موفق بود" in (chat.messages()[-1]["text"] if chat.messages() else ""),
        "the stamp",
    )
    assert stamped
    assert await world.store.list_incidents() == []  # no incident, nothing counted
    [row] = world.bound.book.of_contact("staff.n")
    assert row.last_delivery_at is not None
    [entry] = await world.audit("enrol.test_acknowledged")
    assert entry.detail == {"contact": "staff.n", "chat_id": NEW}


@PTB_RETRY_AFTER
async def test_test_from_a_chat_nobody_connected(world: EnrolWorld) -> None:
    chat = world.chat("telegram", NEW)
    await world.user("telegram", NEW, "en")
    await world.control("telegram", "message", {"user_id": NEW, "text": "/test"})
    await chat.said("not connected to anyone")


async def test_a_drill_score_says_who_the_first_choice_reached_and_who_is_stale(
    tmp_path: Path, store: Store
) -> None:
    base = load_library(make_enrol_tree(tmp_path / "tree"))
    bound = await BoundLibrary.start(store, lambda: base)
    service = IncidentService(store, bound, Clock())
    await bound.book.bind("staff.n", "bale", NEW, "phone", T0, "bale:7001")
    blocked = "forbidden: Forbidden: bot was blocked by the user"
    await bound.book.stale("staff.n", "bale", NEW, blocked, T0, "crisisd")
    opened = await service.open(report(drill=True))
    claimed = {m.recipient: m for m in await store.claim("w1", T0, 100, timedelta(minutes=1))
               if m.audience in ("emergency_team", "management")}  # fmt: skip
    at = T0 + timedelta(seconds=3)

    def sent(who: str, channel: str) -> OutcomeSent:
        m = claimed[who]
        kind = "chat" if channel == "bale" else channel
        return OutcomeSent(m.id, channel, at, "p", opened.incident_id, who, m.rendering(kind))

    e = claimed["staff.e"]
    await store.record(
        [
            sent("staff.b", "bale"),
            sent("staff.n", "sms"),  # planned on SMS only: its Bale chat is stale
            sent("boss.c", "bale"),
            OutcomeFailover(e.id, "sms", at, "kavenegar: 411 receptor invalid", 1, "email"),
        ],
        "w1",
    )
    score = await drill_score(store, bound(), opened.incident_id, None)
    firsts = {f.audience.id: (f.channel, f.reached, f.members) for f in score.first_choice}
    assert firsts == {"emergency_team": ("bale", 1, 3), "management": ("bale", 1, 1)}
    assert [s.id for s in score.stale] == ["staff.n"]
    en, fa = render_drill_text(score, "en"), render_drill_text(score, "fa")
    assert "Reached on the first-choice channel:" in en
    assert "33% (1 of 3) on Bale" in en and "Blocked the bot (1): Navid Nouri" in en
    assert "رسیده با کانال نخست" in fa and "نوید نوری" in fa
    md = render_drill_markdown(score)
    assert "reachability" in md and "Navid Nouri" in md
