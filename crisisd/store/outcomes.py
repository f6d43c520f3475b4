"""How each kind of delivery outcome is written: the message row, the attempt, the audit.

Two ``UPDATE`` statements serve a batch (executemany): one for the messages sent, the common
case, with only what a send changes; and one for every other outcome, which fills its
parameters by ``match`` (a value it does not carry, ``None``, leaves the column as it is).
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any, assert_never

import sqlalchemy as sa

from crisisd.domain import MessageStatus, hot_record
from crisisd.store.jsontext import dumps, string
from crisisd.store.prepared import Encoded
from crisisd.store.records import (
    Outcome,
    OutcomeFailed,
    OutcomeFailover,
    OutcomeRetry,
    OutcomeSent,
)
from crisisd.store.tables import UTCDateTime, messages, status_is, status_text

_string = string  # a str as the store's dumps writes it (jsontext.py)


# The values each row carries, in this order (parameters of :func:`sent_statement` and
# :func:`update_statement`, and the columns of the attempts and audit tables).
SENT_NAMES = ("b_id", "b_at", "b_channel", "b_provider_id")
UPDATE_NAMES = ("b_id", "b_status", "b_not_before", "b_channel_index", "b_channel", "b_last_error")
ATTEMPT_NAMES = ("message_id", "channel", "at", "outcome", "provider_id", "reason")
AUDIT_NAMES = ("incident_id", "at", "actor", "action", "channel", "detail")


@hot_record
class Written:
    """The rows one outcome writes, as tuples of the values named above (a batch of
    outcomes becomes a few ``executemany`` runs; tuples cost far less than dicts)."""

    update: tuple[Any, ...]  # SENT_NAMES when sent, else UPDATE_NAMES
    attempt: tuple[Any, ...]  # ATTEMPT_NAMES
    audit: tuple[Any, ...] | None = None  # AUDIT_NAMES
    fresh_budget: bool = False  # a new channel starts with no attempts spent
    sent: bool = False  # written by sent_statement


def _ours(stmt: sa.Update, worker: str | None) -> sa.Update:
    """With ``worker``: only a claim still ours (or no one's) changes."""
    if worker is None:
        return stmt
    return stmt.where(sa.or_(messages.c.worker == worker, messages.c.worker.is_(None)))


@functools.lru_cache(maxsize=16)  # one per worker id; building costs more than running
def sent_statement(worker: str | None) -> sa.Update:
    """The update of a message sent: what :func:`update_statement` writes for a send, with
    the statuses written into the SQL and only what a send changes bound (a third of the
    parameters, and SQLite's time per row down by a quarter). A message cancelled while in
    flight is sent all the same, and says so."""
    at = sa.bindparam("b_at", type_=UTCDateTime)
    channel = sa.bindparam("b_channel", type_=sa.String)
    stmt = (
        sa.update(messages)
        .where(
            messages.c.id == sa.bindparam("b_id"),
            sa.or_(status_is(MessageStatus.SENDING), status_is(MessageStatus.CANCELLED)),
        )
        .values(
            status=status_text(MessageStatus.SENT),
            # the sent time, as it always was: the escalation sweep measures an alert's ack
            # window from it
            not_before=at,
            channel=channel,
            sent_at=at,
            sent_channel=channel,
            provider_id=sa.bindparam("b_provider_id"),
            last_error=sa.null(),
            lease_until=sa.null(),
            worker=sa.null(),
        )
    )
    return _ours(stmt, worker)


@functools.lru_cache(maxsize=16)  # one per worker id; building costs more than running
def update_statement(worker: str | None) -> sa.Update:
    """The update of a message not sent (retry, failover, failed): only claims still
    ``sending`` (and, with ``worker``, still ours) change; a message cancelled in flight
    stays cancelled."""
    stmt = (
        sa.update(messages)
        .where(messages.c.id == sa.bindparam("b_id"), status_is(MessageStatus.SENDING))
        .values(
            status=sa.bindparam("b_status"),
            not_before=sa.bindparam("b_not_before"),
            channel_index=sa.func.coalesce(
                sa.bindparam("b_channel_index", type_=sa.Integer), messages.c.channel_index
            ),
            channel=sa.bindparam("b_channel"),
            sent_at=sa.null(),
            sent_channel=sa.null(),
            provider_id=sa.null(),
            last_error=sa.bindparam("b_last_error"),
            lease_until=sa.null(),
            worker=sa.null(),
        )
    )
    return _ours(stmt, worker)


def written(o: Outcome, tails: dict[int, str]) -> Written:
    """The rows ``o`` writes; every kind of outcome is handled here and nowhere else.
    ``tails``: kept by the caller for a batch (see :func:`sent_detail`)."""
    match o:
        case OutcomeSent():
            return Written(
                (o.message_id, o.at, o.channel, o.provider_id),
                (o.message_id, o.channel, o.at, "sent", o.provider_id, None),
                audit=(
                    o.incident_id,
                    o.at,
                    "crisisd",
                    "message.sent",
                    o.channel,
                    sent_detail(o, tails),
                ),
                sent=True,
            )
        case OutcomeRetry():
            return Written(
                _update(
                    o.message_id, MessageStatus.PENDING, o.not_before, o.channel, error=o.reason
                ),
                (o.message_id, o.channel, o.at, "retry", None, o.reason),
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
                (o.message_id, o.channel, o.at, "failover", None, o.reason),
                fresh_budget=True,
            )
        case OutcomeFailed():
            return Written(
                _update(o.message_id, MessageStatus.FAILED, o.at, o.channel, error=o.reason),
                (o.message_id, o.channel, o.at, "failed", None, o.reason),
            )
        case _:
            assert_never(o)


def sent_detail(o: OutcomeSent, tails: dict[int, str]) -> Encoded:
    """The audit detail of a sent message, serialized as the store's ``dumps`` writes
    ``{"message_id", "recipient", "provider_id", "template", "sha256", "text"}`` (the audit
    holds the very text sent). Its longer part comes from the rendering, shared by many
    messages: ``tails`` keeps it by the rendering's id for the batch, whose outcomes keep
    the renderings (and so their ids) alive."""
    r = o.rendering
    tail = tails.get(id(r))
    if tail is None:
        tail = tails[id(r)] = (
            f', "template": {_json(r.template)}, "sha256": {_json(r.sha256)}'
            f', "text": {_json(r.text)}}}'
        )
    head = f'{{"message_id": {_json(o.message_id)}, "recipient": {_json(o.recipient)}'
    return Encoded(f'{head}, "provider_id": {_json(o.provider_id)}{tail}')


def _json(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return _string(value)
    if kind is int:  # as json.dumps writes an int (not a bool), without its encoder's setup
        return int.__repr__(value)
    return dumps(value)


def _update(
    message_id: int,
    status: MessageStatus,
    not_before: datetime,
    channel: str,
    *,
    channel_index: int | None = None,
    error: str | None = None,
) -> tuple[Any, ...]:
    # not_before is the failed time for a final outcome, as it always was: the escalation
    # sweep measures an alert's ack window from it.
    return (message_id, status, not_before, channel_index, channel, error)
