"""What the dashboard's routes share: the daemon context, the signing key, the store's
read side, the templates, and who is asking (:class:`Who`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from crisisd.config import Dashboard
from crisisd.context import DaemonContext
from crisisd.library.model import Library
from crisisd.store import AuditEntry
from crisisd.store.board import BoardReads
from crisisd.store.signin import SignInBook

HERE = Path(__file__).parent
# What a signed-in person may do, by role; an API token's roles are in config/tokens.py.
PEOPLE_ACTIONS: dict[str, frozenset[str]] = {
    "province": frozenset({"read", "takeover", "drill"}),
    "officer": frozenset({"read", "open", "update", "resolve", "task"}),
    "viewer": frozenset({"read"}),
}


@dataclass(frozen=True, slots=True)
class Who:
    """The caller: a signed-in person (contact) or an API token (``api:<name>``)."""

    actor: str
    role: str
    factories: frozenset[str] | None  # None: every factory
    actions: frozenset[str]
    contact: str | None = None
    name: str = ""  # in Persian
    name_en: str = ""
    session_id: str = ""
    csrf: str = ""

    def sees(self, factory: str) -> bool:
        return self.factories is None or factory in self.factories

    def may(self, action: str, factory: str | None = None) -> bool:
        return action in self.actions and (factory is None or self.sees(factory))


def person(lib: Library, contact: str) -> tuple[str, frozenset[str] | None] | None:
    """(role, factories) of a directory contact, or None when they may not sign in.
    Province staff come from config; officers from the playbooks; viewers from config."""
    board = lib.config.dashboard
    if contact not in lib.directory.contacts:
        return None
    if contact in board.province:
        return "province", None
    mine = frozenset(f for f, pb in lib.playbooks.items() if contact in pb.factory.officers)
    if mine:
        return "officer", mine
    if contact in board.viewers:
        return "viewer", None
    return None


@dataclass(slots=True)
class BoardState:
    ctx: DaemonContext
    secret: bytes  # signs cookies and code digests
    public_url: str
    reads: BoardReads
    book: SignInBook
    env: jinja2.Environment

    @property
    def lib(self) -> Library:
        return self.ctx.library()

    def addresses(self, bound: str, public: str | None) -> dict[str, str]:
        """Once the API is bound: where people reach it (``api.public_url`` or the bound
        address) becomes the base of links, and the dashboard's address for the banner."""
        self.public_url = (public or bound).rstrip("/")
        return {"dashboard": f"{self.public_url}/dashboard/"}

    @property
    def settings(self) -> Dashboard:
        return self.lib.config.dashboard

    def now(self) -> datetime:
        return self.ctx.service.clock()

    async def refuse(
        self, who: Who | None, what: str, incident_id: str | None, **detail: Any
    ) -> None:
        """Audit a refused access (403) before answering it."""
        actor = who.actor if who else "anonymous"
        entry = AuditEntry(
            incident_id, self.now(), actor, "access.refused", None, {"what": what, **detail}
        )
        await self.ctx.store.add_audit(entry)


STATE = web.AppKey("crisisd_dashboard", BoardState)
WHO = web.RequestKey("crisisd_dashboard_who", Who)


def make_env() -> jinja2.Environment:
    """Autoescaping templates from the package: user text is always shown as text."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
