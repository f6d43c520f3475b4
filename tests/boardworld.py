"""A dashboard world for tests: two factories (mini and north), a real SQLite store, the
incident service, the API with the dashboard and CAP mounted, over real HTTP on loopback."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from crisisd.api.acklinks import AckSigner
from crisisd.api.app import create_api_app, start_api
from crisisd.config import Api, ApiToken, Config, Dashboard
from crisisd.context import DaemonContext
from crisisd.dashboard.app import mount_dashboard
from crisisd.domain import Casualties, IncidentReport
from crisisd.incidents import IncidentService
from crisisd.library.loader import load_library
from crisisd.library.model import Library
from crisisd.metrics import Metrics
from crisisd.store import Store
from crisisd.store.engine import normalize_url
from tests.minitree import PLAYBOOK, T0, make_tree

ALL_TOKEN = "all-factories-token-Qw8rT5yU2iO9p"
MINI_TOKEN = "mini-officer-token-Zx1cV4bN7mK3l"
NORTH_VIEW_TOKEN = "north-viewer-token-As6dF9gH2jK5l"
SECRET = b"dashboard-secret-for-tests-0123456789"

# A second factory: the same plans, its own officer (boss.c).
NORTH = (
    PLAYBOOK.replace("id: mini", "id: north")
    .replace("{fa: کارخانه کوچک, en: Mini Works}", "{fa: کارخانه شمال, en: North Works}")
    .replace("officers: [officer.a]", "officers: [boss.c]")
)


def sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def move(self, **by: float) -> None:
        self.now += timedelta(**by)


def board_library(
    root: Path, tree: Callable[[Path], Config] = make_tree, **dashboard: Any
) -> Library:
    config = tree(root)
    (root / "playbooks" / "north.yaml").write_text(NORTH, encoding="utf-8")
    tokens = [
        ApiToken(name="province", sha256=sha(ALL_TOKEN)),
        ApiToken(name="mini", sha256=sha(MINI_TOKEN), factories=["mini"], role="officer"),
        ApiToken(
            name="northview", sha256=sha(NORTH_VIEW_TOKEN), factories=["north"], role="viewer"
        ),
    ]
    settings = {"province": ["staff.b"], "viewers": ["press.d"], **dashboard}
    config = config.model_copy(
        update={"api": Api(tokens=tokens), "dashboard": Dashboard(**settings)}
    )
    return load_library(config)


@dataclass
class Board:
    url: str
    http: aiohttp.ClientSession
    store: Store
    service: IncidentService
    library: Library
    clock: Clock
    kicks: list[str] = field(default_factory=list)

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        **kw: Any,
    ) -> tuple[int, str, dict[str, str]]:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        if body is not None:
            kw["data"] = json.dumps(body, ensure_ascii=False).encode()
            sent.setdefault("Content-Type", "application/json")
        async with self.http.request(method, self.url + path, headers=sent, **kw) as resp:
            return resp.status, await resp.text(), dict(resp.headers)

    async def open(self, factory: str = "mini", **changes: Any) -> str:
        reporter = "officer.a" if factory == "mini" else "boss.c"
        report = IncidentReport(
            factory=factory,
            incident_type="fire",
            severity="major",
            reporter=reporter,
            details=changes.pop("details", "آتش در سالن ۲"),
            location=changes.pop("location", "سالن ۲"),
            casualties=Casualties.UNKNOWN,
            source="test",
            **changes,
        )
        return (await self.service.open(report)).incident_id


async def start_board(
    tmp_path: Path, tree: Callable[[Path], Config] = make_tree, **dashboard: Any
) -> AsyncIterator[Board]:
    library = board_library(tmp_path / "tree", tree, **dashboard)
    store = Store(normalize_url(f"sqlite:///{tmp_path / 'board.sqlite3'}"))
    await store.start()
    clock = Clock()
    service = IncidentService(store, lambda: library, clock)
    kicks: list[str] = []

    async def health() -> dict[str, Any]:
        return {"ok": True, "store": "up", "channels": {}}

    ctx = DaemonContext(
        store=store,
        service=service,
        metrics=Metrics(),
        library=lambda: library,
        health=health,
        kick=lambda: kicks.append("kick"),
    )
    app = create_api_app(
        ctx,
        tokens=lambda: library.config.api.tokens,
        signer=AckSigner(SECRET, timedelta(hours=48), clock),
        max_body_bytes=64 * 1024,
    )
    runner: web.AppRunner | None = None
    try:
        # the public address is known once bound: mount with a placeholder, then set it
        await mount_dashboard(app, ctx, secret=SECRET, public_url="http://crisisd.test")
        runner = await start_api(app, "127.0.0.1", 0)
        host, port = runner.addresses[0][:2]
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            yield Board(f"http://{host}:{port}", http, store, service, library, clock, kicks)
    finally:
        if runner is not None:
            await runner.cleanup()
        await store.aclose()


def now_utc() -> datetime:
    return datetime.now(UTC)


CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def code_sent_to(board: Board, contact: str) -> str:
    """The newest sign-in code in the outbox for ``contact`` (ASCII digits)."""
    import sqlalchemy as sa

    from crisisd.formats.timefmt import ascii_digits
    from crisisd.store.tables import messages

    query = (
        sa.select(messages.c.renderings)
        .where(messages.c.recipient == contact, messages.c.key.like("%/signin-%"))
        .order_by(messages.c.id.desc())
        .limit(1)
    )
    async with board.store.engine.connect() as conn:
        renderings = await conn.scalar(query)
    assert renderings, f"no sign-in code was sent to {contact}"
    text = ascii_digits(next(iter(renderings.values()))["text"])
    found = re.search(r"\b(\d{6})\b", text)
    assert found, text
    return found.group(1)


async def csrf_of(board: Board, path: str) -> str:
    status, text, _ = await board.call("GET", path)
    assert status == 200, text
    found = CSRF.findall(text)  # the page's own form comes after the header's sign-out form
    assert found, text
    return str(found[-1])


async def ask_code(board: Board, who: str) -> int:
    token = await csrf_of(board, "/dashboard/signin")
    status, _, _ = await board.call(
        "POST", "/dashboard/signin", data={"csrf": token, "who": who}, allow_redirects=False
    )
    return status


async def enter_code(board: Board, code: str) -> tuple[int, str, dict[str, str]]:
    token = await csrf_of(board, "/dashboard/signin/code")
    return await board.call(
        "POST", "/dashboard/signin/code", data={"csrf": token, "code": code}, allow_redirects=False
    )


async def sign_in(board: Board, contact: str) -> str:
    """Sign in as ``contact`` through the forms; the session's CSRF token."""
    assert await ask_code(board, contact) == 303
    status, text, _ = await enter_code(board, await code_sent_to(board, contact))
    assert status == 303, text
    return await csrf_of(board, "/dashboard/")
