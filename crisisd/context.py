"""What the daemon's front doors (HTTP API, bots, scheduler) share: one object, no globals."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from crisisd.incidents import IncidentService
from crisisd.library.model import Library
from crisisd.metrics import Metrics
from crisisd.store import Store


@dataclass(slots=True)
class DaemonContext:
    """The running daemon as its parts see it. ``library()`` is the current (last good) set."""

    store: Store
    service: IncidentService
    metrics: Metrics
    library: Callable[[], Library]
    health: Callable[[], Awaitable[dict[str, Any]]]  # {"ok": bool, "store": ..., "channels": {...}}
    kick: Callable[[], None]  # wake the dispatcher after a commit
    ack_url: Callable[[str], str] | None = None  # message key -> signed ack link
