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

from crisisd.formats.durations import Due, parse_due, parse_duration
from crisisd.formats.phones import normalize_phone
from crisisd.formats.timefmt import normalize_persian
from crisisd.steps import AnyStep, RollCallStep, Step

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


DEFAULT_REPORT_AFTER = timedelta(minutes=30)  # a drill is scored this long after it starts


class Model(BaseModel):
    """Base: strict types, unknown keys rejected, immutable once loaded."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Names(Model):
    """A name in both languages; shown to each person in theirs."""

    fa: Annotated[str, Field(min_length=1)] = Field(
        description="The name in Persian, shown to Persian readers."
    )
    en: Annotated[str, Field(min_length=1)] = Field(
        description="The name in English, shown to English readers."
    )

    @field_validator("fa")
    @classmethod
    def _persian_letters(cls, value: str) -> str:
        # Arabic ي/ك typed on an Arabic keyboard look alike but do not match in searches
        # or sort; `crisisd validate` notes each one it changed.
        return normalize_persian(value)

    def get(self, lang: str) -> str:
        return self.fa if lang == "fa" else self.en


class Contact(Model):
    """One person (or shared mailbox / newsroom desk) and how to reach them."""

    name: Names = Field(description="Full name (or desk name) in both languages.")
    lang: Lang = Field(
        "fa", description="Language of every message this contact receives: `fa` or `en`."
    )
    title: Names | None = Field(
        None, description="Role or job title, shown to the PR officer in previews and reports."
    )
    chats: dict[NameId, int] = Field(
        default_factory=dict,
        description="Chat id on each messenger, keyed by the messenger's `name` in config.yaml, "
        "e.g. `{bale: 1000001101, telegram: 6000001101}`.",
    )
    phone: Phone | None = Field(
        None,
        description="Mobile number for SMS, written as people write it (`0912 000 1101`; "
        "Persian digits are fine); stored as E.164 (`+989120001101`). "
        "A landline cannot receive SMS.",
    )
    email: str | None = Field(None, description="Email address, e.g. `name@example.com`.")

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
        return self.address_for(channel) is not None


class Directory(Model):
    """The shared contacts directory (playbooks/directory.yaml)."""

    contacts: dict[ContactId, Contact] = Field(
        description="Every person, shared mailbox and newsroom desk, by contact id "
        "(lower-case letters, digits, `.`, `_`, `-`; e.g. `officer.rezaei`)."
    )


class AckPolicy(Model):
    """Members must acknowledge within `within`; otherwise escalate."""

    within: Duration = Field(
        description="How long after an alert is sent its recipient has to acknowledge it "
        "(button in the messenger, link in SMS or email, or the HTTP API)."
    )
    escalate_to: NameId | None = Field(
        None,
        description="Audience told who has not acknowledged once `within` has passed; the "
        "person also gets the alert again on their next channel. Unset: only the re-send.",
    )


class Audience(Model):
    """A group told together: members, whether it is outside the factory, ack rules."""

    name: Names | None = Field(
        None,
        description="Name shown to the officer in previews and progress, and to templates as "
        "`audience.name`. Unset: the audience's key.",
    )
    members: Annotated[list[ContactId], Field(min_length=1)] = Field(
        description="Contact ids from the directory."
    )
    external: bool = Field(
        False,
        description="Outside the factory (press, authorities): every template sent to it must "
        "be approved, and a drill never reaches it (the reporting officer gets a marked copy).",
    )
    ack: AckPolicy | None = Field(
        None, description="Members must acknowledge their alerts. Unset: no acknowledgement."
    )
    group: Literal["staff", "authorities", "press"] | None = Field(
        None,
        description="Which text of an update this audience reads when the officer words it "
        "per group. Unset: `press` for an external audience whose key mentions press, "
        "`authorities` for other external audiences, `staff` for the rest.",
    )
    sms_parts: Annotated[int, Field(ge=1, le=10)] = Field(
        3,
        description="Most SMS parts one message to this audience may take; longer text is "
        "shortened to fit. A Persian part holds 70 characters alone, 67 when split.",
    )
    priority: Annotated[int, Field(ge=0, le=100)] | None = Field(
        None,
        description="Send order among audiences, lower first. Unset: the default for its key "
        "(see *Audience priorities*).",
    )


class Task(Model):
    """A follow-up the officer must do by a deadline (e.g. report to Social Security)."""

    title: Names = Field(description="What has to be done, in both languages.")
    due: DueTime = Field(
        description="Deadline counted from the report: a duration (`24h`, `5d`) or working "
        "days (`3 working days`, `۳ روز کاری`), which end at 23:59:59 of the last one."
    )


class SeverityPlan(Model):
    """What one severity of one incident type sets in motion."""

    entries: Annotated[list[AnyStep], Field(min_length=1)] = Field(
        alias="steps",
        description="Who is told what, on which channels, and when; an entry with "
        "`roll_call:` asks its audience whether they are safe (see docs/rollcall.md).",
    )
    update_every: Duration | None = Field(
        None,
        description="How often the officer owes an update: they are reminded before each one "
        "is due, and templates get `next_update`. Unset: no update cadence.",
    )
    tasks: list[Task] = Field(
        default_factory=list,
        description="Follow-up tasks opened with the incident; /tasks lists them and the "
        "officer is reminded on working days.",
    )

    @property
    def steps(self) -> list[Step]:  # the message steps; roll calls are in roll_calls
        return [e for e in self.entries if isinstance(e, Step)]

    @property
    def roll_calls(self) -> list[RollCallStep]:
        return [e for e in self.entries if isinstance(e, RollCallStep)]

    def position(self, step: Step | RollCallStep) -> int:  # its index in the YAML `steps`
        return next(i for i, e in enumerate(self.entries) if e is step)


class IncidentType(Model):
    """One kind of incident (fire, explosion, …) and what each of its severities sets off."""

    name: Names = Field(
        description="Shown to the officer in the bot and to templates as `incident.type_name`."
    )
    severities: Annotated[dict[NameId, SeverityPlan], Field(min_length=1)] = Field(
        description="Plans by severity key. `minor`, `major` and `critical` have built-in "
        "names in both languages (`incident.severity_name`); other keys are shown as written."
    )


class UpdateStatement(Model):
    """The approved template for updates, and who gets them."""

    template: NameId = Field(
        description="Approved template of the messages /update sends "
        "(it sees `update.number` and `update.details`)."
    )
    audiences: Annotated[list[NameId], Field(min_length=1)] = Field(
        description="Audiences that receive updates."
    )
    channels: Annotated[list[NameId], Field(min_length=1)] = Field(
        description="Channels in order of preference, as in a step."
    )


class AllClear(Model):
    """The all-clear, sent to everyone who was told about the incident."""

    template: NameId = Field(description="Template of the all-clear that /resolve sends.")


class Takeover(Model):
    """When the provincial crisis HQ takes over, press statements become this referral."""

    template: NameId = Field(
        description="Template of the referral /takeover sends to the external audiences; "
        "their pending statements are cancelled."
    )
    spokesperson: Names = Field(
        description="Who speaks for the incident from then on (`takeover.spokesperson`)."
    )
    phone: Phone | None = Field(
        None, description="A phone number the referral may give (`takeover.phone`)."
    )


class Statements(Model):
    """The statements that follow the first alerts: updates, the all-clear, the referral."""

    update: UpdateStatement = Field(description="What /update sends, and to whom.")
    all_clear: AllClear = Field(description="What /resolve sends.")
    takeover: Takeover = Field(
        description="What /takeover sends when the provincial crisis HQ takes over."
    )


class Drill(Model):
    """A scheduled drill: cron (standard 5 fields), scenario type/severity, start window."""

    cron: str = Field(
        description="When, as a standard 5-field cron expression in the daemon's time zone: "
        "`minute hour day-of-month month day-of-week`, e.g. `0 10 * * sat`. Weekdays by name "
        "or by number as in cron (0 and 7 = Sunday, 6 = Saturday)."
    )
    scenario: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*/[a-z][a-z0-9_-]*$")] = Field(
        description="`<incident type>/<severity>` to rehearse, e.g. `fire/major`."
    )
    window: Duration = Field(
        timedelta(0),  # the drill starts at a random moment inside it
        description="The drill starts at a random moment this long after the cron time at "
        "most; `0` starts it on the dot.",
    )
    report_after: Duration = Field(
        DEFAULT_REPORT_AFTER,  # then it is scored and reported
        description="How long after it starts the drill is closed and scored; the score goes "
        "to the officer and to the `management` audience.",
    )
    audiences: list[NameId] | None = Field(
        None,  # None: every internal audience of the scenario
        description="Audiences to exercise. Unset: every internal audience of the scenario. "
        "External audiences are never reached in a drill.",
    )

    @property
    def incident_type(self) -> str:
        return self.scenario.split("/", 1)[0]

    @property
    def severity(self) -> str:
        return self.scenario.split("/", 1)[1]


class Factory(Model):
    """The factory a playbook belongs to, and who may act for it."""

    id: NameId = Field(description="Factory id; the playbook file is named `<id>.yaml`.")
    name: Names = Field(description="The factory's name in both languages.")
    lang: Lang = Field(
        "fa",
        description="The factory's language: a template missing in a recipient's language "
        "is taken in this one.",
    )
    officers: Annotated[list[ContactId], Field(min_length=1)] = Field(
        description="Contact ids of the PR officers who may report and act on this "
        "factory's incidents in the bot, the API and the CLI."
    )
    sender_name: Names | None = Field(
        None,
        description="The name email from this factory is sent under, in both languages, e.g. "
        "`{fa: روابط عمومی فولاد شهریار, en: Shahriar Steel Public Relations}`. Unset: "
        "`smtp.sender.name` from the daemon config.",
    )
    locations: list[Names] = Field(
        default_factory=list,
        description="Places in the plant the officer picks from in the bot's report (or types "
        "another), e.g. `{fa: انبار مواد اولیه, en: Raw materials store}`. A place from this "
        "list reaches each reader in their language; a typed one as written.",
    )


class Playbook(Model):
    """One factory's incident playbook (playbooks/<factory-id>.yaml)."""

    factory: Factory = Field(description="The factory and its PR officers.")
    audiences: Annotated[dict[NameId, Audience], Field(min_length=1)] = Field(
        description="Groups told together, by key, e.g. `emergency_team`, `press`."
    )
    incidents: Annotated[dict[NameId, IncidentType], Field(min_length=1)] = Field(
        description="Incident types by key, e.g. `fire`, each with its severities."
    )
    statements: Statements = Field(description="Updates, the all-clear and the referral.")
    drills: list[Drill] = Field(default_factory=list, description="Scheduled drills.")

    def priority_of(self, audience: str) -> int:
        explicit = self.audiences[audience].priority
        if explicit is not None:
            return explicit
        return DEFAULT_PRIORITY.get(audience, FALLBACK_PRIORITY)

    def group_of(self, audience: str) -> str:
        """The update group of ``audience`` (see ``Audience.group``)."""
        aud = self.audiences[audience]
        if aud.group is not None:
            return aud.group
        if aud.external:
            return "press" if "press" in audience else "authorities"
        return "staff"

    def drill_report_after(self, incident_type: str, severity: str) -> timedelta:
        """When a drill of this scenario is scored: its scheduled drill's ``report_after``,
        else the first drill's, else the documented default (30 minutes)."""
        same = [
            d for d in self.drills if (d.incident_type, d.severity) == (incident_type, severity)
        ]
        chosen = same or self.drills
        return chosen[0].report_after if chosen else DEFAULT_REPORT_AFTER

    def plan_for(self, incident_type: str, severity: str) -> SeverityPlan:
        return self.incidents[incident_type].severities[severity]
