"""Per-channel and per-destination pacing, and what a 429 does to them.

Limits are enforced as even spacing (a leaky bucket of depth one): a burst would
let 2× the rate through inside a one-second window, which Telegram punishes.

A 429 for the whole channel (:meth:`Pacer.pause`) stops every send of the channel, the
bots' replies included (they share this pacer), until ``retry_after`` has passed: a request
inside the penalty only lengthens it. Then sends resume at half the rate that tripped, and
climb back to the configured rate over :data:`RAMP_SECONDS`; another 429 on the way halves
the rate again (down to :data:`SLOWEST`). A 429 for one chat (:meth:`Pacer.hold`) holds
that chat only.
"""

from __future__ import annotations

import time

from crisisd.channels.base import ChannelLimits

SAFETY = 0.97  # stay just under the published rate: clocks and windows are not exact
RAMP_SECONDS = 60.0  # after a 429, the rate climbs back to the configured one over this long
SLOWEST = 1 / 16  # repeated 429s never slow a channel below this share of its rate


class Pacer:
    """Hands out send times: never faster than the global rate or a destination's rate."""

    def __init__(self, limits: ChannelLimits, clock: object = time.monotonic) -> None:
        self.base_gap = 1.0 / (limits.rate_per_second * SAFETY)
        self._limits = limits
        self._paced = limits.per_destination_per_second or limits.per_group_per_second
        self._next = 0.0
        self._last_sent = float("-inf")  # when the outbox's latest request actually went
        self._dest_next: dict[str, float] = {}
        self._sent: dict[str, tuple[float | None, float]] = {}  # (previous send, latest)
        self._clock = clock
        self.paused_until = 0.0
        self._share = 1.0  # of the configured rate, right after the last 429
        self.pauses = 0

    def _now(self) -> float:
        now: float = self._clock()  # type: ignore[operator]
        return now

    @property
    def gap(self) -> float:
        """Seconds between two sends now: wider after a 429, narrowing back over the ramp."""
        if self._share >= 1.0:  # no 429 lately: asked a few times for every message sent
            return self.base_gap
        return self.base_gap / self.share()

    def share(self, now: float | None = None) -> float:
        """The share of the configured rate allowed now (1.0 when no 429 is recent)."""
        if self._share >= 1.0:
            return 1.0
        now = self._now() if now is None else now
        climbed = max(0.0, now - self.paused_until) / RAMP_SECONDS
        share = min(1.0, self._share + (1.0 - self._share) * climbed)
        if share >= 1.0:
            self._share = 1.0
        return share

    def pause(self, seconds: float) -> float:
        """The whole channel was told to wait ``seconds``: no send before then, and half the
        rate after. Returns the new share of the rate."""
        now = self._now()
        self._share = max(SLOWEST, self.share(now) / 2)
        self.paused_until = max(self.paused_until, now + seconds)
        self._next = max(self._next, self.paused_until)
        self.pauses += 1
        return self._share

    def hold(self, destination: str, seconds: float) -> None:
        """One chat was told to wait ``seconds``: only it waits."""
        now = self._now()
        self._dest_next[destination] = max(self._dest_next.get(destination, 0.0), now + seconds)

    def paused(self) -> float:
        """Seconds until the channel's pause ends (0 when it is not paused)."""
        return max(0.0, self.paused_until - self._now())

    def chat_explains(self, destination: str) -> bool:
        """Whether ``destination``'s own limit explains a 429 for it: it is being sent to at
        about its own rate (its previous send within two of its gaps), which Telegram's FAQ
        says earns a per-chat 429 sooner or later even when evenly spaced."""
        gap = self.dest_gap(destination)
        previous, latest = self._sent.get(destination, (None, 0.0))
        return previous is not None and gap > 0 and latest - previous < 2 * gap

    def _sent_to(self, destination: str, at: float, now: float) -> None:
        known = self._sent.get(destination)
        self._sent[destination] = (known[1] if known else None, at)
        if len(self._sent) > 50_000:
            self._sent = {k: v for k, v in self._sent.items() if v[1] > now - 600}

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
        at = max(now, self._next, self.paused_until)
        self._next = at + self.gap
        return at - now

    def take_floor(self) -> float:
        """Take the next request's turn: never closer than the published rate's own gap
        (``gap * SAFETY``) to the request before. Returns the seconds to wait for it.

        Slots are reserved ahead; a worker that wakes late for its slot (a busy loop) would
        send close behind the one before, and a server counting in one-second windows (Bale's
        "bot limit exceed") would see one request too many. The slack :data:`SAFETY` keeps
        absorbs the usual lateness, and only a late wake waits here.
        """
        now = self._now()
        wait = self.late(now)
        self._last_sent = now + wait
        self._next = max(self._next, self._last_sent + self.gap * SAFETY)
        return wait

    def late(self, now: float | None = None) -> float:
        """Seconds until the floor lets the next request go (see :meth:`take_floor`)."""
        now = self._now() if now is None else now
        return max(0.0, self._last_sent + self.gap * SAFETY - now)

    def hold_destination(self, destination: str, floor_taken: bool = False) -> float:
        """A message to ``destination`` is about to go: it waits its own gap before the next
        one. Unless the caller took the floor already (``floor_taken``, and then waited for
        it), the floor is taken here; returns the seconds still to wait before sending."""
        now = self._now()
        wait = 0.0 if floor_taken else self.take_floor()
        at = now + wait
        gap = self.dest_gap(destination) if self._paced else 0.0
        if gap:
            self._sent_to(destination, at, now)
            self._dest_next[destination] = at + gap
            if len(self._dest_next) > 50_000:
                self._dest_next = {k: v for k, v in self._dest_next.items() if v > now}
        return wait

    def reserve(self, destination: str) -> float:
        """Reserve the next global slot for ``destination``; returns seconds to wait for it.

        Call only when :meth:`dest_delay` is 0, so a busy destination never holds up
        the global queue.
        """
        now = self._now()
        at = max(now, self._next, self.paused_until)
        self._next = at + self.gap
        gap = self.dest_gap(destination) if self._paced else 0.0
        if gap:
            self._sent_to(destination, at, now)
            self._dest_next[destination] = at + gap
            if len(self._dest_next) > 50_000:
                self._dest_next = {k: v for k, v in self._dest_next.items() if v > now}
        return at - now
