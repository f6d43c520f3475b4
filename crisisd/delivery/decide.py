"""Retry and failover as one pure function: a send's result in, the outcome to record out.

The message row says where delivery stands (its channels in order, the index of the one
in use, the attempts spent on it, counting the claim that made this send); the result is
the channel's own classification (DESIGN.md, "The Channel protocol"); the policy bounds
the attempts per channel and spaces them. No clock, no randomness, no I/O: the dispatcher
passes the time and the jitter, and the store applies the outcome (a failover resets the
attempts, so the next channel starts with a fresh budget).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from crisisd.channels.base import Failed, Retry, SendResult, Sent
from crisisd.domain import channel_kind
from crisisd.store import (
    MessageRow,
    Outcome,
    OutcomeFailed,
    OutcomeFailover,
    OutcomeRetry,
    OutcomeSent,
)

JITTER = (0.5, 1.0)  # each delay is a random share of its ceiling, so retries spread out


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter and a cap; a channel that keeps failing is left."""

    base: float = 2.0
    cap: float = 300.0
    max_attempts_per_channel: int = 8

    def ceiling(self, attempt: int) -> float:
        """The longest wait after ``attempt`` tries: doubling from ``base`` up to ``cap``."""
        return min(self.cap, self.base * (2.0 ** max(0, attempt - 1)))

    def delay(self, attempt: int, rng: random.Random) -> float:
        return self.ceiling(attempt) * rng.uniform(*JITTER)


def decide(
    message: MessageRow,
    result: SendResult,
    policy: RetryPolicy,
    now: datetime,
    *,
    jitter: float = JITTER[1],
    channel_down: bool = False,
) -> Outcome:
    """What to record after ``message`` was sent on its current channel with ``result``.

    Sent is recorded with the exact rendering. A transient failure is tried again on the
    same channel, never before the channel's ``retry_after`` nor before the backoff, while
    the channel's budget lasts. A permanent failure, or a spent budget, moves to the next
    channel at once; with no channel left the message has failed, the one outcome that
    tells the officer. ``jitter`` (within :data:`JITTER`) scales the backoff.
    ``channel_down``: the channel's circuit breaker is open (delivery/breaker.py): a
    transient failure moves to the next channel at once when the step lists one, and
    otherwise waits as usual.
    """
    match result:
        case Sent(provider_id=provider_id):
            return OutcomeSent(
                message.id,
                message.channel,
                now,
                provider_id,
                message.incident_id,
                message.recipient,
                message.rendering(channel_kind(message.channel)),
            )
        case Retry(reason=reason) if channel_down and message.channel_index + 1 < len(
            message.channels
        ):
            return _leave_channel(message, f"{message.channel} is down: {reason}", now)
        case Retry(after=after, reason=reason) if (
            message.attempts < policy.max_attempts_per_channel
        ):
            wait = max(after, policy.ceiling(message.attempts) * jitter)
            return OutcomeRetry(
                message.id, message.channel, now, reason, now + timedelta(seconds=wait)
            )
        case Retry(reason=reason) | Failed(reason=reason):
            return _leave_channel(message, reason, now)


def _leave_channel(message: MessageRow, reason: str, now: datetime) -> Outcome:
    nxt = message.channel_index + 1
    if nxt < len(message.channels):
        return OutcomeFailover(message.id, message.channel, now, reason, nxt, message.channels[nxt])
    return OutcomeFailed(message.id, message.channel, now, reason)
