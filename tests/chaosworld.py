"""The chaos test's world: a PostgreSQL database of its own, the sandbox fakes in a process of
their own (``bench.sandbox_proc``), and ``crisisd run`` processes that share the database,
each with its own config file (so its own worker id), restarted like systemd would.

Nothing here mocks crisisd: the daemons are the installed command, the fakes speak the
providers' wire formats over loopback, and the database is the real server.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench.fanout import bench_config, fanout_tree
from crisisd.config import Config, Rate
from crisisd.sandbox.runner import point_config
from crisisd.store.workerlock import worker_id_for

ROOT = Path(__file__).parent.parent
TOKEN = "chaos-test-token"
SANDBOX_ARGS = ("--no-enforce-limits", "--max-seconds", "900")
ACK_WITHIN = "20s"  # the emergency team's ack window: escalations fire during the test


def chaos_tree(root: Path, members: int, rate: float) -> Config:
    """bench.fanout's tree (``members`` people, one channel each, severity ``minor`` to all
    of them), with a short ack window and a drill every minute; each channel paced at
    ``rate`` messages a second per daemon, so that the fan-out lasts through the chaos."""
    config = fanout_tree(root, members)
    pb = root / "playbooks" / "mini.yaml"
    text = pb.read_text(encoding="utf-8")
    text = text.replace("ack: {within: 5m,", f"ack: {{within: {ACK_WITHIN},")
    text = text.replace(
        '- {cron: "0 10 * * sat", scenario: fire/major, window: 1h}',
        '- {cron: "* * * * *", scenario: fire/major, window: 10s}',
    )
    pb.write_text(text, encoding="utf-8")
    config = bench_config(config, Rate(global_per_second=rate, per_chat_per_second=rate))
    gateways = [g.model_copy(update={"rate_per_second": rate}) for g in config.sms.gateways]
    return config.model_copy(
        update={
            "sms": config.sms.model_copy(update={"gateways": gateways}),
            "smtp": config.smtp.model_copy(update={"rate_per_second": rate}),
        }
    )


def _plain(value: Any) -> Any:
    """A config dump with its secrets readable (the daemons need the fakes' tokens)."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


@dataclass
class Sandbox:
    """The fakes, in their own process."""

    proc: subprocess.Popen[str]
    ready: dict[str, Any]

    async def deliveries(self) -> list[tuple[int, str, str, float]]:
        url = self.ready["control_url"] + "/deliveries?since=0"
        async with aiohttp.ClientSession() as http, http.get(url) as resp:
            items = (await resp.json())["items"]
        return [(int(i), str(c), str(to), float(at)) for i, c, to, at in items]

    def stop(self) -> None:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.proc.stdout.close()


def start_sandbox(config: Config, tmp: Path) -> Sandbox:
    path = tmp / "sandbox.json"
    path.write_text(config.model_dump_json(by_alias=True), encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.sandbox_proc", "--config", str(path), *SANDBOX_ARGS],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, f"the sandbox process exited ({proc.wait()}) before it was ready"
    return Sandbox(proc, json.loads(line))


def daemon_config(config: Config, sandbox: Sandbox, pg: str, path: Path, **extra: Any) -> Path:
    """A real (non-sandbox) config pointed at the fakes and the shared database."""
    ready = sandbox.ready
    pointed = point_config(
        config,
        host=ready["host"],
        botapi_urls=ready["botapi_urls"],
        sms_url=ready["sms_url"],
        smtp_port=ready["smtp_port"],
    )
    data = _plain(pointed.model_dump(by_alias=True, exclude_none=True))
    sha = hashlib.sha256(TOKEN.encode()).hexdigest()
    data.update(
        store_url=pg,
        sandbox=False,
        log_json=True,
        api={"bind": "127.0.0.1", "port": 0, "tokens": [{"name": "chaos", "sha256": sha}]},
        **extra,
    )
    for m in data["messengers"]:
        m["officers_bot"] = m["name"] == "bale"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")  # JSON is YAML
    return path


@dataclass
class Daemon:
    """One ``crisisd run``; ``kill`` is SIGKILL, ``start`` again is systemd's restart."""

    name: str
    config: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    api: str | None = None
    offset: int = 0  # where the current run's log lines begin
    failed_starts: int = 0  # runs that ended by themselves (e.g. no database at start)

    @property
    def worker(self) -> str:
        return worker_id_for(self.config)

    def start(self) -> None:
        self.api = None
        self.offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as sink:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "crisisd", "run", "--config", str(self.config)],
                cwd=ROOT,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self.starts += 1

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)

    def events(self, offset: int = 0) -> list[dict[str, Any]]:
        """The JSON log lines of every run (from ``offset``: of the current one)."""
        if not self.log.exists():
            return []
        with self.log.open("rb") as f:
            f.seek(offset)
            text = f.read().decode("utf-8", errors="replace")
        out = []
        for line in text.splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return out

    def ready_api(self) -> str | None:
        """The API address of the current run, once it is ready."""
        if self.api is None:
            ready = [e for e in self.events(self.offset) if e.get("event") == "daemon.ready"]
            if ready:
                self.api = str(ready[-1]["api"])
        return self.api


@dataclass
class Cluster:
    """Three daemons on one database, and the systemd-like supervision of them."""

    daemons: list[Daemon]
    restart_after: float = 1.0
    down_since: dict[str, float] = field(default_factory=dict)

    def tend(self) -> None:
        """Restart (after ``restart_after``) any daemon that is not running."""
        now = time.monotonic()
        for d in self.daemons:
            if d.alive:
                continue
            since = self.down_since.setdefault(d.name, now)
            if now - since >= self.restart_after:
                if d.proc is not None and d.proc.returncode not in (None, -signal.SIGKILL):
                    d.failed_starts += 1
                del self.down_since[d.name]
                d.start()

    def stop(self) -> list[int | None]:
        return [d.stop() for d in self.daemons]


class Database:
    """A database of the chaos test's own on the test server, and the means to cut it off."""

    def __init__(self, base_url: str) -> None:
        url = make_url(base_url)
        self.name = f"{url.database}_chaos"
        self.url = url.set(database=self.name).render_as_string(hide_password=False)
        admin = url.set(database="postgres").render_as_string(hide_password=False)
        self.admin: AsyncEngine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
        self.engine: AsyncEngine = create_async_engine(self.url)

    async def create(self) -> None:
        async with self.admin.connect() as conn:
            await self._allow(conn, True, missing_ok=True)
            await self._terminate(conn)
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.name}"'))
            await conn.execute(sa.text(f'CREATE DATABASE "{self.name}"'))

    async def drop(self) -> None:
        await self.engine.dispose()
        async with self.admin.connect() as conn:
            await self._allow(conn, True, missing_ok=True)
            await self._terminate(conn)
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.name}"'))
        await self.admin.dispose()

    async def cut(self) -> None:
        """No one may connect (superusers neither), and every connection is closed."""
        await self.engine.dispose()
        async with self.admin.connect() as conn:
            await self._allow(conn, False)
            await self._terminate(conn)

    async def restore(self) -> None:
        async with self.admin.connect() as conn:
            await self._allow(conn, True)

    async def _allow(self, conn: Any, allow: bool, missing_ok: bool = False) -> None:
        if missing_ok:
            exists = await conn.scalar(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": self.name}
            )
            if not exists:
                return
        flag = "true" if allow else "false"
        await conn.execute(sa.text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS {flag}'))

    async def _terminate(self, conn: Any) -> None:
        await conn.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :n AND pid <> pg_backend_pid()"
            ),
            {"n": self.name},
        )

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.engine.connect() as conn:
            return await conn.scalar(sa.text(sql), params)

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        async with self.engine.connect() as conn:
            return list((await conn.execute(sa.text(sql), params)).all())


async def post(api: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(api + path, json=body, headers=headers) as resp,
    ):
        return resp.status, await resp.json()


async def wait_for(check: Any, what: str, timeout: float, tend: Cluster | None = None) -> Any:
    """Poll ``check`` (sync or async) until truthy, restarting dead daemons meanwhile."""
    end = time.monotonic() + timeout
    while True:
        if tend is not None:
            tend.tend()
        got = check()
        if asyncio.iscoroutine(got):
            got = await got
        if got:
            return got
        assert time.monotonic() < end, f"never happened within {timeout:.0f}s: {what}"
        await asyncio.sleep(0.2)


def fanout_index(channel: str, to: str, members: int) -> int | None:
    """Which fan-out person (``w<i>``) a delivery at the fakes went to, or None."""
    if channel == "email":
        name = to.split("@", 1)[0].strip("<").lower()
        if name.startswith("w") and name[1:].isdigit():
            return int(name[1:])
        return None
    digits = "".join(ch for ch in to if ch.isdigit())
    if channel == "chat":
        i = int(digits) - 10_000 if digits else -1
        return i if 0 <= i < members else None
    if channel == "sms" and "912" in digits:
        i = int(digits[-7:])
        return i if i < members else None
    return None
