"""The demo's cast beyond the officer: a staff member who blocked the Bale bot, and a
newcomer who connects to it in two taps before the fire.

The newcomer is someone in the sample directory with a phone and no Bale chat id. They
open the bot and press Start, then "📱 Share my number" (the fake Bot API plays their
phone, in process); the officers' bot — the real one, on the fake Bale — binds them, and
the fire's staff alert then reaches them on Bale instead of SMS.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from crisisd.bot import BotSettings, start_bots
from crisisd.context import DaemonContext
from crisisd.delivery.dispatcher import Dispatcher
from crisisd.enrolment.directory import BoundLibrary
from crisisd.errors import CrisisError
from crisisd.incidents import IncidentService
from crisisd.library.model import Library
from crisisd.metrics import Metrics
from crisisd.sandbox.botapi_state import BotApiState
from crisisd.sandbox.runner import Sandbox, sandbox_token
from crisisd.sandbox.trainer_users import newcomer_id
from crisisd.store import MessageRow, Store

MESSENGER = "bale"
WAIT = 15.0  # seconds of real time for the bot to answer


class CastFailed(CrisisError):
    """A cast member did not do what the script says."""


def block_one(lib: Library, botapi: dict[str, BotApiState], factory: str) -> str | None:
    """A staff member who blocked the Bale bot: their alert falls over to SMS."""
    state = botapi.get(MESSENGER)
    pb = lib.playbooks.get(factory)
    if state is None or pb is None or "staff" not in pb.audiences:
        return None
    for cid in pb.audiences["staff"].members:
        contact = lib.directory.contacts.get(cid)
        if contact and MESSENGER in contact.chats and contact.phone:
            state.block(contact.chats[MESSENGER])
            return cid
    return None


def newcomer_of(lib: Library, factory: str) -> str | None:
    """The first staff member with a phone and no Bale chat id."""
    pb = lib.playbooks.get(factory)
    for cid in pb.audiences["staff"].members if pb and "staff" in pb.audiences else []:
        contact = lib.directory.contacts.get(cid)
        if contact and contact.phone and MESSENGER not in contact.chats:
            return cid
    return None


async def connect_newcomer(
    stack: contextlib.AsyncExitStack,
    store: Store,
    svc: IncidentService,
    bound: BoundLibrary,
    sandbox: Sandbox,
    dispatcher: Dispatcher,
    factory: str,
    say: Callable[[str], None],
) -> str | None:
    """Start the bot on the fake Bale and have the newcomer connect; their contact id."""
    lib = bound()
    cid = newcomer_of(lib, factory)
    state = sandbox.botapi.get(MESSENGER)
    messenger = next((m for m in lib.config.messengers if m.name == MESSENGER), None)
    if cid is None or state is None or messenger is None:
        return None

    async def health() -> dict[str, Any]:
        return {"ok": True}

    ctx = DaemonContext(store, svc, Metrics(), bound, health, dispatcher.kick)
    entry = (messenger, sandbox.botapi_urls[MESSENGER], sandbox_token(MESSENGER))
    bots = await start_bots(ctx, [entry], BotSettings(poll_timeout=1.0), dispatcher.pacers)
    stack.push_async_callback(bots.aclose)
    contact = lib.directory.contacts[cid]
    who = f"{contact.name.en} ({cid})"
    uid = newcomer_id(cid)
    if uid not in state.chats:
        state.add_user(uid, contact.name.en, language_code=contact.lang, started=False)
    state.inject_start(uid)
    await _until(lambda: _offered_number(state, uid), f"the bot asking {cid} for a number")
    say(f"{who} has no Bale chat id in the directory: opens the bot and presses Start")
    state.inject_contact(uid, (contact.phone or "").removeprefix("+"), contact_user_id=uid)
    await _until(lambda: bound().directory.contacts[cid].chats.get(MESSENGER) == uid, "the bind")
    say(f"{who} taps “📱 Share my number”: connected on Bale, two taps, no chat id typed")
    return cid


def reached_on_bale(cid: str | None, messages: list[MessageRow]) -> str | None:
    """What the demo says about the newcomer once the fire's messages went out."""
    if cid is None:
        return None
    if not any(m.recipient == cid and m.sent_channel == MESSENGER for m in messages):
        raise CastFailed(f"{cid} connected on Bale but the fire's alert did not go there")
    return f"{cid}: the staff alert reached them on Bale, the chat they connected"


def _offered_number(state: BotApiState, uid: int) -> bool:
    return any("keyboard" in (m.get("reply_markup") or {}) for m in state.sent(uid))


async def _until(check: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while not check():
        if loop.time() > deadline:
            raise CastFailed(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
