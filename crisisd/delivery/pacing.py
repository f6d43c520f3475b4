"""Per-channel and per-destination pacing.

Limits are enforced as even spacing (a leaky bucket of depth one): a burst would
let 2× the rate through inside a one-second window, which Telegram punishes.
"""

from __future__ import annotations

import time

from crisisd.channels.base import ChannelLimits

SAFETY = 0.97  # stay just under the published rate: clocks and windows are not exact


class Pacer:
    """Hands out send times: never faster than the global rate or a destination's rate."""

    def __init__(self, limits: ChannelLimits, clock: object = time.monotonic) -> None:
        self.gap = 1.0 / (limits.rate_per_second * SAFETY)
        self._limits = limits
        self._paced = limits.per_destination_per_second or limits.per_group_per_second
        self._next = 0.0
        self._dest_next: dict[str, float] = {}
        self._clock = clock

    def _now(self) -> float:
        now: float = self._clock()  # type: ignore[operator]
        return now

    def dest_gap(self, destination: str) -> float:
        """Seconds between two sends to ``destination`` (a group chat's is longer)."""
        rate = self._limits.destination_rate(destination)
        return 1.0 / (rate * SAFETY) if rate else 0.0

    def dest_delay(self, destination: str) -> float:
        """Seconds until ``destination`` may receive again (nothing is reserved)."""
        if not self._paced:
            return 0.0
        return max(0.0, self._dest_next.get(destination, 0.0) - self._now())

    def reserve_slot(self) -> float:
        """Reserve the next global slot for a message chosen when the slot comes; returns
        seconds to wait for it. Pair with :meth:`hold_destination` once it is chosen."""
        now = self._now()
        at = max(now, self._next)
        self._next = at + self.gap
        return at - now

    def hold_destination(self, destination: str) -> None:
        """``destination`` is being sent to now: it waits its own gap before the next one."""
        gap = self.dest_gap(destination) if self._paced else 0.0
        if gap:
            now = self._now()
            self._dest_next[destination] = now + gap
            if len(self._dest_next) > 50_000:
                self._dest_next = {k: v for k, v in self._dest_next.items() if v > now}

    def reserve(self, destination: str) -> float:
        """Reserve the next global slot for ``destination``; returns seconds to wait for it.

        Call only when :meth:`dest_delay` is 0, so a busy destination never holds up
        the global queue.
        """
        now = self._now()
        at = max(now, self._next)
        self._next = at + self.gap
        gap = self.dest_gap(destination) if self._paced else 0.0
        if gap:
            self._dest_next[destination] = at + gap
            if len(self._dest_next) > 50_000:
                self._dest_next = {k: v for k, v in self._dest_next.items() if v > now}
        return at - now
