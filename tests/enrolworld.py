"""A running world for enrolment tests: the sandbox fakes over real HTTP, a real store
(SQLite or PostgreSQL), the incident service and a dispatcher on the *bound* library (the
directory plus bindings, as the daemon runs), and the bots.

People are driven through the fake Bot API's control API over HTTP (``/_control/start``,
``/_control/contact``, ``/_control/message``, ``/_control/callback``), as a phone would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa

from crisisd.bot import Bots, BotSettings, start_bots
from crisisd.channels.base import Channel
from crisisd.channels.registry import build_channels
from crisisd.config import Config, Sms, SmsGateway
from crisisd.context import DaemonContext
from crisisd.delivery.dispatcher import Dispatcher, RetryPolicy
from crisisd.enrolment.directory import BoundLibrary
from crisisd.incidents import IncidentService, tell_officer_of_failure
from crisisd.library.loader import load_library
from crisisd.library.model import Library
from crisisd.metrics import Metrics
from crisisd.sandbox.runner import Sandbox, sandbox_token, start_sandbox
from crisisd.store import AuditEntry, MessageRow, Store
from crisisd.store.tables import audit
from tests import botworld
from tests.botworld import Chat, wait_for

# The bot world's tree (two factories), plus: a newcomer with a phone and no chat id, in
# both factories; two contacts who share one (desk) number.
NEWCOMERS = (
    "  staff.n:\n"
    "    name: {fa: نوید نوری, en: Navid Nouri}\n"
    '    phone: "0912 222 3344"\n'
    "  staff.e:\n"
    "    name: {fa: الهام اسدی, en: Elham Asadi}\n"
    "    lang: en\n"
    '    phone: "0912 222 5566"\n'
    "    email: elham@example.com\n"
    "  desk.1:\n"
    "    name: {fa: میز شیفت ۱, en: Shift desk 1}\n"
    '    phone: "0912 999 0000"\n'
    "  desk.2:\n"
    "    name: {fa: میز شیفت ۲, en: Shift desk 2}\n"
    '    phone: "0912 999 0000"\n'
)
NEWCOMER_PHONE = "+989122223344"


def make_enrol_tree(root: Path, alerts_on: str = "bale") -> Config:
    """The tree; ``alerts_on``: the messenger fire alerts go to first (bale or telegram)."""
    config = botworld.make_world_tree(root, alerts_on)
    playbooks = root / "playbooks"
    (playbooks / "directory.yaml").write_text(botworld.DIRECTORY + NEWCOMERS, encoding="utf-8")
    for name in ("mini", "other"):
        path = playbooks / f"{name}.yaml"
        text = path.read_text(encoding="utf-8")
        text = text.replace("members: [staff.b]", "members: [staff.b, staff.n, staff.e]")
        path.write_text(text, encoding="utf-8")
    gateway = SmsGateway(name="kavenegar", provider="kavenegar")  # the sandbox's fake
    return config.model_copy(update={"sms": Sms(gateways=[gateway])})


@dataclass
class EnrolWorld:
    tmp: Path
    config: Config
    base: Library
    bound: BoundLibrary
    sb: Sandbox
    store: Store
    service: IncidentService
    ctx: DaemonContext
    http: aiohttp.ClientSession
    channels: dict[str, Channel] = field(default_factory=dict)
    dispatcher: Dispatcher | None = None
    bots: Bots | None = None

    def chat(self, messenger: str, chat_id: int) -> Chat:
        return Chat(self, messenger, chat_id)  # type: ignore[arg-type]  # duck-typed world

    async def control(self, messenger: str, path: str, body: Any = None) -> Any:
        """The fake's control API, over HTTP as a test or the demo drives it."""
        base = self.sb.botapi_urls[messenger].removesuffix("/bot")
        method = "GET" if body is None else "POST"
        async with self.http.request(method, f"{base}/_control/{path}", json=body) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def user(self, messenger: str, user_id: int, lang: str = "fa") -> None:
        body = {"id": user_id, "first_name": f"U{user_id}", "language_code": lang}
        await self.control(messenger, "users", body)

    async def start(self, messenger: str, user_id: int, payload: str = "") -> None:
        await self.control(messenger, "start", {"user_id": user_id, "payload": payload})

    async def share(self, messenger: str, user_id: int, phone: str, owner: int | None = -1) -> None:
        """The user shares a contact: their own (``owner`` -1), someone else's, or a card
        without a user id (``owner`` None)."""
        body: dict[str, Any] = {"user_id": user_id, "phone_number": phone}
        body["contact_user_id"] = user_id if owner == -1 else owner
        await self.control(messenger, "contact", body)

    def kick(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.kick()

    async def audit(self, action: str) -> list[AuditEntry]:
        async with self.store.engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(audit).where(audit.c.action == action).order_by(audit.c.id)
                )
            ).all()
        return [
            AuditEntry(r.incident_id, r.at, r.actor, r.action, r.channel, r.detail) for r in rows
        ]

    async def start_dispatcher(self) -> None:
        self.channels = build_channels(self.sb.point(self.config))

        async def on_final(msg: MessageRow, reason: str) -> None:
            await tell_officer_of_failure(self.service, msg, reason)
            self.kick()

        self.dispatcher = Dispatcher(
            self.store,
            self.channels,
            self.bound.address_of,
            on_final_failure=on_final,
            policy=RetryPolicy(base=0.05, max_attempts_per_channel=2),
        )
        await self.dispatcher.start()

    async def aclose(self) -> None:
        if self.bots is not None:
            await self.bots.aclose()
        if self.dispatcher is not None:
            await self.dispatcher.drain()
        for channel in self.channels.values():
            await channel.aclose()
        await self.sb.aclose()
        await self.http.close()


async def wait_sent(world: EnrolWorld, messenger: str, chat_id: int, needle: str) -> dict[str, Any]:
    return await world.chat(messenger, chat_id).said(needle)


@asynccontextmanager
async def enrol_world(
    tmp: Path, store: Store, settings: BotSettings | None = None, alerts_on: str = "bale"
) -> AsyncIterator[EnrolWorld]:
    """The world on ``store`` (the conftest fixture's: SQLite or PostgreSQL, closed by it)."""
    config = make_enrol_tree(tmp / "tree", alerts_on)
    base = load_library(config)
    sb = await start_sandbox(config)
    sb.seed(base.directory)
    bound = await BoundLibrary.start(store, lambda: base)
    service = IncidentService(store, bound)
    holder: list[EnrolWorld] = []

    async def health() -> dict[str, Any]:
        return {"ok": True}

    ctx = DaemonContext(
        store=store,
        service=service,
        metrics=Metrics(),
        library=bound,
        health=health,
        kick=lambda: holder[0].kick(),
    )
    world = EnrolWorld(tmp, config, base, bound, sb, store, service, ctx, aiohttp.ClientSession())
    holder.append(world)
    try:
        await world.start_dispatcher()
        entries = [(m, sb.botapi_urls[m.name], sandbox_token(m.name)) for m in config.messengers]
        pacers = world.dispatcher.pacers if world.dispatcher else None
        world.bots = await start_bots(ctx, entries, settings or BotSettings(), pacers)
        yield world
    finally:
        await world.aclose()


__all__ = ["NEWCOMER_PHONE", "EnrolWorld", "enrol_world", "wait_for", "wait_sent"]
