"""Playbook and contacts-directory models, validated once at the edge (pydantic, strict).

A playbook says, for one factory, who is told what, on which channels, in which
order, when an incident of a given type and severity happens. Contacts live in one
shared directory so a person is described once and referenced by id everywhere.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from crisisd.durations import Due, parse_due, parse_duration
from crisisd.phones import normalize_phone

Lang = Literal["fa", "en"]
LANGS: tuple[Lang, ...] = ("fa", "en")
CONTACT_ID = r"^[a-z0-9][a-z0-9._-]*$"
NAME_ID = r"^[a-z][a-z0-9_-]*$"
EMAIL = re.compile(r"^[^@\s<>,;\"']+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")

# Channel names a step may use besides the configured messengers (telegram, bale, …).
SMS = "sms"
EMAIL_CHANNEL = "email"

# Default audience priorities (lower goes first): emergency team and management before
# authorities, staff and press. An audience may set its own `priority`.
DEFAULT_PRIORITY = {
    "emergency_team": 10,
    "management": 20,
    "authorities": 30,
    "staff": 40,
    "families": 40,
    "press": 50,
}
FALLBACK_PRIORITY = 40


def _duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str | int) and not isinstance(value, bool):
        return parse_duration(value)
    raise ValueError("write a duration such as 30s, 5m, 2h or 1h30m")


def _due(value: object) -> Due:
    if isinstance(value, Due):
        return value
    if isinstance(value, str):
        return parse_due(value)
    raise ValueError("write a duration such as 2h, or '3 working days'")


def _phone(value: object) -> str:
    if isinstance(value, str | int) and not isinstance(value, bool):
        return normalize_phone(value)
    raise ValueError("write the phone number as text, e.g. '0912 345 6789'")


Duration = Annotated[timedelta, BeforeValidator(_duration)]
DueTime = Annotated[Due, BeforeValidator(_due)]
Phone = Annotated[str, BeforeValidator(_phone)]
ContactId = Annotated[str, Field(pattern=CONTACT_ID)]
NameId = Annotated[str, Field(pattern=NAME_ID)]


class Model(BaseModel):
    """Base: strict types, unknown keys rejected, immutable once loaded."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Names(Model):
    """A name in both languages; shown to each person in theirs."""

    fa: Annotated[str, Field(min_length=1)]
    en: Annotated[str, Field(min_length=1)]

    def get(self, lang: str) -> str:
        return self.fa if lang == "fa" else self.en


class Contact(Model):
    """One person (or shared mailbox / newsroom desk) and how to reach them."""

    name: Names
    lang: Lang = "fa"
    title: Names | None = None
    chats: dict[NameId, int] = Field(default_factory=dict)
    phone: Phone | None = None
    email: str | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not EMAIL.match(value):
            raise ValueError(f"'{value}' is not an email address — write e.g. name@example.com")
        return value

    def address_for(self, channel: str) -> str | None:
        """Where this person is reached on ``channel``: phone, email or chat id."""
        if channel == SMS:
            return self.phone
        if channel == EMAIL_CHANNEL:
            return self.email
        chat = self.chats.get(channel)
        return None if chat is None else str(chat)

    def reachable_on(self, channel: str) -> bool:
        if channel == SMS:
            return self.phone is not None
        if channel == EMAIL_CHANNEL:
            return self.email is not None
        return channel in self.chats


class Directory(Model):
    """The shared contacts directory (playbooks/directory.yaml)."""

    contacts: dict[ContactId, Contact]


class AckPolicy(Model):
    """Members must acknowledge within `within`; otherwise escalate."""

    within: Duration
    escalate_to: NameId | None = None


class Audience(Model):
    """A group told together: members, whether it is outside the factory, ack rules."""

    name: Names | None = None
    members: Annotated[list[ContactId], Field(min_length=1)]
    external: bool = False
    ack: AckPolicy | None = None
    sms_parts: Annotated[int, Field(ge=1, le=10)] = 3
    priority: Annotated[int, Field(ge=0, le=100)] | None = None


class Step(Model):
    """Tell one audience with one template, on channels in order of preference."""

    audience: NameId
    template: NameId
    channels: Annotated[list[NameId], Field(min_length=1)]
    after: Duration = timedelta(0)
    ack: bool | None = None  # None: required when the audience has an ack policy


class Task(Model):
    """A follow-up the officer must do by a deadline (e.g. report to Social Security)."""

    title: Names
    due: DueTime


class SeverityPlan(Model):
    """What one severity of one incident type sets in motion."""

    steps: Annotated[list[Step], Field(min_length=1)]
    update_every: Duration | None = None
    tasks: list[Task] = Field(default_factory=list)


class IncidentType(Model):
    name: Names
    severities: Annotated[dict[NameId, SeverityPlan], Field(min_length=1)]


class UpdateStatement(Model):
    """The approved template for updates, and who gets them."""

    template: NameId
    audiences: Annotated[list[NameId], Field(min_length=1)]
    channels: Annotated[list[NameId], Field(min_length=1)]


class AllClear(Model):
    """The all-clear, sent to everyone who was told about the incident."""

    template: NameId


class Takeover(Model):
    """When the provincial crisis HQ takes over, press statements become this referral."""

    template: NameId
    spokesperson: Names
    phone: Phone | None = None


class Statements(Model):
    update: UpdateStatement
    all_clear: AllClear
    takeover: Takeover


class Drill(Model):
    """A scheduled drill: cron (standard 5 fields), scenario type/severity, start window."""

    cron: str
    scenario: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*/[a-z][a-z0-9_-]*$")]
    window: Duration = timedelta(0)  # the drill starts at a random moment inside it
    report_after: Duration = timedelta(minutes=30)  # then it is scored and reported
    audiences: list[NameId] | None = None  # None: every internal audience of the scenario

    @property
    def incident_type(self) -> str:
        return self.scenario.split("/", 1)[0]

    @property
    def severity(self) -> str:
        return self.scenario.split("/", 1)[1]


class Factory(Model):
    id: NameId
    name: Names
    lang: Lang = "fa"
    officers: Annotated[list[ContactId], Field(min_length=1)]


class Playbook(Model):
    """One factory's incident playbook (playbooks/<factory-id>.yaml)."""

    factory: Factory
    audiences: Annotated[dict[NameId, Audience], Field(min_length=1)]
    incidents: Annotated[dict[NameId, IncidentType], Field(min_length=1)]
    statements: Statements
    drills: list[Drill] = Field(default_factory=list)

    def priority_of(self, audience: str) -> int:
        explicit = self.audiences[audience].priority
        if explicit is not None:
            return explicit
        return DEFAULT_PRIORITY.get(audience, FALLBACK_PRIORITY)

    def plan_for(self, incident_type: str, severity: str) -> SeverityPlan:
        return self.incidents[incident_type].severities[severity]
