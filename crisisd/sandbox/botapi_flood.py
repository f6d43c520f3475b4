"""Telegram's flood control, as its FAQ states it (https://core.telegram.org/bots/faq,
"My bot is hitting limits, how do I avoid this?"): about one message a second in one
chat, at most 20 messages a minute in a group, about 30 messages a second per bot.

A send that comes sooner is answered 429 with ``parameters.retry_after`` (whole seconds)
and counted as a *violation*; a client that keeps sending meanwhile gets 429 with the
seconds left (each counted too, and in ``inside_penalty``). With ``extend_penalty`` (as
messengers do to a client that ignores them) each such send starts the whole wait again.
The clock is injected, so tests step time.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Limit = Literal["chat", "group", "global"]


@dataclass(slots=True)
class Window:
    """At most ``capacity`` sends in any ``period`` seconds, with a flood-wait penalty."""

    capacity: int
    period: float
    times: deque[float] = field(default_factory=deque)
    penalty_until: float = 0.0
    penalty: float = 0.0  # the wait last announced

    @classmethod
    def per_second(cls, rate: float) -> Window:
        """``rate`` sends a second (below 1: one send every 1/rate seconds)."""
        period = max(1.0, 1.0 / rate)
        return cls(max(1, math.floor(rate * period + 1e-9)), period)

    def wait(self, now: float, tolerance: float) -> float:
        """Seconds the client should still wait before this send; 0 when it may go."""
        if now < self.penalty_until:
            return self.penalty_until - now
        horizon = now - self.period + tolerance
        while self.times and self.times[0] <= horizon:
            self.times.popleft()
        return 0.0 if len(self.times) < self.capacity else self.times[0] - horizon


class FloodControl:
    """The windows of one fake: per bot and chat, per bot and group, per bot."""

    def __init__(
        self,
        *,
        per_chat_per_second: float,
        group_per_minute: int,
        global_per_second: float,
        tolerance: float,
        clock: Callable[[], float],
    ) -> None:
        self.per_chat_per_second = per_chat_per_second
        self.group_per_minute = group_per_minute
        self.global_per_second = global_per_second
        # Requests travel a little: a client pacing itself at exactly the limit may land a
        # few milliseconds early. That slack is not counted as a violation.
        self.tolerance = tolerance
        self.clock = clock
        self.extend_penalty = False
        self.inside_penalty = 0  # sends that came while the client had been told to wait
        self._windows: dict[tuple[Limit, int, int], Window] = {}

    def check(self, bot_id: int, chat_id: int, is_group: bool) -> tuple[Limit, int] | None:
        """The limit this send breaks and the retry_after to answer, or None (then counted)."""
        now = self.clock()
        windows: list[tuple[Limit, Window]] = [("chat", self._chat(bot_id, chat_id))]
        if is_group:
            windows.append(("group", self._group(bot_id, chat_id)))
        windows.append(("global", self._global(bot_id)))
        for limit, window in windows:
            waiting = now < window.penalty_until  # already told to wait: the same answer
            if waiting:
                self.inside_penalty += 1
                if self.extend_penalty:
                    window.penalty_until = now + window.penalty
            wait = window.wait(now, self.tolerance)
            if wait > 0:
                retry_after = max(1, math.ceil(wait))
                if not waiting:
                    window.penalty_until = now + retry_after - self.tolerance
                    window.penalty = retry_after - self.tolerance
                return limit, retry_after
        for _limit, window in windows:
            window.times.append(now)
        return None

    def clear(self) -> None:
        self._windows.clear()

    def _chat(self, bot_id: int, chat_id: int) -> Window:
        key: tuple[Limit, int, int] = ("chat", bot_id, chat_id)
        return self._windows.setdefault(key, Window.per_second(self.per_chat_per_second))

    def _group(self, bot_id: int, chat_id: int) -> Window:
        key: tuple[Limit, int, int] = ("group", bot_id, chat_id)
        return self._windows.setdefault(key, Window(self.group_per_minute, 60.0))

    def _global(self, bot_id: int) -> Window:
        key: tuple[Limit, int, int] = ("global", bot_id, 0)
        return self._windows.setdefault(key, Window.per_second(self.global_per_second))
