"""Daemon configuration (config.yaml): pydantic model, secret references, loading.

Secrets are never written in the YAML itself. A value is a reference:
``${ENV_NAME}`` (an environment variable), ``file:/path`` (a file's content, trimmed),
or ``cred:NAME`` (systemd ``LoadCredential``: ``$CREDENTIALS_DIRECTORY/NAME``).
Resolved values are registered with :mod:`crisisd.redaction` and held as
``SecretStr`` so they never appear in any output.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator

from crisisd.config.base import NAME_ID, Model
from crisisd.config.channels import (
    EmailFrom,
    GenericSuccess,
    Messenger,
    Rate,
    Sms,
    SmsGateway,
    Smtp,
)
from crisisd.config.dashboard import Dashboard
from crisisd.config.tokens import ApiToken
from crisisd.errors import ProblemsError
from crisisd.parsing.modelcheck import check_model
from crisisd.parsing.secretrefs import resolve_secrets
from crisisd.parsing.yamlsource import Document, load_yaml
from crisisd.problems import Problem

__all__ = [
    "NAME_ID",
    "Api",
    "ApiToken",
    "Bots",
    "Calendar",
    "Cluster",
    "Config",
    "Dashboard",
    "EmailFrom",
    "GenericSuccess",
    "Messenger",
    "Model",
    "Rate",
    "Schedule",
    "Sms",
    "SmsGateway",
    "Smtp",
    "default_config",
    "load_config",
]


class Api(Model):
    """The HTTP API: incidents, acknowledgements, /healthz and /metrics."""

    bind: str = Field("127.0.0.1", description="Address to listen on.")
    port: Annotated[int, Field(ge=0, le=65535)] = Field(
        8787, description="Port to listen on; `0` picks a free one."
    )
    public_url: str | None = Field(
        None,  # base for ack links in email and SMS
        description="The address recipients reach this API at, e.g. "
        "`https://crisisd.example.com`; ack links in SMS and email start with it. "
        "Unset: the bind address.",
    )
    tokens: list[ApiToken] = Field(
        default_factory=list, description="Integrations allowed to call the API."
    )
    # signs ack links; generated once and kept in the store when unset
    ack_secret: Annotated[SecretStr, Field(min_length=16)] | None = Field(
        None,
        description="Key that signs ack links, as a secret reference (16 characters or "
        "more). Unset: generated once and kept in the store.",
    )
    max_body_bytes: Annotated[int, Field(ge=1024)] = Field(
        64 * 1024, description="Largest request body accepted, in bytes."
    )


class Calendar(Model):
    """The Iranian working week: Saturday–Wednesday, Thursday optional, Friday off, and
    Iran's public holidays off."""

    thursday_working: bool = Field(False, description="Whether Thursday counts as a working day.")
    public_holidays: bool = Field(
        True,
        description="Whether Iran's official public holidays (Nowruz, Tasua and Ashura, the "
        "other solar and lunar ones) are days off, as the `holidays` package dates them. "
        "`false`: only Fridays, Thursdays when off, and the `holidays` listed here.",
    )
    holidays: list[str] = Field(
        default_factory=list,  # 2026-03-21 or Jalali 1405-01-01
        description="The factory's own days off besides Fridays and the public holidays "
        "(a local closure, a lunar holiday announced on another day), Gregorian "
        "(`2026-03-21`) or Jalali (`1405-01-01`); they do not count as working days.",
    )


class Schedule(Model):
    """How often the scheduler looks at the store."""

    sweep_seconds: Annotated[float, Field(gt=0)] = Field(
        15.0,  # escalations
        description="Seconds between looks for missed acknowledgement deadlines.",
    )
    check_seconds: Annotated[float, Field(gt=0)] = Field(
        30.0,  # reminders, drill reports
        description="Seconds between looks for due reminders and drills to score.",
    )
    remind_minutes_before: Annotated[float, Field(ge=0)] = Field(
        5.0,  # press update due
        description="The officer is reminded this many minutes before an update is due.",
    )
    receipts_seconds: Annotated[float, Field(ge=0)] = Field(
        60.0, description="Seconds between asks whether sent SMS were delivered. 0: never."
    )


class Bots(Model):
    """How the officers' bot hears from Telegram/Bale."""

    mode: Literal["polling", "webhook"] = Field(
        "polling",
        description="polling: the daemon asks for updates (works behind NAT); webhook: the "
        "messenger POSTs them to api.public_url + /telegram-webhook/<messenger> (Bale: + "
        "/<secret>; needs api.public_url reachable from the internet, behind your reverse proxy)",
    )


class Cluster(Model):
    """Several daemons on one PostgreSQL store (docs/deploy.md): leases and claims."""

    leader_lease_seconds: Annotated[float, Field(ge=3, le=300)] = Field(
        15.0,
        description="Seconds a leader's lease lasts (drills, escalation sweeps, reminders, "
        "receipts, gateway watch, each bot's long polling). When the leader dies or loses "
        "the database, another daemon takes over within this time plus a third of it. "
        "Ignored on SQLite (one daemon, always the leader).",
    )
    claim_lease_seconds: Annotated[float, Field(ge=10, le=3600)] = Field(
        120.0,
        description="Seconds a claimed message stays with a daemon that stopped renewing "
        "its claims (killed, cut off): then another daemon sends it. A restarted daemon "
        "takes its own claims back at once.",
    )


class Config(Model):
    """Everything the daemon needs to know, with defaults that run out of the box."""

    timezone: str = Field(
        "Asia/Tehran",
        description="The daemon's clock zone: drills' cron times, working days and the times "
        "shown to people.",
    )
    language: Literal["fa", "en"] = Field(
        "fa",
        description="The deployment's main language. Every person is written to in their "
        "directory `lang`, whatever this says.",
    )
    store_url: str = Field(
        "sqlite+aiosqlite:///var/crisisd.sqlite3",
        description="Where incidents and messages are kept: a SQLite file, or PostgreSQL "
        "(`postgresql://user@host/db`) for several instances. A relative SQLite path is "
        "relative to this file's folder.",
    )
    playbooks: Path = Field(
        Path("playbooks"),
        description="Folder of the playbooks and `directory.yaml`, relative to this file.",
    )
    templates: Path = Field(
        Path("templates"),
        description="Folder of the templates and `approvals.yaml`, relative to this file.",
    )
    sandbox: bool = Field(
        True,
        description="Send everything to the built-in sandbox (fake Bot API, SMS gateways and "
        "SMTP inbox on 127.0.0.1) instead of real services. Set `false` for real use.",
    )
    sandbox_port: Annotated[int, Field(ge=0, le=65000)] = Field(
        8790,  # first of consecutive ports
        description="First of the consecutive ports the sandbox listens on.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Least important log events written."
    )
    log_json: bool | None = Field(
        None,  # None: JSON lines when not on a terminal
        description="Write logs as JSON lines. Unset: JSON when not on a terminal "
        "(e.g. under systemd).",
    )
    messengers: list[Messenger] = Field(
        default_factory=lambda: [
            Messenger(name="bale", base_url="https://tapi.bale.ai/bot"),
            Messenger(name="telegram"),
        ],
        description="Telegram-compatible messengers, one entry each; their names are "
        "channels in playbooks.",
    )
    sms: Sms = Field(Sms(), description="SMS gateways.")
    smtp: Smtp = Field(Smtp(), description="The SMTP server for email.")
    api: Api = Field(Api(), description="The HTTP API.")
    calendar: Calendar = Field(
        Calendar(), description="The working week used for `working days` deadlines."
    )
    dashboard: Dashboard = Field(
        default_factory=Dashboard, description="The web dashboard, its sign-in and the CAP feed."
    )
    bots: Bots = Field(default_factory=Bots, description="The officers' bot: polling or webhook.")
    schedule: Schedule = Field(Schedule(), description="How often the scheduler looks.")
    cluster: Cluster = Field(
        Cluster(), description="Several daemons sharing a PostgreSQL store: lease lengths."
    )
    admins: list[str] = Field(
        default_factory=list,  # directory contact ids told about reloads
        description="Directory contact ids told when a reload is rejected "
        "(the last good playbooks stay in force).",
    )
    source: Path | None = Field(
        default=None,
        exclude=True,
        description="Set by crisisd to the file the config was read from; not written in it.",
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{value}' — e.g. Asia/Tehran") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def messenger_names(self) -> list[str]:
        return [m.name for m in self.messengers]

    def resolve_path(self, path: Path) -> Path:
        """Relative paths in the config are relative to the config file's folder."""
        if path.is_absolute() or self.source is None:
            return path
        return self.source.parent / path


def load_config(path: Path) -> Config:
    """Load and validate config.yaml; raise ProblemsError listing everything wrong."""
    problems: list[Problem] = []
    doc = load_yaml(path, problems)
    if doc is None:
        raise ProblemsError(problems)
    if not isinstance(doc.data, dict):
        raise ProblemsError([doc.problem((), "the config must be a mapping of keys to values")])
    data = resolve_secrets(doc, problems)
    config, found = check_model(Config, doc, data)
    problems.extend(found)
    if problems or config is None:
        raise ProblemsError(problems)
    config = config.model_copy(update={"source": path.resolve()})
    if not config.sandbox:
        problems.extend(_production_gaps(config, doc))
    if problems:
        raise ProblemsError(problems)
    return config


def _production_gaps(config: Config, doc: Document) -> list[Problem]:
    """Credentials a real (non-sandbox) deployment cannot do without."""
    gaps: list[Problem] = []
    if config.bots.mode == "webhook" and not config.api.public_url:
        gaps.append(
            doc.problem(
                ("bots", "mode"),
                "webhook mode needs api.public_url",
                "set api.public_url to the HTTPS address your reverse proxy serves",
            )
        )
    for i, messenger in enumerate(config.messengers):
        if messenger.token is None:
            gaps.append(
                doc.problem(
                    ("messengers", i),
                    f"messenger '{messenger.name}' has no token",
                    "token: ${BALE_TOKEN} (or file:/path), or set sandbox: true",
                )
            )
    for i, gw in enumerate(config.sms.gateways):
        if gw.provider != "generic_http" and gw.api_key is None:
            gaps.append(
                doc.problem(
                    ("sms", "gateways", i),
                    f"SMS gateway '{gw.name}' has no api_key",
                    "api_key: ${KAVENEGAR_API_KEY} (or file:/path)",
                )
            )
        if gw.provider == "generic_http" and gw.url is None:
            gaps.append(doc.problem(("sms", "gateways", i), "generic_http gateway needs a url"))
    return gaps


def default_config() -> Config:
    """The embedded defaults: SQLite under ./var and the built-in sandbox."""
    return Config()
