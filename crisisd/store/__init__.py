"""Durable state on SQLite (default) or PostgreSQL: same code, chosen by URL."""

from crisisd.store.core import Store
from crisisd.store.records import (
    AckResult,
    AuditEntry,
    IncidentRow,
    MessageRow,
    Outcome,
    OutcomeFailed,
    OutcomeFailover,
    OutcomeRetry,
    OutcomeSent,
    TaskRow,
)

__all__ = [
    "AckResult",
    "AuditEntry",
    "IncidentRow",
    "MessageRow",
    "Outcome",
    "OutcomeFailed",
    "OutcomeFailover",
    "OutcomeRetry",
    "OutcomeSent",
    "Store",
    "TaskRow",
]
