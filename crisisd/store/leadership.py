"""Leadership: this daemon's hold on each leader-only role, kept by one supervised loop.

Roles: ``scheduler`` (drills, escalation sweeps, reminders, receipt polling, gateway
watch) and ``poll.<messenger>`` (a bot's ``getUpdates``: Telegram answers a second poller
with 409 Conflict). On PostgreSQL each role is a row of ``leases`` (:mod:`.leases`); on
SQLite the worker lock already makes this daemon the only one, so a trivial backend grants
every role at once. Both run the same loop.

Timing, with ``seconds`` the lease (default 15): the loop renews every ``seconds / 3``. A
holder counts itself the leader until ``seconds - margin`` after the start of its last
successful renewal (monotonic clock), ``margin = seconds / 5``; the database keeps the row
until ``seconds`` after that renewal reached it, so a holder that cannot renew (dead
database, hung connection) has stepped down before anyone else can take the row over.
A dead leader's role moves within ``seconds + seconds / 3``; a leader that stops cleanly
releases its rows and the role moves at the others' next round.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from crisisd.metrics import Metrics
from crisisd.redaction import redact
from crisisd.store.leases import Fence, Holder, LeaseBook
from crisisd.supervision import Supervisor, describe

log = structlog.get_logger("crisisd.leadership")

SCHEDULER = "scheduler"
Hook = Callable[[], Awaitable[None]]


def poll_role(messenger: str) -> str:
    return f"poll.{messenger}"


class LocalLeases:
    """SQLite: one daemon per store, so every role is granted, for good (generation 1)."""

    def __init__(self, holder: str) -> None:
        self.holder = holder

    async def acquire(self, role: str, seconds: float) -> int | None:
        return 1

    async def renew(self, role: str, generation: int, seconds: float) -> bool:
        return True

    async def release(self, role: str, generation: int) -> None:
        return None

    async def holders(self) -> list[Holder]:
        return []


@dataclass(slots=True)
class _Role:
    name: str
    generation: int | None = None
    valid_until: float = 0.0  # monotonic
    gained: list[Hook] = field(default_factory=list)
    lost: list[Hook] = field(default_factory=list)


class Leadership:
    """Which leader-only roles this daemon holds; hooks run when one is gained or lost."""

    def __init__(
        self,
        backend: LeaseBook | LocalLeases,
        seconds: float = 15.0,
        *,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend = backend
        self.holder = backend.holder
        self.seconds = seconds
        self.every = seconds / 3
        self.margin = seconds / 5
        self.metrics = metrics
        self.clock = clock
        self._roles: dict[str, _Role] = {}
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def for_engine(
        cls, engine: AsyncEngine, holder: str, seconds: float, metrics: Metrics | None = None
    ) -> Leadership:
        if engine.dialect.name == "postgresql":
            return cls(LeaseBook(engine, holder), seconds, metrics=metrics)
        return cls(LocalLeases(holder), seconds, metrics=metrics)

    def role(self, name: str, gained: Hook | None = None, lost: Hook | None = None) -> None:
        """Take part in ``name``; ``gained`` / ``lost`` run (in the loop) on each change."""
        role = self._roles.setdefault(name, _Role(name))
        if gained is not None:
            role.gained.append(gained)
        if lost is not None:
            role.lost.append(lost)
        if self.metrics is not None:
            self.metrics.leader.labels(name).set(0)

    def held(self, name: str) -> bool:
        role = self._roles.get(name)
        return role is not None and role.generation is not None and self.clock() < role.valid_until

    def fence(self, name: str) -> Fence | None:
        """The fence for work of ``name``, or None when this daemon does not hold it."""
        role = self._roles[name]
        if role.generation is None or not self.held(name):
            return None
        return Fence(name, self.holder, role.generation)

    def start(self, supervisor: Supervisor) -> None:
        """Run :meth:`run` as the supervised part ``leadership``."""
        self._task = supervisor.spawn("leadership", self.run)

    async def aclose(self) -> None:
        """Step down from every role (hooks, then the rows) and stop the loop."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run(self) -> None:
        """The supervised part ``leadership``: a round now, then every ``seconds / 3``."""
        try:
            while True:
                await self.round()
                await asyncio.sleep(self.every)
        finally:
            await self._step_down_all()

    async def round(self) -> None:
        for role in list(self._roles.values()):
            await self._keep(role)
        await self._show_holders()

    async def _keep(self, role: _Role) -> None:
        started = self.clock()
        try:
            async with asyncio.timeout(self.every):
                if role.generation is not None and started < role.valid_until:
                    if await self.backend.renew(role.name, role.generation, self.seconds):
                        role.valid_until = started + self.seconds - self.margin
                        return
                    await self._step_down(role, "renewal refused: the lease moved on")
                gen = await self.backend.acquire(role.name, self.seconds)
        except Exception as exc:  # noqa: BLE001 - a store outage: try again next round
            log.warning("leadership.store_failed", role=role.name, error=redact(describe(exc)))
            if role.generation is not None and self.clock() >= role.valid_until:
                await self._step_down(role, "could not renew in time")
            return
        if gen is None:
            if role.generation is not None:
                await self._step_down(role, "another daemon holds it")
            return
        if role.generation is not None:  # an expired hold of ours, taken again: new fence
            await self._step_down(role, "lease had expired")
        role.generation = gen
        role.valid_until = started + self.seconds - self.margin
        log.info("leadership.gained", role=role.name, generation=gen, holder=self.holder)
        self._count(role.name, "gained", 1)
        await self._run_hooks(role, role.gained)

    async def _step_down(self, role: _Role, why: str) -> None:
        if role.generation is None:
            return
        log.warning("leadership.lost", role=role.name, generation=role.generation, why=why)
        role.generation = None
        self._count(role.name, "lost", 0)
        await self._run_hooks(role, role.lost)

    async def _step_down_all(self) -> None:
        """On stop: hooks first (the work stops), then the rows go (another takes over)."""
        for role in self._roles.values():
            gen = role.generation
            await self._step_down(role, "daemon stopping")
            if gen is not None:
                try:
                    async with asyncio.timeout(self.every):
                        await self.backend.release(role.name, gen)
                except Exception as exc:  # noqa: BLE001 - the lease then runs out by itself
                    log.warning("leadership.release_failed", role=role.name, error=describe(exc))

    async def _run_hooks(self, role: _Role, hooks: list[Hook]) -> None:
        for hook in hooks:
            try:
                await hook()
            except Exception as exc:  # noqa: BLE001 - one hook failing must not stop the others
                log.error("leadership.hook_failed", role=role.name, error=redact(describe(exc)))

    def _count(self, role: str, change: str, value: int) -> None:
        if self.metrics is not None:
            self.metrics.leader.labels(role).set(value)
            self.metrics.leadership_changes.labels(role, change).inc()

    async def _show_holders(self) -> None:
        if self.metrics is None:
            return
        try:
            async with asyncio.timeout(self.every):
                rows = await self.backend.holders()
        except Exception:  # noqa: BLE001 - the gauge keeps its last value
            return
        if isinstance(self.backend, LocalLeases):  # SQLite: this daemon holds all it takes
            rows = [Holder(n, self.holder, 1, self.held(n)) for n in self._roles]
        gauge = self.metrics.lease_holder
        gauge.clear()
        for row in rows:
            gauge.labels(row.role, row.holder).set(1 if row.live else 0)
