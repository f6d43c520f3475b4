"""Delivery as /healthz shows it: each channel, the workers, the outbox's oldest due message.

``down`` names what is wrong: a channel whose server stopped answering (its breaker is
open), and an outbox that is stuck — a due message waiting longer than
:data:`STALLED_AFTER` while nothing was sent or recorded for :data:`STALL_IDLE`. A long
fan-out at a slow gateway's pace keeps old due messages too, but it keeps sending: that is
busy, not broken.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog

from crisisd.delivery.guard import ChannelGuard
from crisisd.redaction import redact
from crisisd.store import Store
from crisisd.supervision import Supervisor

log = structlog.get_logger("crisisd.delivery.health")

STALLED_AFTER = 300.0  # seconds a due message may wait before a quiet outbox is a fault
STALL_IDLE = 60.0  # "quiet": no send result for this long


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
