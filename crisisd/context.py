"""What the daemon's front doors (HTTP API, bots, scheduler) share: one object, no globals."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from crisisd.incidents import IncidentService
from crisisd.library.model import Library
from crisisd.metrics import Metrics
from crisisd.store import Store
from crisisd.supervision import Supervisor


@dataclass(slots=True)
class DaemonContext:
    """The running daemon as its parts see it. ``library()`` is the current (last good) set."""

    store: Store
    service: IncidentService
    metrics: Metrics
    library: Callable[[], Library]
    # {"ok": bool, "store": ..., "channels": {...}, "down": {part: cause}}
    health: Callable[[], Awaitable[dict[str, Any]]]
    kick: Callable[[], None]  # wake the dispatcher after a commit
    ack_url: Callable[[str], str] | None = None  # message key -> signed ack link
    # runs the parts' background tasks and jobs; the daemon's own one is shared with every part
    supervisor: Supervisor = field(default_factory=Supervisor)
