"""SQLAlchemy Core tables: the same definitions serve SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from crisisd.domain import IncidentStatus, MessageStatus, Purpose

E = TypeVar("E", bound=StrEnum)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; stored as naive UTC on every backend."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use aware datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # pragma: no cover - SQLite returns datetimes via SA
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]


class EnumText(sa.TypeDecorator[E]):
    """A vocabulary enum stored as its text value: rows read back as the enum, and a value
    outside it fails at the store instead of travelling on. Plain text in the database
    (no database ENUM type), so the schema and its migrations are unchanged."""

    impl = sa.String
    cache_ok = True

    def __init__(self, enum: type[E], length: int) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> E | None:
        return None if value is None else self.enum(value)


metadata = sa.MetaData()

incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("factory", sa.String(64), nullable=False, index=True),
    sa.Column("incident_type", sa.String(64), nullable=False),
    sa.Column("severity", sa.String(64), nullable=False),
    sa.Column("status", EnumText(IncidentStatus, 16), nullable=False, index=True),
    sa.Column("drill", sa.Boolean, nullable=False, default=False),
    sa.Column("reporter", sa.String(128), nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("details", sa.Text, nullable=False, default=""),
    sa.Column("location", sa.Text, nullable=False, default=""),
    sa.Column("casualties", sa.String(16), nullable=False),
    sa.Column("opened_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("closed_at", UTCDateTime),
    sa.Column("update_number", sa.Integer, nullable=False, default=0),
    sa.Column("update_details", sa.Text, nullable=False, default=""),
    sa.Column("update_every_s", sa.Integer),
    sa.Column("next_update_at", UTCDateTime),
    sa.Column("idempotency_key", sa.String(200), unique=True),
    sa.Column("drill_audiences", sa.JSON),
    sa.Column("drill_window_end", UTCDateTime),
    sa.Column("reported", sa.Boolean, nullable=False, default=False),
)

# The conditions of the claim's partial indexes (below, and migration 0010).
PENDING_ONLY = "status = 'pending'"
SENDING_ONLY = "status = 'sending'"
# Messages that ended unsent: few, so the outbox depth is counted from indexes (gauges.py)
# with no index entry rewritten for the statuses every message passes through. (An IN
# list: SQLite tests NOT IN against a temporary table, a cost on every change of status.)
ENDED = (MessageStatus.FAILED, MessageStatus.CANCELLED)
ENDED_UNSENT = f"status IN ({', '.join(repr(s.value) for s in ENDED)})"


def _partial(name: str, *columns: str, where: str) -> sa.Index:
    """An index of the rows that meet ``where`` only, on SQLite and PostgreSQL alike."""
    condition = sa.text(where)
    return sa.Index(name, *columns, sqlite_where=condition, postgresql_where=condition)


messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(300), nullable=False, unique=True),
    sa.Column("incident_id", sa.String(16), sa.ForeignKey("incidents.id"), nullable=False),
    sa.Column("purpose", EnumText(Purpose, 16), nullable=False),
    sa.Column("step", sa.Integer, nullable=False),
    sa.Column("audience", sa.String(64), nullable=False),
    sa.Column("recipient", sa.String(128), nullable=False),
    sa.Column("lang", sa.String(8), nullable=False),
    sa.Column("channels", sa.JSON, nullable=False),
    sa.Column("channel_index", sa.Integer, nullable=False, default=0),
    sa.Column("channel", sa.String(64), nullable=False),  # channels[channel_index], for claims
    sa.Column("renderings", sa.JSON, nullable=False),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("planned_at", UTCDateTime, nullable=False),
    sa.Column("not_before", UTCDateTime, nullable=False),
    sa.Column("status", EnumText(MessageStatus, 16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("lease_until", UTCDateTime),
    sa.Column("worker", sa.String(64)),
    sa.Column("ack_required", sa.Boolean, nullable=False, default=False),
    sa.Column("ack_deadline", UTCDateTime),
    sa.Column("ack_code", sa.String(32), nullable=False, index=True),
    sa.Column("acked_at", UTCDateTime),
    sa.Column("acked_via", sa.String(64)),
    sa.Column("escalate_to", sa.String(64)),
    sa.Column("escalated", sa.Boolean, nullable=False, default=False),
    sa.Column("external", sa.Boolean, nullable=False, default=False),
    sa.Column("drill", sa.Boolean, nullable=False, default=False),
    sa.Column("sink_for", sa.String(64)),
    sa.Column("sent_at", UTCDateTime),
    sa.Column("sent_channel", sa.String(64)),
    sa.Column("provider_id", sa.String(200)),
    sa.Column("last_error", sa.Text),
    # The claim's indexes hold only the messages they find (migration 0010): pending ones
    # in claim order, claimed ones by lease. Each change of status is then one entry taken
    # out of one index, or put in, instead of an entry rewritten in all three; a sent
    # message leaves them for good. A query finds them only when it names the status as
    # written here, in its text (status_is), not as a bound parameter.
    _partial("ix_messages_due", "status", "priority", "not_before", "id", where=PENDING_ONLY),
    sa.Index("ix_messages_incident", "incident_id", "recipient"),
    sa.Index("ix_messages_ack", "ack_required", "acked_at", "escalated", "ack_deadline"),
    _partial(
        "ix_messages_channel_due",
        *("status", "channel", "priority", "not_before", "id"),
        where=PENDING_ONLY,
    ),
    _partial("ix_messages_lease", "status", "lease_until", where=SENDING_ONLY),
    _partial("ix_messages_ended", "status", where=ENDED_UNSENT),
)

attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.Integer, sa.ForeignKey("messages.id"), nullable=False, index=True),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("provider_id", sa.String(200)),
    sa.Column("reason", sa.Text),
)

acks = sa.Table(
    "acks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("incident_id", sa.String(16), sa.ForeignKey("incidents.id"), nullable=False),
    sa.Column("recipient", sa.String(128), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("via", sa.String(64), nullable=False),
    sa.Column("message_id", sa.Integer, sa.ForeignKey("messages.id")),
    sa.UniqueConstraint("incident_id", "recipient", name="uq_acks_incident_recipient"),
)

tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("incident_id", sa.String(16), sa.ForeignKey("incidents.id"), nullable=False),
    sa.Column("title_fa", sa.Text, nullable=False),
    sa.Column("title_en", sa.Text, nullable=False),
    sa.Column("due_at", UTCDateTime, nullable=False),
    sa.Column("done_at", UTCDateTime),
    sa.Column("reminded_at", UTCDateTime),
)

audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("incident_id", sa.String(16), index=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(64)),
    sa.Column("detail", sa.JSON, nullable=False),
)

settings = sa.Table(
    "settings",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

# Delivery receipts of sent SMS, one row per message, as the gateway's status API reported
# them last (state: delivered | undelivered | expired | pending | unknown | untracked).
receipts = sa.Table(
    "receipts",
    metadata,
    sa.Column("message_id", sa.Integer, sa.ForeignKey("messages.id"), primary_key=True),
    sa.Column("provider_id", sa.String(200), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("state_at", UTCDateTime),  # the provider's time for the state, when given
    sa.Column("detail", sa.String(200), nullable=False, default=""),
    sa.Column("checked_at", UTCDateTime, nullable=False),
    sa.Column("checks", sa.Integer, nullable=False, default=0),
    sa.Index("ix_receipts_state", "state", "checked_at"),
)

# Where the receipt poller looks for sent SMS (sent_channel, sent_at).
sa.Index("ix_messages_sent", messages.c.sent_channel, messages.c.sent_at)

# Who is reached on which messenger chat, as people connected themselves (enrolment: their
# phone number or an invite link) or as a directory chat id was found to fail. A row per
# contact, messenger and chat; its state says whether it reaches them now
# (active | stale: blocked the bot | retired: stopped, replaced or left the directory).
# At most one active chat per contact and messenger, and one contact per active chat.
_ACTIVE = "state = 'active'"
bindings = sa.Table(
    "bindings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("contact", sa.String(128), nullable=False),
    sa.Column("messenger", sa.String(64), nullable=False),
    sa.Column("chat_id", sa.BigInteger, nullable=False),
    sa.Column("how", sa.String(16), nullable=False),  # phone | invite | directory
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("bound_at", UTCDateTime, nullable=False),
    sa.Column("state_at", UTCDateTime, nullable=False),
    sa.Column("reason", sa.String(200), nullable=False, default=""),
    sa.Column("last_delivery_at", UTCDateTime),
    sa.Column("told_at", UTCDateTime),  # the officers were told it went stale
    sa.UniqueConstraint("contact", "messenger", "chat_id", name="uq_bindings_chat"),
    sa.Index(
        "ux_bindings_active_contact",
        "contact",
        "messenger",
        unique=True,
        sqlite_where=sa.text(_ACTIVE),
        postgresql_where=sa.text(_ACTIVE),
    ),
    sa.Index(
        "ux_bindings_active_chat",
        "messenger",
        "chat_id",
        unique=True,
        sqlite_where=sa.text(_ACTIVE),
        postgresql_where=sa.text(_ACTIVE),
    ),
)

# Invite links: one row per link (contact, messenger); the token carries the id and the
# expiry, signed; the row makes it single-use (used_at, used_chat) and revocable.
invites = sa.Table(
    "invites",
    metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("contact", sa.String(128), nullable=False),
    sa.Column("messenger", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(128), nullable=False),
    sa.Column("used_at", UTCDateTime),
    sa.Column("used_chat", sa.BigInteger),
    sa.Column("revoked_at", UTCDateTime),
    sa.Index("ix_invites_contact", "contact", "messenger"),
)

# Leader leases (store/leases.py): one row per role whose work must run once across the
# daemons sharing a PostgreSQL store (the scheduler, each messenger's long polling). The
# generation grows with every change of holder; leader-only writes check it (fencing).
leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(128), nullable=False),
    sa.Column("generation", sa.BigInteger, nullable=False),
    sa.Column("acquired_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
)

# Roll calls: every answer, refusal and report, append-only (the questions are the outbox's
# messages of purpose roll_call). kind: answer | escalated (its call for help is planned) |
# reported (named to the emergency team as not answering) | refused (matched no question:
# unknown number, unreadable reply, …).
# outcome says what it did: counted | after_close | duplicate | unknown_sender |
# shared_number | unreadable | no_question | reported. (source, source_id) names an inbound
# SMS at its gateway, so one polled twice is recorded once.
roll_call_events = sa.Table(
    "roll_call_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("incident_id", sa.String(16)),
    sa.Column("contact", sa.String(128)),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("answer", sa.String(8)),
    sa.Column("outcome", sa.String(24), nullable=False),
    sa.Column("location", sa.Text, nullable=False, default=""),
    sa.Column("via", sa.String(64), nullable=False),
    sa.Column("sender", sa.String(32)),
    sa.Column("text", sa.Text, nullable=False, default=""),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("source", sa.String(64)),
    sa.Column("source_id", sa.String(128)),
    sa.UniqueConstraint("source", "source_id", name="uq_roll_call_events_source"),
    sa.Index("ix_roll_call_events_incident", "incident_id", "contact", "id"),
)

# Where the roll call finds the question an SMS reply answers (a person's newest: the few
# questions to one person are sorted by time as they are read), and what reached a person.
# Without the time in it, recording an outcome (which sets not_before) leaves it alone.
sa.Index("ix_messages_recipient", messages.c.recipient, messages.c.purpose)

# Dashboard sign-in: one-time codes sent through the outbox (only an HMAC of the code is
# kept here), and sessions named by a random id in a signed cookie; a session ends at its
# expiry or when revoked (signed out), so a replayed cookie is refused.
signin_codes = sa.Table(
    "signin_codes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("contact", sa.String(128), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("used_at", UTCDateTime),
    sa.Column("tries", sa.Integer, nullable=False, default=0),
    sa.Index("ix_signin_codes_contact", "contact", "created_at"),
)

board_sessions = sa.Table(
    "board_sessions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("contact", sa.String(128), nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime),
)

# The dashboard pages incidents newest first.
sa.Index("ix_incidents_opened", incidents.c.opened_at)


def status_text(status: MessageStatus) -> sa.ColumnElement[str]:
    """A status written into the SQL text, not bound (see :func:`status_is`)."""
    return sa.literal_column(f"'{MessageStatus(status).value}'")


def status_is(status: MessageStatus) -> sa.ColumnElement[bool]:
    """``messages.status = '<status>'`` with the value written into the SQL text: a
    planner matches a partial index's condition against the query's own text (SQLite at
    prepare time, PostgreSQL for a generic plan), and a bound parameter never matches."""
    return messages.c.status == status_text(status)
