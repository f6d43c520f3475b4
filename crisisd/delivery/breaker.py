"""A circuit breaker per channel: a server that stops answering is marked down at once.

Without it, a hung server costs every message its full budget of tries on that channel
(eight slow timeouts each) before the recipient's next channel is used. With it::

    up ──trip_after consecutive timeouts or lost connections──► down
    down ──a probe answers (SMTP EHLO, Bot API getMe), or a trial send gets a reply──► up

While a channel is down, a message whose step lists another channel is not sent on it but
moves there at once (``decide(..., channel_down=True)``); one with no other channel keeps
trying this one on its ordinary schedule (its budget is not spent on a guess, and its
answer, should one come, closes the breaker). Any reply from the server (even a refusal)
proves it answers, so only timeouts and lost connections (``Retry.unreachable``) count. A
channel that cannot be probed without sending gets one real send per probe period instead
(a trial).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from crisisd.channels.base import ChannelLimits, Retry, SendResult


@dataclass(slots=True)
class Breaker:
    """The state of one channel's server, as the dispatcher sees it."""

    name: str
    trip_after: int = 5
    probe_seconds: float = 5.0
    clock: Callable[[], float] = time.monotonic
    failures: int = 0  # consecutive timeouts or lost connections
    reason: str = ""  # why it is down (the last failure)
    down_since: float | None = None
    trips: int = 0
    _trial_at: float = field(default=0.0)

    @classmethod
    def for_limits(cls, name: str, limits: ChannelLimits) -> Breaker:
        return cls(name, max(1, limits.trip_after), limits.probe_seconds)

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def record(self, result: SendResult) -> bool:
        """Count a send's result; True when this result marked the channel down."""
        if isinstance(result, Retry) and result.unreachable:
            self.failures += 1
            self.reason = result.reason
            if not self.down and self.failures >= self.trip_after:
                self.down_since = self.clock()
                self._trial_at = self.down_since + self.probe_seconds
                self.trips += 1
                return True
            return False
        self.close()  # the server replied: whatever it said, it is there
        return False

    def close(self) -> bool:
        """The server answers again; True when the channel was down until now."""
        was_down = self.down
        self.failures = 0
        self.down_since = None
        return was_down

    def trial(self) -> bool:
        """For a channel with no probe: whether one real send may test the server now
        (once per probe period while down)."""
        if not self.down or self.clock() < self._trial_at:
            return False
        self._trial_at = self.clock() + self.probe_seconds
        return True

    def state(self) -> str:
        """ "up", or "down: <why>" (for /healthz)."""
        return f"down: {self.reason}" if self.down else "up"
