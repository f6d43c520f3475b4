"""The channel sections of config.yaml: messengers, SMS gateways, the SMTP server."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, SecretStr, model_validator

from crisisd.config.base import NAME_ID, Model
from crisisd.domain import Dialect, is_bale


class Rate(Model):
    """Sending limits of one messenger (Telegram's published defaults)."""

    global_per_second: Annotated[float, Field(gt=0)] = Field(
        30.0, description="Messages per second to all chats together."
    )
    per_chat_per_second: Annotated[float, Field(gt=0)] = Field(
        1.0, description="Messages per second to any one chat."
    )
    # https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this
    per_group_per_minute: Annotated[float, Field(gt=0)] = Field(
        20.0, description="Messages per minute to any one group chat (a negative chat id)."
    )


class Breaker(Model):
    """When a channel counts as down, and how often a down channel's server is checked."""

    trip_after: Annotated[int, Field(ge=1, le=1000)] = Field(
        5,
        description="Consecutive timeouts or lost connections after which the channel is "
        "down: messages whose step lists another channel go there at once.",
    )
    probe_seconds: Annotated[float, Field(gt=0, le=3600)] = Field(
        5.0,
        description="While the channel is down, its server is checked this often without "
        "sending anything (SMTP EHLO, Bot API getMe); the first answer brings it back.",
    )


class Messenger(Model):
    """A Telegram-compatible Bot API (Telegram, Bale, …): one instance of one channel kind."""

    name: Annotated[str, Field(pattern=NAME_ID)] = Field(
        description="The channel name playbook steps use and the key of directory `chats`, "
        "e.g. `bale`."
    )
    token: SecretStr | None = Field(
        None,
        description="Bot token, as a secret reference: `${ENV}`, `file:/path` or `cred:NAME`. "
        "Needed unless `sandbox: true`.",
    )
    base_url: str = Field(
        "https://api.telegram.org/bot",
        description="Bot API base URL; for Bale `https://tapi.bale.ai/bot`.",
    )
    format: Dialect = Field(
        "telegram_html",
        description="How texts are written: `telegram_html` (HTML), `bale_markdown` (Bale's "
        "Markdown, no parse_mode) or `plain`; see docs/messengers.md. Unset: `bale_markdown` "
        "for Bale (`base_url` at tapi.bale.ai, or named `bale`), `telegram_html` otherwise.",
    )
    rate: Rate = Field(Rate(), description="Sending limits on this messenger.")
    connect_timeout_seconds: Annotated[float, Field(gt=0, le=300)] = Field(
        5.0, description="Give up reaching the Bot API (TCP and TLS) after this many seconds."
    )
    timeout_seconds: Annotated[float, Field(gt=0, le=600)] = Field(
        15.0, description="Give up on one request to the Bot API after this many seconds."
    )
    breaker: Breaker = Field(Breaker(), description="When this messenger counts as down.")
    officers_bot: bool = Field(True, description="Run the officers' bot on this messenger.")
    username: Annotated[str, Field(pattern=r"^@?[A-Za-z][A-Za-z0-9_]{3,63}$")] | None = Field(
        None,
        description="The bot's username (with or without `@`), for invite links "
        "(`https://t.me/<username>?start=…`, Bale: `https://ble.ir/<username>?start=…`). "
        "Unset: no invite links on this messenger (in the sandbox: the fake bot's name).",
    )

    @model_validator(mode="before")
    @classmethod
    def _bale_writes_markdown(cls, data: Any) -> Any:
        bale = isinstance(data, dict) and "format" not in data and is_bale(data)
        return {**data, "format": "bale_markdown"} if bale else data


class GenericSuccess(Model):
    """How a generic HTTP gateway says "accepted": status code and optional JSON field."""

    status: list[int] = Field(
        default_factory=lambda: [200], description="HTTP status codes that mean accepted."
    )
    json_field: str | None = Field(
        None,  # dotted path, e.g. "result.status"
        description="Dotted path to a field of the JSON reply that must equal `equals` (or, "
        "without `equals`, be truthy), e.g. `result.status`. Unset: the status code decides.",
    )
    equals: str | int | None = Field(None, description="The value `json_field` must have.")
    id_field: str | None = Field(
        None,  # dotted path to the provider's message id
        description="Dotted path to the provider's message id in the JSON reply. "
        "Unset: crisisd's own `localid` is recorded.",
    )


class SmsGateway(Model):
    """One SMS gateway; gateways are tried in the order listed."""

    name: Annotated[str, Field(pattern=NAME_ID)] = Field(
        description="The gateway's name in logs, delivery records and reports."
    )
    provider: Literal["kavenegar", "ghasedak", "smsir", "generic_http"] = Field(
        description="Which wire protocol it speaks; `generic_http` is any HTTP gateway, "
        "described by `url`, `method`, `headers`, `body` and `success`."
    )
    api_key: SecretStr | None = Field(
        None,
        description="API key, as a secret reference: `${ENV}`, `file:/path` or `cred:NAME`. "
        "Needed for the named providers unless `sandbox: true`.",
    )
    sender: str | None = Field(
        None,  # line number
        description="Sender line number, e.g. `10008663`. Unset: the account's default line.",
    )
    base_url: str | None = Field(
        None,  # None: the provider's public endpoint
        description="Another endpoint for the provider's API. Unset: its public endpoint.",
    )
    rate_per_second: Annotated[float, Field(gt=0)] = Field(
        5.0, description="Messages per second through this gateway."
    )
    cooldown_seconds: Annotated[float, Field(ge=0)] = Field(
        60.0,
        description="After the gateway fails (down, out of credit), the next one is used "
        "for this long.",
    )
    # generic_http only
    url: str | None = Field(None, description="`generic_http` only: the URL to call.")
    method: Literal["GET", "POST"] = Field(
        "POST", description="`generic_http` only: the HTTP method."
    )
    headers: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="`generic_http` only: request headers; values may be secret references.",
    )
    body: str | None = Field(
        None,  # Jinja2 text with receptor, message, localid, sender
        description="`generic_http` only: the request body, Jinja2 text with `receptor` "
        "(E.164), `national` (`0912…`), `message`, `localid` and `sender`. Unset: those are "
        "sent as a form (POST) or as query parameters (GET).",
    )
    success: GenericSuccess = Field(
        GenericSuccess(), description="`generic_http` only: how to tell the message was taken."
    )


class Sms(Model):
    """SMS gateways."""

    gateways: list[SmsGateway] = Field(
        default_factory=list,
        description="Gateways in the order they are tried; a failed one is skipped for its "
        "cool-down. Empty: no SMS channel.",
    )
    alert_delivered_within_minutes: Annotated[float, Field(ge=0)] = Field(
        5.0, description="An alert to acknowledge whose SMS is not reported delivered "
        "this long after sending goes to the person's next channel. 0: never.",
    )  # fmt: skip
    # A gateway's rate is only reached with its rate times its answer time in flight: 5 a
    # second answered in 2 s takes 10 requests at once, and 8 would cap it at 4 a second.
    concurrency: Annotated[int, Field(ge=1, le=64)] = Field(
        8,
        description="SMS requests in flight at once, over all gateways (a bulk request is "
        "one). To keep a gateway at its rate, at least its rate times its answer time.",
    )
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = Field(
        15.0,
        description="Give up on one gateway request after this many seconds (the answer "
        "read in full); the message goes to the next gateway, or waits and tries again.",
    )


class EmailFrom(Model):
    """The sender shown on crisisd's email."""

    address: str = Field(description="Sender address.")
    name: str = Field("crisisd", description="Sender name.")


class Smtp(Model):
    """The SMTP server crisisd sends email through."""

    host: str = Field("127.0.0.1", description="SMTP server host name or address.")
    port: Annotated[int, Field(ge=1, le=65535)] = Field(25, description="SMTP server port.")
    tls: Literal["none", "starttls", "tls"] = Field(
        "none",
        description="`starttls` (usually port 587), `tls` (implicit TLS, usually 465) or `none`.",
    )
    username: str | None = Field(None, description="Login name. Unset: no authentication.")
    password: SecretStr | None = Field(
        None,
        description="Password, as a secret reference: `${ENV}`, `file:/path` or `cred:NAME`.",
    )
    sender: EmailFrom = Field(
        default=EmailFrom(address="crisisd@example.com"),
        alias="from",
        description="The sender of crisisd's email.",
    )
    # Exchange Online's SMTP AUTH submission takes 3 concurrent connections and 30 messages
    # a minute per mailbox: learn.microsoft.com/en-us/exchange/troubleshoot/send-emails/
    # smtp-submission-improvements. Postfix sends to one destination over up to 20
    # (default_destination_concurrency_limit), so 4 is gentle on a relay of our own.
    pool_size: Annotated[int, Field(ge=1, le=32)] = Field(
        4,
        description="SMTP connections kept open, one message each at a time. A hosted "
        "provider may take fewer (Exchange Online: 3 per mailbox).",
    )
    rate_per_second: Annotated[float, Field(gt=0)] = Field(
        100.0,
        description="Messages per second to the SMTP server. A relay on the same host or "
        "network (Postfix) takes hundreds; a hosted provider publishes its own limit: set that "
        "(Exchange Online: 30 a minute, 0.5).",
    )
    timeout_seconds: Annotated[float, Field(gt=0)] = Field(
        30.0, description="Give up on one SMTP command (MAIL, RCPT, DATA) after this many seconds."
    )
    connect_timeout_seconds: Annotated[float, Field(gt=0, le=300)] = Field(
        10.0,
        description="Give up reaching the server (TCP, greeting, EHLO, STARTTLS, login) after "
        "this many seconds.",
    )
    send_timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = Field(
        60.0,
        description="Give up on one message (connecting included) after this many seconds; "
        "it is tried again later or on the recipient's next channel.",
    )
    breaker: Breaker = Field(Breaker(), description="When email counts as down.")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
