"""The kinds of step a severity lists in ``steps``: a message step (``- audience: …``) and a
roll call (``- roll_call: staff``, see docs/rollcall.md). playbook.py reads them as one list."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag

from crisisd.formats.durations import parse_duration

NameId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$")]


def _duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str | int) and not isinstance(value, bool):
        return parse_duration(value)
    raise ValueError("write a duration such as 30s, 5m, 2h or 1h30m")


Duration = Annotated[timedelta, BeforeValidator(_duration)]


class Model(BaseModel):
    """Strict, closed and frozen, as every playbook model."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Step(Model):
    """Tell one audience with one template, on channels in order of preference."""

    audience: NameId = Field(description="The audience told in this step (a key of `audiences`).")
    template: NameId = Field(
        description="Template name: `templates/<lang>/<template>.<sms|chat|email>.j2`, "
        "in each recipient's language."
    )
    channels: Annotated[list[NameId], Field(min_length=1)] = Field(
        description="Channels in order of preference: a messenger `name` (`bale`, `telegram`), "
        "`sms` or `email`. Each person gets one message, on the first listed channel they "
        "are reachable on, and on the next one if that fails for good."
    )
    after: Duration = Field(
        timedelta(0),
        description="Delay after the report before this step goes out, e.g. `15m`; "
        "`0` sends it at once.",
    )
    ack: bool | None = Field(
        None,  # None: required when the audience has an ack policy
        description="Whether this step's alert must be acknowledged. "
        "Unset: when the audience has an `ack` policy.",
    )


class Words(Model):
    """Words in both languages (as `Words` in a playbook)."""

    fa: Annotated[str, Field(min_length=1)] = Field(description="In Persian.")
    en: Annotated[str, Field(min_length=1)] = Field(description="In English.")

    def get(self, lang: str) -> str:
        return self.fa if lang == "fa" else self.en


class RollCallAnswers(Model):
    """The two answers a roll call offers, as each person reads them."""

    safe: Words = Field(
        Words(fa="سالم هستم", en="I am safe"),
        description="The answer that accounts for a person (✅, reply code 1).",
    )
    help: Words = Field(
        Words(fa="کمک لازم دارم", en="I need help"),
        description="The answer that calls the emergency team at once (🆘, reply code 2).",
    )


class RollCallStep(Model):
    """Ask an audience "are you safe?" and keep a live headcount of the answers.

    Each member is asked on the first channel they are reachable on: a messenger with two
    buttons, SMS with reply codes and a short signed link, email with links to a confirm
    page. No answer by ``within``: asked again on their next channel; still nothing
    ``reask_every`` later: their names go to ``missing_to``.
    """

    roll_call: NameId = Field(
        description="The audience asked (a key of `audiences`), e.g. `staff`. "
        "An external audience is never asked in a drill."
    )
    channels: Annotated[list[NameId], Field(min_length=1)] = Field(
        description="Channels in order of preference, as in a step; a re-ask goes on the "
        "person's next one."
    )
    after: Duration = Field(
        timedelta(0), description="Delay after the report before the question goes out."
    )
    within: Duration = Field(
        timedelta(minutes=15),
        description="How long each person has to answer before they are asked again on "
        "their next channel.",
    )
    reask_every: Duration = Field(
        timedelta(minutes=5),
        description="How long after the re-ask a person who still has not answered is "
        "reported by name to `missing_to`.",
    )
    answers: RollCallAnswers = Field(
        RollCallAnswers(),
        description="The words of the two answers. Unset: ✅ I am safe / 🆘 I need help.",
    )
    ask_location: bool = Field(
        False,
        description='Also ask "where are you?": a free-text reply is kept with the answer '
        "and shown to the emergency team with a call for help.",
    )
    help_to: NameId = Field(
        "emergency_team",
        description="Audience told at once, with the person's name, phone and location, "
        'when someone answers "I need help".',
    )
    missing_to: Annotated[list[NameId], Field(min_length=1)] = Field(
        default_factory=lambda: ["emergency_team", "management"],
        description="Audiences told the names of those who never answered.",
    )


def step_kind(value: Any) -> str:
    """Which kind of step an entry of `steps` is: a roll call names its audience under
    `roll_call`. The tags carry brackets so located errors skip them like pydantic's own."""
    if isinstance(value, dict):
        return "[roll_call]" if "roll_call" in value else "[message]"
    return "[roll_call]" if isinstance(value, RollCallStep) else "[message]"


AnyStep = Annotated[
    Annotated[Step, Tag("[message]")] | Annotated[RollCallStep, Tag("[roll_call]")],
    Discriminator(step_kind),
]
