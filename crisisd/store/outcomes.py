"""How each kind of delivery outcome is written: the message row, the attempt, the audit.

One ``UPDATE`` serves the whole batch (executemany); each outcome fills its parameters by
``match``, and a value it does not carry (``None``) leaves the column as it is.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any, assert_never

import sqlalchemy as sa

from crisisd.domain import MessageStatus
from crisisd.store.records import (
    Outcome,
    OutcomeFailed,
    OutcomeFailover,
    OutcomeRetry,
    OutcomeSent,
)
from crisisd.store.tables import messages


@dataclass(frozen=True, slots=True)
class Written:
    """The rows one outcome writes."""

    update: dict[str, Any]  # parameters of :func:`update_statement`
    attempt: dict[str, Any]  # a row of the attempts table
    audit: dict[str, Any] | None = None  # a row of the audit table
    fresh_budget: bool = False  # a new channel starts with no attempts spent


@functools.lru_cache(maxsize=16)  # one per worker id; building costs more than running
def update_statement(worker: str | None) -> sa.Update:
    """The message update for a batch: only claims still ``sending`` (and, with ``worker``,
    still ours) change; a message cancelled in flight stays cancelled unless it was sent."""
    stmt = (
        sa.update(messages)
        .where(messages.c.id == sa.bindparam("b_id"))
        .where(
            sa.or_(
                messages.c.status == MessageStatus.SENDING,
                sa.and_(
                    messages.c.status == MessageStatus.CANCELLED,
                    sa.bindparam("b_sent", type_=sa.Boolean),
                ),
            )
        )
        .values(
            status=sa.bindparam("b_status"),
            not_before=sa.bindparam("b_not_before"),
            channel_index=sa.func.coalesce(
                sa.bindparam("b_channel_index", type_=sa.Integer), messages.c.channel_index
            ),
            channel=sa.bindparam("b_channel"),
            sent_at=sa.bindparam("b_sent_at"),
            sent_channel=sa.bindparam("b_sent_channel"),
            provider_id=sa.bindparam("b_provider_id"),
            last_error=sa.bindparam("b_last_error"),
            lease_until=None,
            worker=None,
        )
    )
    if worker is not None:
        stmt = stmt.where(sa.or_(messages.c.worker == worker, messages.c.worker.is_(None)))
    return stmt


def written(o: Outcome) -> Written:
    """The rows ``o`` writes; every kind of outcome is handled here and nowhere else."""
    match o:
        case OutcomeSent():
            return Written(
                _update(
                    o.message_id,
                    MessageStatus.SENT,
                    o.at,
                    o.channel,
                    sent=True,
                    provider_id=o.provider_id,
                ),
                _attempt(o.message_id, o.channel, o.at, "sent", provider_id=o.provider_id),
                audit={
                    "incident_id": o.incident_id,
                    "at": o.at,
                    "actor": "crisisd",
                    "action": "message.sent",
                    "channel": o.channel,
                    "detail": {
                        "message_id": o.message_id,
                        "recipient": o.recipient,
                        "provider_id": o.provider_id,
                        "template": o.rendering.template,
                        "sha256": o.rendering.sha256,
                        "text": o.rendering.text,
                    },
                },
            )
        case OutcomeRetry():
            return Written(
                _update(
                    o.message_id, MessageStatus.PENDING, o.not_before, o.channel, error=o.reason
                ),
                _attempt(o.message_id, o.channel, o.at, "retry", reason=o.reason),
            )
        case OutcomeFailover():
            return Written(
                _update(
                    o.message_id,
                    MessageStatus.PENDING,
                    o.at,  # the next channel is tried at once
                    o.next_channel,
                    channel_index=o.channel_index,
                    error=o.reason,
                ),
                _attempt(o.message_id, o.channel, o.at, "failover", reason=o.reason),
                fresh_budget=True,
            )
        case OutcomeFailed():
            return Written(
                _update(o.message_id, MessageStatus.FAILED, o.at, o.channel, error=o.reason),
                _attempt(o.message_id, o.channel, o.at, "failed", reason=o.reason),
            )
        case _:
            assert_never(o)


def _update(
    message_id: int,
    status: MessageStatus,
    not_before: datetime,
    channel: str,
    *,
    sent: bool = False,
    provider_id: str | None = None,
    channel_index: int | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    # not_before is the sent or failed time for a final outcome, as it always was: the
    # escalation sweep measures an alert's ack window from it.
    return {
        "b_id": message_id,
        "b_sent": sent,
        "b_status": status,
        "b_not_before": not_before,
        "b_channel_index": channel_index,
        "b_channel": channel,
        "b_sent_at": not_before if sent else None,
        "b_sent_channel": channel if sent else None,
        "b_provider_id": provider_id,
        "b_last_error": error,
    }


def _attempt(
    message_id: int,
    channel: str,
    at: datetime,
    outcome: str,
    *,
    provider_id: str | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "channel": channel,
        "at": at,
        "outcome": outcome,
        "provider_id": provider_id,
        "reason": reason,
    }
