"""What a channel's failures do to the channel as a whole: flood waits and the breaker.

The dispatcher asks :meth:`ChannelGuard.blocked` before it sends and tells
:meth:`ChannelGuard.observe` every result. A 429 for the whole bot pauses that channel's
pacer (every queued message waits, the bots' replies too) and halves its rate; a 429 that
the chat's own limit explains holds that chat only (delivery/pacing.py). Timeouts and lost
connections feed the channel's :class:`~crisisd.delivery.breaker.Breaker`; when it trips,
the channel's server is probed every ``probe_seconds`` until it answers, and
``on_down(channel, reason)`` is called once per outage (the daemon tells the officers).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import structlog

from crisisd.channels.base import Channel, Probed, Retry, SendResult
from crisisd.delivery.breaker import Breaker
from crisisd.delivery.pacing import Pacer
from crisisd.metrics import Metrics
from crisisd.redaction import redact
from crisisd.supervision import Supervisor

log = structlog.get_logger("crisisd.delivery.guard")

OnDown = Callable[[str, str], Coroutine[Any, Any, None]]
Spawn = Callable[[Coroutine[Any, Any, None]], None]


class ChannelGuard:
    """Flood waits and circuit breakers of every channel of one dispatcher."""

    def __init__(
        self,
        channels: Mapping[str, Channel],
        pacers: Mapping[str, Pacer],
        supervisor: Supervisor,
        metrics: Metrics | None = None,
        on_down: OnDown | None = None,
        notify: Spawn | None = None,
    ) -> None:
        self.channels = channels
        self.pacers = pacers
        self.supervisor = supervisor
        self.metrics = metrics
        self.on_down = on_down
        self.notify = notify
        self.breakers = {name: Breaker.for_limits(name, ch.limits) for name, ch in channels.items()}
        for name in channels:
            if metrics is not None:
                metrics.channel_down.labels(name).set(0)

    def down(self, name: str) -> bool:
        breaker = self.breakers.get(name)
        return breaker is not None and breaker.down

    def blocked(self, name: str, elsewhere: bool = True) -> Retry | None:
        """The result to record instead of sending while ``name`` is down; None: send (it
        is up; the message has no other channel to go to, so it tries this one on its own
        schedule as before; or this send is the trial of a channel that cannot be probed)."""
        breaker = self.breakers[name]
        if not breaker.down or not elsewhere:
            return None
        if not isinstance(self.channels[name], Probed) and breaker.trial():
            return None
        return Retry(breaker.probe_seconds, breaker.reason, unreachable=True)

    def observe(self, name: str, address: str, result: SendResult) -> None:
        """Learn from one send's result: flood waits, and the breaker's count."""
        if isinstance(result, Retry) and result.scope != "message":
            self._flood(name, address, result)
        breaker = self.breakers[name]
        was_down = breaker.down
        if breaker.record(result):
            self._tripped(name, breaker)
        elif was_down and not breaker.down:
            self._recovered(name, "a send got a reply")

    def states(self) -> dict[str, str]:
        """Each channel as /healthz shows it: "up", "down: …" or "paused: …" (a 429)."""
        out: dict[str, str] = {}
        for name, breaker in self.breakers.items():
            paused = self.pacers[name].paused()
            if breaker.down:
                out[name] = breaker.state()
            elif paused > 0:
                out[name] = f"paused: flood control, {paused:.0f} s left"
            else:
                out[name] = "up"
        return out

    def _flood(self, name: str, address: str, result: Retry) -> None:
        pacer = self.pacers[name]
        if result.scope == "chat" or pacer.chat_explains(address):
            pacer.hold(address, result.after)
            scope = "chat"
        else:
            share = pacer.pause(result.after)
            scope = "channel"
            log.warning(
                "delivery.flood_wait",
                channel=name,
                seconds=result.after,
                rate_share=round(share, 3),
                reason=result.reason,
            )
        if self.metrics is not None:
            self.metrics.channel_floods.labels(name, scope).inc()

    def _tripped(self, name: str, breaker: Breaker) -> None:
        log.error(
            "delivery.channel_down",
            channel=name,
            failures=breaker.failures,
            reason=redact(breaker.reason),
            probe_every=breaker.probe_seconds,
        )
        if self.metrics is not None:
            self.metrics.channel_down.labels(name).set(1)
            self.metrics.channel_trips.labels(name).inc()
        channel = self.channels[name]
        if isinstance(channel, Probed):
            probe = functools.partial(self._probe_loop, name, channel)
            self.supervisor.spawn(f"dispatcher.probe.{name}", probe)
        if self.on_down is not None and self.notify is not None:
            self.notify(self.on_down(name, redact(breaker.reason)))

    def _recovered(self, name: str, how: str) -> None:
        log.warning("delivery.channel_up", channel=name, how=how)
        if self.metrics is not None:
            self.metrics.channel_down.labels(name).set(0)

    async def _probe_loop(self, name: str, channel: Probed) -> None:
        breaker = self.breakers[name]
        while breaker.down:
            await asyncio.sleep(breaker.probe_seconds)
            if not breaker.down:
                return  # a trial send brought it back meanwhile
            problem = await channel.probe()
            if problem is None:
                if breaker.close():
                    self._recovered(name, "the probe got an answer")
                return
            breaker.reason = redact(problem)
            log.info("delivery.probe_failed", channel=name, reason=breaker.reason)
