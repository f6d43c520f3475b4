"""A running world for the officers' bot tests: the sandbox fakes over real HTTP, a SQLite
store, the incident service, a real dispatcher with real channels, and the bots.

People are driven through the fake Bot API: :class:`Chat` writes as a user and presses
buttons, then waits (polling, no timing asserts) for what the bot shows.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from crisisd.bot import Bots, BotSettings, start_bots
from crisisd.channels.base import Channel
from crisisd.channels.registry import build_channels
from crisisd.config import Config
from crisisd.context import DaemonContext
from crisisd.delivery.dispatcher import Dispatcher, RetryPolicy
from crisisd.incidents import IncidentService, tell_officer_of_failure
from crisisd.library.loader import load_library
from crisisd.library.model import Library
from crisisd.metrics import Metrics
from crisisd.sandbox.botapi_state import BotApiState
from crisisd.sandbox.runner import Sandbox, sandbox_token, start_sandbox
from crisisd.store import AuditEntry, MessageRow, Store
from crisisd.store.engine import normalize_url
from crisisd.store.tables import audit
from tests import minitree

# PTB 22's RetryAfter.__init__ reads its own deprecated int property: every 429 (the bot and
# the dispatcher share the officer's chat, so they happen) raises this inside PTB in tests.
PTB_RETRY_AFTER = pytest.mark.filterwarnings(
    "ignore:.*attribute `retry_after` will be of type:telegram.warnings.PTBDeprecationWarning"
)
ACCEPTED = re.compile(r"✅[^<*]*(?:<b>|\*)([A-Z]{3}-[0-9]{3})(?:</b>|\*)")  # HTML or Bale
UNKNOWN_USER = 9999

# The mini tree, plus: officer.a on Telegram too, a gas-leak type, and a second factory
# whose only officer (officer.z) must not touch the first one's incidents.
DIRECTORY = minitree.DIRECTORY.replace(
    "    chats: {bale: 1001}\n", "    chats: {bale: 1001, telegram: 2001}\n"
) + (
    "  officer.z:\n"
    "    name: {fa: زهرا زمانی, en: Zahra Zamani}\n"
    "    chats: {bale: 1005}\n"
    '    phone: "0912 111 5566"\n'
    "  officer.y:\n"
    "    name: {fa: یاسر یزدانی, en: Yaser Yazdani}\n"
    "    lang: en\n"
    "    chats: {bale: 1006}\n"
)
LEAK = """\
  leak:
    name: {fa: نشت گاز, en: Gas leak}
    severities:
      minor:
        steps:
          - {audience: emergency_team, template: alert, channels: [bale, sms]}
          - {audience: management, template: alert, channels: [bale, email]}
"""
PLAYBOOK = minitree.PLAYBOOK.replace("statements:\n", LEAK + "statements:\n").replace(
    "officers: [officer.a]", "officers: [officer.a, officer.y]"
)
OTHER = (
    minitree.PLAYBOOK.replace("id: mini", "id: other")
    .replace("{fa: کارخانه کوچک, en: Mini Works}", "{fa: کارخانهٔ دیگر, en: Other Works}")
    .replace("officers: [officer.a]", "officers: [officer.z, officer.y]")
)


def make_world_tree(root: Path, messenger: str = "bale") -> Config:
    """The world's tree; ``messenger``: where the fire alerts go first (bale or telegram)."""
    config = minitree.make_tree(root)
    (root / "playbooks" / "directory.yaml").write_text(DIRECTORY, encoding="utf-8")
    playbook = PLAYBOOK.replace("channels: [bale, ", f"channels: [{messenger}, ")
    (root / "playbooks" / "mini.yaml").write_text(playbook, encoding="utf-8")
    (root / "playbooks" / "other.yaml").write_text(OTHER, encoding="utf-8")
    return config


async def wait_for(
    check: Callable[[], Any], what: str, timeout: float = 20.0, every: float = 0.05
) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        got = check()
        if asyncio.iscoroutine(got):
            got = await got
        if got:
            return got
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(every)


def buttons(record: dict[str, Any]) -> list[tuple[str, str]]:
    markup = record.get("reply_markup") or {}
    return [
        (b["text"], b.get("callback_data", ""))
        for row in markup.get("inline_keyboard", [])
        for b in row
    ]


@dataclass
class Chat:
    """One person's private chat with the bot on one messenger."""

    world: World
    messenger: str
    chat_id: int

    @property
    def state(self) -> BotApiState:
        return self.world.sb.botapi[self.messenger]

    def messages(self) -> list[dict[str, Any]]:
        return self.state.sent(self.chat_id)

    def write(self, text: str, user_id: int | None = None) -> None:
        self.state.inject_message(self.chat_id, text, user_id=user_id)

    async def button(self, action: str, what: str = "") -> tuple[dict[str, Any], str]:
        """The newest message with a conversation button ``action`` (e.g. "t:0", "ok")."""
        pattern = re.compile(rf"^c:[0-9a-f]+:{action}$")

        def find() -> tuple[dict[str, Any], str] | None:
            for record in reversed(self.messages()):
                for _text, data in buttons(record):
                    if pattern.match(data):
                        return record, data
            return None

        found: tuple[dict[str, Any], str] = await wait_for(find, what or f"button {action}")
        return found

    async def tap(self, action: str, user_id: int | None = None) -> dict[str, Any]:
        record, data = await self.button(action)
        return self.press(record["message_id"], data, user_id)

    def press(self, message_id: int, data: str, user_id: int | None = None) -> dict[str, Any]:
        update = self.state.inject_callback(
            user_id or self.chat_id, message_id, data, chat_id=self.chat_id
        )
        query: dict[str, Any] = update["callback_query"]
        return query

    async def answer(self, query: dict[str, Any]) -> str:
        """What the bot answered to a button press (the toast)."""

        def answered() -> str | None:
            found = self.state.callbacks[query["id"]]["answer"]
            return None if found is None else str(found.get("text") or "-")

        text: str = await wait_for(answered, "the callback answer")
        return text

    async def said(self, needle: str, after: int = 0) -> dict[str, Any]:
        """The newest message whose current text contains ``needle``."""

        def find() -> dict[str, Any] | None:
            for record in reversed(self.messages()):
                if record["message_id"] > after and needle in record["text"]:
                    found: dict[str, Any] = record
                    return found
            return None

        found: dict[str, Any] = await wait_for(find, f"{needle!r} in chat {self.chat_id}")
        return found

    def last_id(self) -> int:
        return max((m["message_id"] for m in self.messages()), default=0)


@dataclass
class World:
    tmp: Path
    config: Config
    lib: Library
    sb: Sandbox
    store: Store
    service: IncidentService
    ctx: DaemonContext
    channels: dict[str, Channel] = field(default_factory=dict)
    dispatcher: Dispatcher | None = None
    bots: Bots | None = None

    def chat(self, messenger: str, chat_id: int) -> Chat:
        return Chat(self, messenger, chat_id)

    def kick(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.kick()

    async def start_dispatcher(self) -> None:
        self.channels = build_channels(self.sb.point(self.config))
        lib = self.lib

        def address(msg: MessageRow, channel: str) -> str | None:
            return lib.directory.contacts[msg.recipient].address_for(channel)

        async def on_final(msg: MessageRow, reason: str) -> None:
            await tell_officer_of_failure(self.service, msg, reason)
            self.kick()

        self.dispatcher = Dispatcher(
            self.store,
            self.channels,
            address,
            on_final_failure=on_final,
            policy=RetryPolicy(base=0.05, max_attempts_per_channel=3),
            # An hour ahead: steps planned "after 10m" (press) go out now.
            clock=lambda: datetime.now(UTC) + timedelta(hours=1),
        )
        await self.dispatcher.start()

    async def stop_dispatcher(self) -> None:
        if self.dispatcher is not None:
            await self.dispatcher.drain()
            self.dispatcher = None
        for channel in self.channels.values():
            await channel.aclose()
        self.channels = {}

    async def start_bots(self, settings: BotSettings, only: tuple[str, ...] | None = None) -> None:
        messengers = [
            (m, self.sb.botapi_urls[m.name], sandbox_token(m.name))
            for m in self.config.messengers
            if m.officers_bot and (only is None or m.name in only)
        ]
        # Until the Dispatcher offers its pacers publicly: share them, as the daemon should.
        pacers = self.dispatcher._pacers if self.dispatcher else None
        self.bots = await start_bots(self.ctx, messengers, settings, pacers)

    async def messages(self, incident_id: str) -> list[MessageRow]:
        return await self.store.messages_of(incident_id)

    async def refusals(self) -> list[AuditEntry]:
        """Audit entries of refusals (they belong to no incident)."""
        async with self.store.engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(audit).where(audit.c.action == "bot.refused").order_by(audit.c.id)
                )
            ).all()
        return [
            AuditEntry(r.incident_id, r.at, r.actor, r.action, r.channel, r.detail) for r in rows
        ]

    async def settled(self, incident_id: str) -> bool:
        msgs = await self.messages(incident_id)
        return bool(msgs) and all(m.status in ("sent", "failed", "cancelled") for m in msgs)

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        tmp: Path,
        settings: BotSettings | None = None,
        *,
        dispatch: bool = True,
        bots: bool = True,
        messenger: str = "bale",
    ) -> AsyncIterator[World]:
        config = make_world_tree(tmp / "tree", messenger)
        lib = load_library(config)
        sb = await start_sandbox(config)
        sb.seed(lib.directory)
        store = Store(normalize_url(f"sqlite:///{tmp / 'store.sqlite3'}"))
        await store.start()
        service = IncidentService(store, lambda: lib)
        holder: list[World] = []

        async def health() -> dict[str, Any]:
            return {"ok": True}

        ctx = DaemonContext(
            store=store,
            service=service,
            metrics=Metrics(),
            library=lambda: lib,
            health=health,
            kick=lambda: holder[0].kick(),
        )
        world = cls(tmp, config, lib, sb, store, service, ctx)
        holder.append(world)
        try:
            if dispatch:
                await world.start_dispatcher()
            if bots:
                await world.start_bots(settings or BotSettings())
            yield world
        finally:
            if world.bots is not None:
                await world.bots.aclose()
            await world.stop_dispatcher()
            await world.store.aclose()
            await sb.aclose()


async def report(chat: Chat, details: str, type_action: str = "t:0") -> str:
    """Drive /report (one factory, so no factory step) to its preview; return its text."""
    chat.write("/report")
    await chat.tap(type_action)
    await chat.tap("s:0")
    chat.write(details)
    record, _data = await chat.button("ok", "the preview")
    text: str = record["text"]
    return text


async def confirm(chat: Chat) -> str:
    """Press Confirm; return the new incident's id from the "Accepted" message."""
    before = chat.last_id()
    await chat.tap("ok")

    def accepted() -> str | None:
        for record in chat.messages():
            found = ACCEPTED.search(record["text"])
            if record["message_id"] > before and found:
                return found.group(1)
        return None

    incident_id: str = await wait_for(accepted, "the Accepted message")
    return incident_id
