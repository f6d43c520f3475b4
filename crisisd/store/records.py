"""Rows read from the store, as frozen dataclasses (no I/O; the hot ones frozen to the type
checker only: domain.hot_record)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, TypeAlias

from crisisd.domain import IncidentStatus, MessageStatus, Purpose, Rendering, hot_record


@dataclass(frozen=True, slots=True)
class IncidentRow:
    id: str
    factory: str
    incident_type: str
    severity: str
    status: IncidentStatus
    drill: bool
    reporter: str
    source: str
    details: str
    location: str
    casualties: str
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    update_number: int
    update_details: str
    update_every_s: int | None
    next_update_at: datetime | None
    idempotency_key: str | None
    drill_audiences: list[str] | None
    drill_window_end: datetime | None
    reported: bool

    @classmethod
    def from_row(cls, row: Any) -> IncidentRow:
        return cls(**{f: getattr(row, f) for f in cls.__slots__})


@hot_record
class MessageRow:
    id: int
    key: str
    incident_id: str
    purpose: Purpose
    step: int
    audience: str
    recipient: str
    lang: str
    channels: list[str]
    channel_index: int
    channel: str
    renderings: dict[str, dict[str, Any]]
    priority: int
    planned_at: datetime
    not_before: datetime
    status: MessageStatus
    attempts: int
    ack_required: bool
    ack_deadline: datetime | None
    ack_code: str
    acked_at: datetime | None
    escalate_to: str | None
    escalated: bool
    external: bool
    drill: bool
    sink_for: str | None
    sent_at: datetime | None
    sent_channel: str | None
    provider_id: str | None
    last_error: str | None

    @classmethod
    def from_row(cls, row: Any) -> MessageRow:
        return cls(**{f: getattr(row, f) for f in MESSAGE_FIELDS})

    def rendering(self, kind: str) -> Rendering:
        data = self.renderings[kind]
        made = _RENDERED.get(id(data))
        if made is None or made[0] is not data:
            if len(_RENDERED) >= 1024:
                _RENDERED.clear()
            made = _RENDERED[id(data)] = (data, Rendering(**data))
        return made[1]


MESSAGE_FIELDS = tuple(f.name for f in fields(MessageRow))  # in order: a claim returns these


# A claim's messages share their renderings' dicts (store/prepared.py), and each message's
# is wanted twice (to send it, and to record what was sent): one Rendering per dict. The
# dict is kept with it, so that its id is not reused while it is here.
_RENDERED: dict[int, tuple[dict[str, Any], Rendering]] = {}


# -- what a worker learned about one claimed message; recorded in batches -------------------
# A tagged union like the channels' SendResult: each case carries only what it needs, and
# Store.record handles each by ``match``.


@hot_record
class OutcomeSent:
    """Handed to the provider on ``channel``; the exact content goes to the audit trail."""

    message_id: int
    channel: str
    at: datetime
    provider_id: str
    incident_id: str
    recipient: str
    rendering: Rendering  # what was sent: text, template and its sha256


@dataclass(frozen=True, slots=True)
class OutcomeRetry:
    """Not now: try again on the same channel at ``not_before``."""

    message_id: int
    channel: str
    at: datetime
    reason: str
    not_before: datetime


@dataclass(frozen=True, slots=True)
class OutcomeFailover:
    """Given up on ``channel``: ``next_channel`` (``channels[channel_index]``) is tried at once,
    with a fresh retry budget."""

    message_id: int
    channel: str
    at: datetime
    reason: str
    channel_index: int
    next_channel: str


@dataclass(frozen=True, slots=True)
class OutcomeFailed:
    """No channel left: the message is failed for good (and the officer is told)."""

    message_id: int
    channel: str
    at: datetime
    reason: str


Outcome: TypeAlias = OutcomeSent | OutcomeRetry | OutcomeFailover | OutcomeFailed


@dataclass(frozen=True, slots=True)
class AuditEntry:
    incident_id: str | None
    at: datetime
    actor: str
    action: str
    channel: str | None = None
    detail: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class TaskRow:
    id: int
    incident_id: str
    title_fa: str
    title_en: str
    due_at: datetime
    done_at: datetime | None
    reminded_at: datetime | None


@dataclass(frozen=True, slots=True)
class AckResult:
    new: bool  # False: this person had already acknowledged
    incident_id: str
    recipient: str
    at: datetime
