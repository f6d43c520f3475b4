"""An incident's first claim, made in the transaction that opens it.

An alert used to wait after its open's commit for the dispatcher: the kick, then a claim
(a trip to aiosqlite's thread, or a round trip to PostgreSQL, behind a backlog claim or a
record in flight) that found the very messages the open had just written. On bench/core.py's
probes that was a third of the time from ``open`` to the first send with an empty outbox,
and most of the slowest opens' time behind a backlog. Now the daemon's dispatcher says what
it would take (:class:`Take`: its worker, its lease, how many, which channels have room); the
open writes those of its messages already claimed (``sending``, leased to that worker, one
attempt, as a claim leaves them), reads them back in the same transaction as a claim does
(on PostgreSQL from their insert's ``RETURNING``: pgopen.py), and once it is committed hands
them to the dispatcher's queues. The rest wait for a claim as
before (the kick still comes).

Nothing is lost when the daemon dies between the commit and the sends: the messages are
leased like any claim, given back when the daemon starts again or claimed again once the
lease runs out. When the open fails after they were taken (cancelled while its commit was
under way), they are given back at once and once more a moment later
(:func:`give_back_later`); when that fails too (the store is why the open failed), the
lease brings them back. Only a small open takes (one chunk: it commits moments after the
lease starts). A dispatcher that is stopping gives back what it is handed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import structlog

from crisisd.domain import PlannedMessage
from crisisd.store.claims import CLAIMED, claimed_packed, unpack_renderings
from crisisd.store.opening import Lease
from crisisd.store.prepared import Prepared, PreparedCache
from crisisd.store.records import MessageRow

log = structlog.get_logger("crisisd.store.taking")
Hand = Callable[[list[MessageRow]], None]


@dataclass(frozen=True, slots=True)
class Take:
    """What a dispatcher takes of an incident it did not claim yet: up to ``limit`` of its
    messages due at ``now``, most urgent first, on a channel in ``room``, or in ``ahead``
    when more urgent than the priority given there (that channel's queue is full: the same
    rule as its claims), leased to ``worker`` until ``until``; ``hand`` gets them once they
    are committed."""

    worker: str
    now: datetime
    until: datetime
    limit: int
    room: frozenset[str]
    ahead: Mapping[str, int]
    hand: Hand = field(compare=False)


class Taker(Protocol):
    """What takes an open's first messages (the dispatcher)."""

    def taking(self) -> Take | None:
        """What it would take now; None when it takes none (stopping, not started)."""


def chosen(planned: Sequence[PlannedMessage], take: Take) -> list[PlannedMessage]:
    """The messages of ``planned`` that ``take`` takes, in the order a claim would."""
    fits = []
    for at, m in enumerate(planned):
        if not m.channels or m.not_before > take.now:  # unreachable, or a later step
            continue
        first = m.channels[0]
        cap = take.ahead.get(first)
        if first in take.room or (cap is not None and m.priority < cap):
            fits.append((m.priority, m.not_before, at, m))
    fits.sort(key=lambda f: f[:3])
    return [f[3] for f in fits[: take.limit]]


def packed_read(prepared: PreparedCache, lease: Lease) -> tuple[Prepared, tuple[Any, ...]]:
    """SQLite: the statement that reads the taken messages back packed, and its parameters
    (:func:`crisisd.store.opening.open_in_one_trip` runs it in the open's trip)."""
    packed = prepared.get("claimed", claimed_packed, CLAIMED)
    return packed, packed.params({"until": lease[0], "worker": lease[1]})


def taken_of(packed: Prepared, text: str | None) -> list[MessageRow]:
    """The messages in what :func:`packed_read`'s statement returned."""
    return in_claim_order(packed.unpacked(text, unpack_renderings))


def in_claim_order(rows: list[list[Any]]) -> list[MessageRow]:
    """Rows of taken messages, most urgent first, as a claim hands them over."""
    taken = [MessageRow(*r) for r in rows]
    taken.sort(key=lambda m: (m.priority, m.not_before, m.id))
    return taken


AGAIN_AFTER = 2.0  # seconds before the give-back of a failed open is made once more


def give_back_later(
    pending: set[asyncio.Task[Any]],
    give_back: Callable[[], Coroutine[Any, Any, Any]],
    lease: Lease,
) -> None:
    """Give back in the background what an open that failed had taken (nothing, when its
    transaction was rolled back); ``pending`` keeps the task until it is done. Made twice:
    on PostgreSQL a commit cut short may still land after the first (the open's connection
    was lost as it committed), and only this daemon knows those messages are nobody's."""
    task = asyncio.get_running_loop().create_task(_twice(give_back, lease))
    pending.add(task)
    task.add_done_callback(pending.discard)


async def _twice(give_back: Callable[[], Coroutine[Any, Any, Any]], lease: Lease) -> None:
    for attempt in range(2):
        if attempt:
            await asyncio.sleep(AGAIN_AFTER)
        try:
            await give_back()
        except Exception as exc:  # noqa: BLE001 - the store failing is why the open failed
            until = lease[0].isoformat()
            log.warning("store.give_back_failed", error=type(exc).__name__, leased_until=until)
