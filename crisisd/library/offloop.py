"""The collector around a reload: the other half of not stopping the event loop.

A reload loads and checks in a child process (``isolated.py``) and puts the result
together on the loop in small slices, but that alone is not enough: a province's library
is ~160,000 objects, and CPython's cyclic garbage collector, triggered by allocations,
holds the GIL while it scans every tracked object of the oldest generation. Measured with
100 playbooks and 10,000 contacts (``bench/reload.py``), those full collections stopped
the loop for 110–200 ms at a time.

So (``gc.freeze`` moves every tracked object to a permanent generation that later
collections ignore; the ``gc`` module's documentation, Python 3.7+):

- what is alive when the daemon is ready is frozen: later collections do not scan it;
- the collector is off while a reload runs (reference counting still frees everything
  that is not in a cycle, so memory stays bounded for the few seconds a load takes) and
  the new library is frozen once it is in force;
- the old library is kept, and its few cyclic leftovers (about 2,000 objects per reload,
  measured) wait in the frozen generation, until the outbox is idle; then
  :meth:`HeapCare.tidy` lets it go, unfreezes, collects once (a pause nobody waits on) and
  freezes again. A reload that comes first lets the one before go (one retired at most).
"""

from __future__ import annotations

import gc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import structlog

log = structlog.get_logger("crisisd.library.offloop")

T = TypeVar("T")


@dataclass(slots=True)
class HeapCare:
    """The daemon's use of the collector around reloads; one per daemon."""

    dirty: bool = False  # a replaced library's cycles wait in the frozen generation
    retired: object = None  # the library last replaced, freed when the outbox is idle

    def settle(self) -> None:
        """Freeze what is alive now (at start, and once a new library is in force)."""
        gc.freeze()

    def release(self) -> None:
        """At shutdown: everything frozen goes back to the collector's care."""
        gc.unfreeze()
        self.retired = None
        self.dirty = False

    async def load(self, load: Callable[[], Awaitable[T]]) -> T:
        """Await ``load()`` with the cyclic collector paused meanwhile."""
        was_on = gc.isenabled()
        gc.disable()
        try:
            return await load()
        finally:
            # what the load made is frozen before the collector comes back: else its first
            # collection would scan all of it at once (~40 ms measured during a fan-out);
            # a failed load's leftovers wait for tidy() like a replaced library's
            gc.freeze()
            self.dirty = True
            if was_on:
                gc.enable()

    def replaced(self, old: object) -> None:
        """A new library is in force: freeze it, and keep ``old`` until the outbox is idle
        (freeing ~160,000 objects at once holds the loop ~15 ms, on top of whatever the
        busy loop was doing)."""
        self.settle()
        self.retired = old
        self.dirty = True

    def tidy(self) -> int:
        """Collect the frozen leftovers of replaced libraries. Call only when idle: the
        collection scans the whole heap with the GIL held (~0.1–0.2 s for a province)."""
        if not self.dirty:
            return 0
        self.retired = None
        gc.unfreeze()
        found = gc.collect()
        gc.freeze()
        self.dirty = False
        log.info("reload.heap_tidied", unreachable=found)
        return found
