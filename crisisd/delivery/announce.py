"""What the dispatcher says of an outcome that is not a send: a retry, a failover or a final
failure is logged, and a final failure (and only that) tells the officer."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import structlog

from crisisd.store import MessageRow, Outcome, OutcomeFailed, OutcomeFailover, OutcomeRetry

log = structlog.get_logger("crisisd.delivery.dispatcher")  # as the dispatcher logged them

OnFinal = Callable[[MessageRow, str], Coroutine[Any, Any, None]]
Notify = Callable[[Coroutine[Any, Any, None]], None]


def announce(msg: MessageRow, outcome: Outcome, on_final: OnFinal | None, notify: Notify) -> None:
    bound = log.bind(incident_id=msg.incident_id, channel=msg.channel, message_id=msg.id)
    match outcome:
        case OutcomeRetry(reason=reason, not_before=at):
            after = (at - outcome.at).total_seconds()
            bound.info(
                "delivery.retrying", reason=reason, after=round(after, 2), attempt=msg.attempts
            )
        case OutcomeFailover(reason=reason, next_channel=next_channel):
            bound.warning("delivery.failover", reason=reason, next_channel=next_channel)
        case OutcomeFailed(reason=reason):
            bound.error("delivery.failed", reason=reason, recipient=msg.recipient)
            if on_final is not None:
                notify(on_final(msg, reason))
