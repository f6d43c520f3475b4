"""Daemon configuration (config.yaml): pydantic model, secret references, loading.

Secrets are never written in the YAML itself. A value is a reference:
``${ENV_NAME}`` (an environment variable), ``file:/path`` (a file's content, trimmed),
or ``cred:NAME`` (systemd ``LoadCredential``: ``$CREDENTIALS_DIRECTORY/NAME``).
Resolved values are registered with :mod:`crisisd.redaction` and held as
``SecretStr`` so they never appear in any output.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from crisisd import redaction
from crisisd.errors import ProblemsError
from crisisd.modelcheck import check_model
from crisisd.problems import Problem
from crisisd.yamlsource import Document, Loc, load_yaml

_ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
NAME_ID = r"^[a-z][a-z0-9_-]*$"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rate(Model):
    """Sending limits of one messenger (Telegram's published defaults)."""

    global_per_second: Annotated[float, Field(gt=0)] = 30.0
    per_chat_per_second: Annotated[float, Field(gt=0)] = 1.0


class Messenger(Model):
    """A Telegram-compatible Bot API (Telegram, Bale, …): one instance of one channel kind."""

    name: Annotated[str, Field(pattern=NAME_ID)]
    token: SecretStr | None = None
    base_url: str = "https://api.telegram.org/bot"
    rate: Rate = Rate()
    officers_bot: bool = True  # run the officers' bot on this messenger


class GenericSuccess(Model):
    """How a generic HTTP gateway says "accepted": status code and optional JSON field."""

    status: list[int] = Field(default_factory=lambda: [200])
    json_field: str | None = None  # dotted path, e.g. "result.status"
    equals: str | int | None = None
    id_field: str | None = None  # dotted path to the provider's message id


class SmsGateway(Model):
    """One SMS gateway; gateways are tried in the order listed."""

    name: Annotated[str, Field(pattern=NAME_ID)]
    provider: Literal["kavenegar", "ghasedak", "smsir", "generic_http"]
    api_key: SecretStr | None = None
    sender: str | None = None  # line number
    base_url: str | None = None  # None: the provider's public endpoint
    rate_per_second: Annotated[float, Field(gt=0)] = 5.0
    cooldown_seconds: Annotated[float, Field(ge=0)] = 60.0
    # generic_http only
    url: str | None = None
    method: Literal["GET", "POST"] = "POST"
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    body: str | None = None  # Jinja2 text with receptor, message, localid, sender
    success: GenericSuccess = GenericSuccess()


class Sms(Model):
    gateways: list[SmsGateway] = Field(default_factory=list)


class EmailFrom(Model):
    address: str
    name: str = "crisisd"


class Smtp(Model):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 25
    tls: Literal["none", "starttls", "tls"] = "none"
    username: str | None = None
    password: SecretStr | None = None
    sender: EmailFrom = Field(default=EmailFrom(address="crisisd@example.com"), alias="from")
    pool_size: Annotated[int, Field(ge=1, le=32)] = 4
    timeout_seconds: Annotated[float, Field(gt=0)] = 30.0

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ApiToken(Model):
    """An integration allowed to call the HTTP API; only the token's sha256 is stored."""

    name: Annotated[str, Field(pattern=NAME_ID, max_length=48)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class Api(Model):
    bind: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8787
    public_url: str | None = None  # base for ack links in email and SMS
    tokens: list[ApiToken] = Field(default_factory=list)
    # signs ack links; generated once and kept in the store when unset
    ack_secret: Annotated[SecretStr, Field(min_length=16)] | None = None
    max_body_bytes: Annotated[int, Field(ge=1024)] = 64 * 1024


class Calendar(Model):
    """The Iranian working week: Saturday–Wednesday, Thursday optional, Friday off."""

    thursday_working: bool = False
    holidays: list[str] = Field(default_factory=list)  # 2026-03-21 or Jalali 1405-01-01


class Schedule(Model):
    """How often the scheduler looks at the store."""

    sweep_seconds: Annotated[float, Field(gt=0)] = 15.0  # escalations
    check_seconds: Annotated[float, Field(gt=0)] = 30.0  # reminders, drill reports
    remind_minutes_before: Annotated[float, Field(ge=0)] = 5.0  # press update due


class Config(Model):
    """Everything the daemon needs to know, with defaults that run out of the box."""

    timezone: str = "Asia/Tehran"
    language: Literal["fa", "en"] = "fa"
    store_url: str = "sqlite+aiosqlite:///var/crisisd.sqlite3"
    playbooks: Path = Path("playbooks")
    templates: Path = Path("templates")
    sandbox: bool = True
    sandbox_port: Annotated[int, Field(ge=0, le=65000)] = 8790  # first of consecutive ports
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_json: bool | None = None  # None: JSON lines when not on a terminal
    messengers: list[Messenger] = Field(
        default_factory=lambda: [
            Messenger(name="bale", base_url="https://tapi.bale.ai/bot"),
            Messenger(name="telegram"),
        ]
    )
    sms: Sms = Sms()
    smtp: Smtp = Smtp()
    api: Api = Api()
    calendar: Calendar = Calendar()
    schedule: Schedule = Schedule()
    admins: list[str] = Field(default_factory=list)  # directory contact ids told about reloads
    source: Path | None = Field(default=None, exclude=True)

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


def resolve_secrets(doc: Document, problems: list[Problem]) -> Any:
    """Replace every secret reference in the document with its value, or report it."""

    def walk(value: Any, loc: Loc) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, (*loc, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, (*loc, i)) for i, v in enumerate(value)]
        if isinstance(value, str):
            return _resolve_one(value, doc, loc, problems)
        return value

    return walk(doc.data, ())


def _resolve_one(value: str, doc: Document, loc: Loc, problems: list[Problem]) -> str:
    env = _ENV_REF.match(value)
    if env:
        name = env.group(1)
        if name not in os.environ:
            problems.append(
                doc.problem(
                    loc,
                    f"environment variable {name} is not set",
                    f"export {name}=… before starting, or set it in the systemd unit",
                )
            )
            return value
        return _secret(os.environ[name], doc, loc, problems, f"${{{name}}}")
    if value.startswith(("file:", "cred:")):
        if value.startswith("cred:"):
            base = os.environ.get("CREDENTIALS_DIRECTORY")
            if base is None:
                problems.append(
                    doc.problem(
                        loc,
                        f"{value} needs $CREDENTIALS_DIRECTORY",
                        "use LoadCredential= in the systemd unit, or file:/path",
                    )
                )
                return value
            path = Path(base) / value.removeprefix("cred:")
        else:
            path = Path(value.removeprefix("file:"))
        try:
            content = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            problems.append(
                doc.problem(
                    loc, f"cannot read secret file {path}: {exc.strerror}", "check path and mode"
                )
            )
            return value
        return _secret(content, doc, loc, problems, str(path))
    return value


def _secret(value: str, doc: Document, loc: Loc, problems: list[Problem], origin: str) -> str:
    if len(value) < 4:
        problems.append(doc.problem(loc, f"secret from {origin} is empty or too short"))
    redaction.register(value)
    return value


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
