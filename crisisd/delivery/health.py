"""Delivery as /healthz shows it: each channel, the workers, the outbox's oldest due message.

``down`` names what is wrong: a channel whose server stopped answering (its breaker is
open), and an outbox that is stuck — a due message waiting longer than
:data:`STALLED_AFTER` while nothing was sent or recorded for :data:`STALL_IDLE`. A long
fan-out at a slow gateway's pace keeps old due messages too, but it keeps sending: that is
busy, not broken.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import structlog

from crisisd.channels.base import Channel
from crisisd.delivery.guard import ChannelGuard
from crisisd.redaction import redact
from crisisd.store import Store
from crisisd.supervision import Supervisor, describe

log = structlog.get_logger("crisisd.delivery.health")

STALLED_AFTER = 300.0  # seconds a due message may wait before a quiet outbox is a fault
STALL_IDLE = 60.0  # "quiet": no send result for this long
PROBE_TIMEOUT = 5.0  # a store that takes longer to take a one-row write is "down"
PROBE_EVERY = 1.0  # the probe row is written at most this often


class StoreProbe:
    """Whether the store takes a write, not just a read: a full disk, a read-only file or a
    locked database is "down: …". One settings row (``health:<worker>``) is written at most
    once per :data:`PROBE_EVERY`; the requests meanwhile share its answer."""

    def __init__(self, store: Store, worker: str) -> None:
        self.store = store
        self.key = f"health:{worker}"
        self._lock = asyncio.Lock()
        self._last: tuple[float, str] = (float("-inf"), "up")

    async def __call__(self) -> str:
        async with self._lock:
            now = asyncio.get_running_loop().time()
            if now - self._last[0] >= PROBE_EVERY:
                self._last = (now, await self._write())
            return self._last[1]

    async def _write(self) -> str:
        probe = self.store.put_setting(self.key, datetime.now(UTC).isoformat())
        try:
            await asyncio.wait_for(probe, PROBE_TIMEOUT)
        except TimeoutError:
            return f"down: a one-row write took over {PROBE_TIMEOUT:.0f}s"
        except Exception as exc:  # noqa: BLE001 - whatever the driver raised, the store is down
            return f"down: {describe(exc)}"
        return "up"


def merge(
    faults: dict[str, str], store: str, delivery: dict[str, Any], channels: Mapping[str, Channel]
) -> dict[str, Any]:
    """The daemon's whole /healthz report: the parts that are down (``faults``), the store
    probe's answer, delivery's report; a channel that reports its own health (SMS gateways)
    shows that while its breaker is closed."""
    down = dict(faults)
    if store != "up":
        down["store"] = store
    down.update(delivery.pop("down"))
    shown: dict[str, Any] = delivery.pop("channels")
    for name, channel in channels.items():
        report = getattr(channel, "health", None)
        if callable(report) and shown.get(name) == "up":
            shown[name] = report()
    return {"ok": not down, "store": store, "channels": shown, **delivery, "down": down}


async def delivery_health(
    store: Store,
    guard: ChannelGuard,
    supervisor: Supervisor,
    parts: int,
    progress: datetime,
    now: datetime,
) -> dict[str, Any]:
    """``parts``: the dispatcher's supervised parts; ``progress``: its last send result."""
    down: dict[str, str] = {}
    channels = guard.states()
    for name, state in channels.items():
        if state.startswith("down"):
            down[f"channel.{name}"] = state.removeprefix("down: ")
    dead = sum(1 for part in supervisor.faults() if part.startswith("dispatcher."))
    oldest: float | None = None
    try:
        due = await store.next_due()
    except Exception as exc:  # noqa: BLE001 - the store's own probe names the cause
        log.debug("delivery.health_no_store", error=redact(str(exc)))
    else:
        oldest = max(0.0, (now - due).total_seconds()) if due is not None else 0.0
        idle = (now - progress).total_seconds()
        if oldest > STALLED_AFTER and idle > STALL_IDLE:
            down["outbox"] = (
                f"the oldest due message has waited {oldest:.0f} s and nothing was sent "
                f"or recorded for {idle:.0f} s"
            )
    return {
        "channels": channels,
        "workers": {"alive": parts - dead, "expected": parts},
        "oldest_due_seconds": None if oldest is None else round(oldest, 1),
        "down": down,
    }
