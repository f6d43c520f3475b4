"""Invite links: signed, single-use, expiring tokens; planned as notices through the outbox;
opened in the bot (Bale and Telegram modes, over HTTP) they bind without the number.
A replayed, expired, forged, revoked or other-messenger token gets a clear answer."""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from crisisd.cli import main
from crisisd.domain import MessageStatus, Purpose
from crisisd.enrolment.invites import send_invites, who_to_invite
from crisisd.enrolment.tokens import make_token, new_invite_id, read_token
from crisisd.errors import (
    ExpiredInvite,
    ForgedInvite,
    InvalidReportError,
    MalformedInvite,
    NotFoundError,
)
from crisisd.store import Store
from crisisd.store.bindings import ACTIVE
from crisisd.store.invites import InviteBook
from tests.botworld import PTB_RETRY_AFTER
from tests.enrolworld import EnrolWorld, enrol_world
from tests.minitree import T0

ROOT = Path(__file__).resolve().parent.parent
KEY = b"k" * 32
LINK = re.compile(r"https://(t\.me|ble\.ir)/(\w+)\?start=([A-Za-z0-9_-]+)")


# -- tokens ---------------------------------------------------------------------------------


def test_a_token_fits_the_start_parameter_and_reads_back() -> None:
    raw = new_invite_id()
    token = make_token(KEY, raw, T0 + timedelta(days=14))
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", token) and len(token) == 28
    found = read_token(KEY, token, T0)
    assert found.invite_id == raw.hex() and found.expires_at == T0 + timedelta(days=14)


def test_expired_forged_and_malformed_tokens_are_told_apart() -> None:
    token = make_token(KEY, new_invite_id(), T0 + timedelta(days=1))
    with pytest.raises(ExpiredInvite):
        read_token(KEY, token, T0 + timedelta(days=1))
    with pytest.raises(ForgedInvite):
        read_token(b"another key" * 3, token, T0)
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(ForgedInvite):
        read_token(KEY, flipped, T0)
    for bad in ("", "short", token + "x", token[:-1] + "!", "۱" * 28):
        with pytest.raises(MalformedInvite):
            read_token(KEY, bad, T0)


@given(
    st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-",
        min_size=28,
        max_size=28,
    )
)
def test_a_made_up_token_never_reads_as_an_invite(token: str) -> None:
    with pytest.raises((ForgedInvite, MalformedInvite)):
        read_token(KEY, token, T0)


# -- whom, and the outbox -------------------------------------------------------------------


@pytest.fixture
async def world(tmp_path: Path, store: Store) -> AsyncIterator[EnrolWorld]:
    async with enrol_world(tmp_path, store) as w:
        yield w


async def test_who_is_meant_by_a_contact_an_audience_or_a_factory(world: EnrolWorld) -> None:
    lib = world.bound()
    assert who_to_invite(lib, "staff.n") == ["staff.n"]
    both = who_to_invite(lib, audience="emergency_team")  # in both factories: once each
    assert both == ["staff.b", "staff.n", "staff.e"]
    assert who_to_invite(lib, factory="other")[:2] == ["officer.z", "officer.y"]
    assert "press.d" not in who_to_invite(lib, factory="mini")  # external: only when named
    assert who_to_invite(lib, audience="press", factory="mini") == ["press.d"]
    with pytest.raises(NotFoundError, match=r"staff\.n"):
        who_to_invite(lib, "staff.nn")
    with pytest.raises(NotFoundError, match="emergency_team"):
        who_to_invite(lib, audience="emergency-team")
    with pytest.raises(InvalidReportError):
        who_to_invite(lib, "staff.n", factory="mini")


async def test_invites_are_planned_as_notices_on_a_closed_record(world: EnrolWorld) -> None:
    lib = world.bound()
    who = ["staff.n", "staff.e", "staff.b", "boss.c", "press.d", "desk.1"]
    batch = await send_invites(world.store, lib, who, now=world.service.clock(), actor="cli")
    invited = {i.contact: (i.messengers, i.channels) for i in batch.invited}
    assert invited == {
        "staff.n": (("bale", "telegram"), ("sms",)),
        "staff.e": (("bale", "telegram"), ("sms", "email")),
        "boss.c": (("telegram",), ("email",)),  # on Bale already
        "press.d": (("bale", "telegram"), ("email",)),
        "desk.1": (("bale", "telegram"), ("sms",)),
    }
    assert {(s.contact, s.reason) for s in batch.skipped} == {("staff.b", "connected")}
    [record] = {i.record for i in batch.invited}  # all are mini's people: one record
    row = await world.store.get_incident(record)
    assert row is not None and (row.incident_type, row.status, row.reporter) == (
        "enrolment",
        "resolved",
        "cli",
    )
    assert row.closed_at is not None
    assert record not in {r.id for r in await world.store.list_incidents(["open", "taken_over"])}
    messages = await world.store.messages_of(record)
    assert len(messages) == 9 and {m.purpose for m in messages} == {Purpose.NOTICE}
    assert all(m.priority == 90 for m in messages)
    # queued (the world's running dispatcher may already have taken some of them)
    assert all(m.status is not MessageStatus.FAILED for m in messages)
    [sms] = [
        m for m in messages if m.recipient == "staff.n" and "ble.ir" in m.rendering("sms").text
    ]
    text = sms.rendering("sms").text
    host, bot, token = LINK.search(text).groups()  # type: ignore[union-attr]
    assert (host, bot, len(token)) == ("ble.ir", "bale_crisis_100404_bot", 28)
    assert "کارخانه کوچک" in text and sms.rendering("sms").sms_parts <= 3
    [mail] = [
        m for m in messages if m.recipient == "staff.e" and "t.me" in m.rendering("email").text
    ]
    assert "Crisis alerts of Mini Works" in mail.rendering("email").text  # staff.e reads English
    rows = await InviteBook(world.store).of_contact("staff.n")
    assert {r.messenger for r in rows} == {"bale", "telegram"}
    issued = [a.detail or {} for a in await world.audit("invite.issued")]
    assert issued[0]["contact"] == "staff.n" and token not in str(issued)

    again = await send_invites(
        world.store, lib, ["staff.n"], now=world.service.clock(), actor="cli"
    )
    assert again.revoked == 2  # only the newest link works


async def _link(
    world: EnrolWorld,
    contact: str,
    messenger: str,
    now_offset: timedelta = timedelta(0),
    days: int = 14,
) -> str:
    now = world.service.clock() + now_offset
    batch = await send_invites(
        world.store, world.bound(), [contact], now=now, actor="test", days=days
    )
    [invited] = batch.invited
    for m in await world.store.messages_of(invited.record):
        for kind in m.renderings:
            found = LINK.search(m.rendering(kind).text)
            if found and (found.group(1) == "ble.ir") == (messenger == "bale"):
                return found.group(3)
    raise AssertionError("no link")


# -- opening it ---------------------------------------------------------------------------


@pytest.mark.parametrize("messenger", ["bale", "telegram"])
@PTB_RETRY_AFTER
async def test_opening_the_link_binds_without_the_number_once(
    world: EnrolWorld, messenger: str
) -> None:
    token = await _link(world, "staff.n", messenger)
    chat = world.chat(messenger, 8001)
    await world.user(messenger, 8001)
    await world.start(messenger, 8001, token)
    await chat.said("نوید نوری")
    await world.bound.book.load()
    assert [(b.how, b.chat_id, b.state) for b in world.bound.book.of_contact("staff.n")] == [
        ("invite", 8001, ACTIVE)
    ]
    [used] = await world.audit("invite.used")
    assert used.detail == {"invite": used.detail["invite"], "contact": "staff.n", "chat_id": 8001}  # type: ignore[index]

    before = chat.last_id()
    await world.start(messenger, 8001, token)  # the same chat again: already connected
    await chat.said("پیش‌تر وصل شده", after=before)

    replay = world.chat(messenger, 8002)  # forwarded to someone else: used
    await world.user(messenger, 8002)
    await world.start(messenger, 8002, token)
    await replay.said("پیش‌تر از حساب دیگری")
    assert [b.chat_id for b in world.bound.book.of_contact("staff.n")] == [8001]


@PTB_RETRY_AFTER
async def test_expired_forged_revoked_and_other_messenger_links(world: EnrolWorld) -> None:
    chat = world.chat("bale", 8003)
    await world.user("bale", 8003, "en")
    expired = await _link(world, "staff.e", "bale", now_offset=-timedelta(days=2), days=1)
    await world.start("bale", 8003, expired)
    await chat.said("has expired")
    old = await _link(world, "staff.e", "bale")
    await _link(world, "staff.e", "bale")  # a newer one replaces it
    await world.start("bale", 8003, old)
    await chat.said("newer invite")
    telegram = await _link(world, "staff.e", "telegram")
    await world.start("bale", 8003, telegram)
    await chat.said("This link is for Telegram")
    forged = telegram[:-1] + ("A" if telegram[-1] != "A" else "B")
    await world.start("bale", 8003, forged)
    await chat.said("not valid")
    reasons = [r.detail["reason"] for r in await world.audit("enrol.refused") if r.detail]
    assert reasons == [
        "invite_expired",
        "invite_revoked",
        "invite_other_messenger",
        "invite_forged",
    ]
    trail = str(await world.audit("enrol.refused"))
    assert all(t not in trail for t in (old, telegram, forged))
    assert world.bound.book.rows == ()


@PTB_RETRY_AFTER
async def test_a_chat_that_is_someone_elses_does_not_use_the_invite_up(world: EnrolWorld) -> None:
    token = await _link(world, "staff.n", "bale")
    chat = world.chat("bale", 1002)  # staff.b's chat
    await world.start("bale", 1002, token)
    await chat.said("علی بهرامی")
    [row, _] = sorted(
        await InviteBook(world.store).of_contact("staff.n"), key=lambda i: i.messenger
    )
    assert row.messenger == "bale" and row.used_at is None
    newcomer = world.chat("bale", 8004)  # the right person can still use it
    await world.user("bale", 8004)
    await world.start("bale", 8004, token)
    await newcomer.said("نوید نوری")


# -- the command ----------------------------------------------------------------------------


def test_crisisd_invite_on_the_sample_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("playbooks", "templates"):
        shutil.copytree(ROOT / name, tmp_path / name)
    (tmp_path / "config.yaml").write_text(
        (ROOT / "config.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> str:
        result = CliRunner().invoke(
            main, [*args, "--config", "config.yaml"], catch_exceptions=False
        )
        assert result.exit_code == 0, result.output
        return result.output

    out = run("invite", "staff.sadeghi")
    assert "invited staff.sadeghi: bale, telegram — by sms (record " in out
    assert "each link works once" in out
    out = run("invite", "--factory", "shahriar-steel", "--via", "email")
    assert "skipped staff.sadeghi: no phone or email to send the invite to" in out
    assert "skipped mgmt.farahani: already connected on every messenger" in out
    bad = CliRunner().invoke(main, ["invite", "--config", "config.yaml"])
    assert bad.exit_code == 2 and "name a CONTACT" in bad.output
    unknown = CliRunner().invoke(main, ["invite", "staff.sadeqi", "--config", "config.yaml"])
    assert unknown.exit_code == 1 and "staff.sadeghi" in unknown.output
