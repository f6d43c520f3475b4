"""Domain types: plain frozen dataclasses with no I/O."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, TypeVar, dataclass_transform
from urllib.parse import urlsplit

_R = TypeVar("_R")


@dataclass_transform(frozen_default=True)
def hot_record(cls: type[_R]) -> type[_R]:
    """A frozen, slotted dataclass to the type checker (mypy --strict refuses an assignment
    to a field), built without the frozen ``__setattr__`` at run time: a frozen dataclass's
    ``__init__`` sets each field through ``object.__setattr__``, 2.9 µs for a message row's
    30 fields against 0.3 µs. For the rows made once per message sent (the claim's row, the
    outbound message, the outcome and the rows it writes): with them, bench/core.py's SQLite
    drain went from 15.0–17.4k to 18.3–19.1k messages/s (medians of three, five interleaved
    pairs). Hashed from its fields, as a frozen one is (``unsafe_hash``: no field is ever
    assigned, so the hash never changes)."""
    return dataclass(slots=True, unsafe_hash=True)(cls)


class Casualties(StrEnum):
    """What the reporter knows of casualties; ``yes`` (stored before injured and fatalities
    were told apart) reads as injured."""

    NONE = "none"
    INJURED = "injured"
    FATALITIES = "fatalities"
    UNKNOWN = "unknown"

    @classmethod
    def _missing_(cls, value: object) -> Casualties | None:
        return cls.INJURED if value == "yes" else None

    @property
    def countable(self) -> bool:
        """Whether a number of people goes with it."""
        return self in (Casualties.INJURED, Casualties.FATALITIES)


# Readable over the phone: no 0/O, 1/I/L, 5/S, 2/Z.
_LETTERS = "ABCDEFGHJKMNPQRTUVWXY"
_DIGITS = "346789"


def new_incident_id() -> str:
    """Like ``KMT-479``: short, unique enough with the store's check, easy to say."""
    letters = "".join(secrets.choice(_LETTERS) for _ in range(3))
    digits = "".join(secrets.choice(_DIGITS) for _ in range(3))
    return f"{letters}-{digits}"


class IncidentStatus(StrEnum):
    OPEN = "open"
    TAKEN_OVER = "taken_over"  # the provincial crisis HQ speaks for it now
    RESOLVED = "resolved"
    CANCELLED = "cancelled"


class Purpose(StrEnum):
    """Why a message exists; drives templates and what an ack or cancel touches."""

    ALERT = "alert"
    DRILL_SINK = "drill_sink"  # what an external audience would have got, shown to the officer
    UPDATE = "update"
    ALL_CLEAR = "all_clear"
    TAKEOVER = "takeover"
    ESCALATION = "escalation"
    NOTICE = "notice"  # crisisd telling the officer something (failures, reminders, reports)
    ROLL_CALL = "roll_call"  # "are you safe?": answered by button, SMS reply or link


class Answer(StrEnum):
    """A roll-call answer."""

    SAFE = "safe"
    HELP = "help"


class MessageStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by a worker under a lease
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


def channel_kind(channel: str) -> str:
    """Template kind for a channel name: sms, email, or chat for every messenger."""
    if channel in ("sms", "email"):
        return channel
    return "chat"


Dialect = Literal["telegram_html", "bale_markdown", "plain"]
"""How a messenger is written to: Telegram's HTML, Bale's Markdown, or plain text."""


def is_bale(fields: dict[str, Any]) -> bool:
    """Whether a messenger's fields (``name``, ``base_url``) name Bale's Bot API
    (``https://tapi.bale.ai/bot``, https://docs.bale.ai)."""
    host = urlsplit(str(fields.get("base_url") or "")).hostname or ""
    return fields.get("name") == "bale" or host == "tapi.bale.ai"


DETAILS_LIMIT = 1000
LOCATION_LIMIT = 200
CASUALTIES_MAX = 10_000  # a count above this is a typing slip


def count_problem(casualties: Casualties, count: int | None) -> str | None:
    """Why ``count`` cannot go with ``casualties`` (to say to whoever gave it); None if it can."""
    if count is None:
        return None
    if not casualties.countable:
        return f"a casualty count goes with 'injured' or 'fatalities', not '{casualties}'"
    if not 1 <= count <= CASUALTIES_MAX:
        return (
            f"casualty count {count} is out of range — give 1 to {CASUALTIES_MAX}, "
            "or leave it out when it is not known"
        )
    return None


@dataclass(frozen=True, slots=True)
class IncidentReport:
    """What a trigger hands to the incident service; nothing is rendered or sent yet."""

    factory: str
    incident_type: str
    severity: str
    reporter: str  # directory contact id of the officer
    details: str = ""
    location: str = ""
    casualties: Casualties = Casualties.UNKNOWN
    casualties_count: int | None = None  # how many injured or dead, when known
    drill: bool = False
    source: str = "cli"  # bot:<messenger>, api:<integration>, cli, scheduler
    idempotency_key: str | None = None
    drill_audiences: tuple[str, ...] | None = None
    # The drill is scored when this closes; None: the playbook's report_after for the scenario.
    drill_window: timedelta | None = None


class AudienceGroup(StrEnum):
    """Who an update speaks to: an officer may word it differently for each."""

    STAFF = "staff"  # everyone inside: staff, emergency team, management, families
    AUTHORITIES = "authorities"
    PRESS = "press"


@dataclass(frozen=True, slots=True)
class UpdateTexts:
    """An update's free text: one for everyone (``common``), or per group and language.

    ``groups``: group -> language -> text. A reader gets their group's text in their
    language, else in the other language, else the common text.
    """

    common: str = ""
    groups: dict[str, dict[str, str]] = field(default_factory=dict)

    def for_reader(self, group: str, lang: str) -> str:
        by_lang = self.groups.get(group, {})
        other = "en" if lang == "fa" else "fa"
        return by_lang.get(lang) or by_lang.get(other) or self.common


@dataclass(frozen=True, slots=True)
class IncidentFacts:
    """What templates and the planner know about an incident at one moment."""

    id: str
    factory: str
    incident_type: str
    severity: str
    reporter: str
    opened_at: datetime
    details: str = ""
    location: str = ""
    casualties: Casualties = Casualties.UNKNOWN
    casualties_count: int | None = None
    drill: bool = False
    status: IncidentStatus = IncidentStatus.OPEN
    update_number: int = 0
    update_details: str = ""
    drill_audiences: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Rendering:
    """The exact content for one kind of channel (sms, chat, email)."""

    kind: str
    text: str
    subject: str | None = None
    html: str | None = None
    template: str = ""  # e.g. fa/holding_statement.email.j2
    sha256: str = ""
    sms_parts: int = 0
    truncated: bool = False
    to_name: str = ""  # email: the recipient's name in their language, for the To header
    from_name: str = ""  # email: the sender's name (the factory's PR office), for From


@dataclass(frozen=True, slots=True)
class PlannedMessage:
    """One message to one recipient for one step, ready for the outbox."""

    key: str  # unique and stable: the outbox's idempotency key
    incident_id: str
    purpose: Purpose
    step: int
    audience: str
    recipient: str
    lang: str
    channels: tuple[str, ...]  # preference order, only those the recipient is reachable on
    renderings: dict[str, Rendering]  # by kind
    priority: int
    not_before: datetime
    ack_required: bool = False
    ack_deadline: datetime | None = None
    escalate_to: str | None = None
    external: bool = False
    drill: bool = False
    sink_for: str | None = None  # drill sink: the external audience this stands in for

    def rendering_for(self, channel: str) -> Rendering:
        return self.renderings[channel_kind(channel)]


@dataclass(frozen=True, slots=True)
class PlannedTask:
    title_fa: str
    title_en: str
    due_at: datetime


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything an action implies, written to the store in one transaction."""

    messages: tuple[PlannedMessage, ...] = ()
    tasks: tuple[PlannedTask, ...] = ()
    next_update_at: datetime | None = None
    update_every: timedelta | None = None
    unreachable: tuple[tuple[str, str], ...] = field(default=())  # (audience, contact)


def ack_code(key: str) -> str:
    """Short code naming a message in an ack button (Telegram callback_data ≤ 64 bytes)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]
