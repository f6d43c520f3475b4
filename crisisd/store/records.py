"""Rows read from the store, as frozen dataclasses (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from crisisd.domain import IncidentStatus, MessageStatus, Purpose, Rendering


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


@dataclass(frozen=True, slots=True)
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
        return cls(**{f: getattr(row, f) for f in cls.__slots__})

    def rendering(self, kind: str) -> Rendering:
        data = self.renderings[kind]
        return Rendering(**data)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a worker learned about one claimed message; recorded in batches.

    ``kind``: sent; retry (try again at ``next_at`` on the same channel); failover
    (permanent on this channel, move to ``channel_index`` at ``next_at``); failed
    (no channel left).
    """

    message_id: int
    kind: Literal["sent", "retry", "failover", "failed"]
    channel: str
    at: datetime
    provider_id: str | None = None
    reason: str | None = None
    next_at: datetime | None = None
    channel_index: int | None = None
    next_channel: str | None = None
    text: str | None = None  # exact text sent, for the audit trail
    sha256: str | None = None
    template: str | None = None
    incident_id: str | None = None
    recipient: str | None = None


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
