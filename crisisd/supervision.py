"""Supervised background work: every long-lived task of the daemon runs under one Supervisor.

A part that dies — it raises, or it ends by a cancellation nobody asked for (a leaked
cancel scope in an HTTP library looks like that) — is logged with its cause, shows in
:meth:`Supervisor.faults` (so in ``/healthz`` and ``/metrics``) while it is down, and is
started again after a capped, jittered backoff. A critical part that keeps dying, or may
not be restarted, stops the daemon: ``on_fatal`` is told and the daemon exits non-zero,
so systemd starts it again whole (claims come back, nothing accepted is lost).

::

    part's life        runs ──dies──► down (fault, counted) ──backoff──► runs again
                         │                    └── critical, out of restarts ──► on_fatal
                         └── returns ──► finished (not a fault)

Parts that are not tasks (scheduler jobs, probes) report with :meth:`Supervisor.report`
and :meth:`Supervisor.recovered`, so there is one list of what is wrong.
"""

from __future__ import annotations

import asyncio
import random
import traceback
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from crisisd.metrics import Metrics
from crisisd.redaction import redact

log = structlog.get_logger("crisisd.supervision")

Factory = Callable[[], Coroutine[Any, Any, None]]
Sleep = Callable[[float], Awaitable[None]]
OnFatal = Callable[[str, str], None]
_CAUSE_MAX = 300


@dataclass(frozen=True, slots=True)
class Backoff:
    """How a dead part comes back: exponential, jittered, capped; a budget for critical ones."""

    base: float = 0.5  # seconds before the first restart (times a jitter of 0.5–1)
    cap: float = 30.0  # never waits longer than this between restarts
    max_restarts: int = 5  # a critical part that dies this often in a row stops the daemon
    healthy_after: float = 60.0  # a part that ran this long starts its count of deaths afresh

    def delay(self, deaths: int, rng: random.Random) -> float:
        ceiling = min(self.cap, self.base * 2.0 ** max(0, deaths - 1))
        jitter: float = rng.uniform(0.5, 1.0)
        return ceiling * jitter


def describe(exc: BaseException) -> str:
    """A death's cause for logs and health: the exception, no secret, no traceback."""
    text = redact(str(exc)).strip()
    cause = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return cause[:_CAUSE_MAX]


def _where(exc: BaseException) -> str | None:
    """file:line of the innermost frame: enough to find the bug, nothing a traceback leaks."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return None
    last = frames[-1]
    return f"{Path(last.filename).name}:{last.lineno} in {last.name}"


class Supervisor:
    """Starts the daemon's parts, restarts the ones that die, and knows what is down now."""

    def __init__(
        self,
        *,
        backoff: Backoff = Backoff(),
        metrics: Metrics | None = None,
        on_fatal: OnFatal | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.backoff = backoff
        self.metrics = metrics
        self.on_fatal = on_fatal
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._faults: dict[str, str] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def spawn(
        self, name: str, factory: Factory, *, restart: bool = True, critical: bool = False
    ) -> asyncio.Task[None]:
        """Run ``factory()`` as the part ``name`` until it returns or is cancelled.

        Returns the supervising task: cancel it to stop the part, await it to wait for the
        end. ``factory`` is called again for every restart (a coroutine runs only once).
        """
        running = self._tasks.get(name)
        if running is not None and not running.done():
            raise ValueError(f"part {name!r} is already running")
        task = asyncio.create_task(self._run(name, factory, restart, critical), name=name)
        self._tasks[name] = task
        return task

    def faults(self) -> dict[str, str]:
        """Every part that is down right now, with the cause of its last death."""
        return dict(self._faults)

    def report(self, part: str, cause: str, *, standing: bool = True) -> None:
        """A part that is not a task (a scheduled job, a probe) failed: it is down until
        :meth:`recovered`. ``standing=False``: a one-off that will not run again to recover
        (a drill's start): counted, not shown as down."""
        fresh = part not in self._faults
        if standing:
            self._faults[part] = cause[:_CAUSE_MAX]
        if self.metrics is not None:
            if fresh:  # one outage counts once, however often a job fails during it
                self.metrics.part_failures.labels(part).inc()
            if standing:
                self.metrics.part_down.labels(part).set(1)

    def recovered(self, part: str) -> None:
        """``part`` works again (restarted, or its job succeeded)."""
        if self._faults.pop(part, None) is not None:
            log.info("supervision.recovered", part=part)
        if self.metrics is not None:
            self.metrics.part_down.labels(part).set(0)

    async def aclose(self) -> None:
        """Stop every part still running, the last started first."""
        tasks = [t for t in reversed(self._tasks.values()) if not t.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # we are being cancelled ourselves, not just the part

    def _now(self) -> float:
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    async def _run(self, name: str, factory: Factory, restart: bool, critical: bool) -> None:
        deaths = 0
        while True:
            started = self._now()
            try:
                await factory()
            except asyncio.CancelledError as exc:
                me = asyncio.current_task()
                if me is None or me.cancelling():
                    raise  # asked to stop: not a death
                cause, where = "CancelledError: cancelled from inside, nobody asked", _where(exc)
            except Exception as exc:  # noqa: BLE001 - a part's death is recorded and handled here
                cause, where = describe(exc), _where(exc)
            else:
                self.recovered(name)
                return  # its work is done (e.g. the flusher after a drain)
            if self._now() - started >= self.backoff.healthy_after:
                deaths = 0
            deaths += 1
            log.error("supervision.part_died", part=name, cause=cause, where=where, deaths=deaths)
            self.report(name, cause)
            if not restart or (critical and deaths > self.backoff.max_restarts):
                self._give_up(name, cause, critical)
                return
            delay = self.backoff.delay(deaths, self._rng)
            log.warning("supervision.restarting", part=name, after=round(delay, 2), deaths=deaths)
            await self._sleep(delay)
            self.recovered(name)

    def _give_up(self, name: str, cause: str, critical: bool) -> None:
        if critical:
            log.critical("supervision.fatal", part=name, cause=cause)
            if self.on_fatal is not None:
                self.on_fatal(name, cause)
        else:
            log.error("supervision.gave_up", part=name, cause=cause)
