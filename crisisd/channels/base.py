"""The Channel protocol: what every delivery channel provides, and how it reports outcomes.

Channels never raise for delivery problems; they classify them::

    SendResult
    ├── Sent(provider_id)                 the provider accepted the message
    ├── Retry(after, reason, scope,       transient: try again after `after` seconds
    │         unreachable)                scope "message": only this message waits
    │                                     scope "chat": its destination waits (a per-chat 429)
    │                                     scope "channel": every message of the channel waits
    │                                     (a 429 for the whole bot); unreachable: a timeout or
    │                                     a lost connection, counted by the circuit breaker
    └── Failed(reason, scope)             permanent for this message on this channel
                                          scope "recipient": this address is bad/blocked
                                          scope "channel": the channel/gateway is down or out
                                          of credit; fall over to the next channel
                                          scope "message": the text itself was refused (markup
                                          that cannot be parsed, too long); another channel,
                                          with its own rendering, may carry it

Reasons never contain a token, password or API key (they pass through redaction
too, but channels must not put them there in the first place).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from crisisd.domain import hot_record


@dataclass(frozen=True, slots=True)
class ChannelLimits:
    """A channel's limits, as data (Apprise-style)."""

    max_length: int  # characters (chat: UTF-16 units after entity parsing; sms: parts*units)
    rate_per_second: float  # global sending rate
    per_destination_per_second: float | None = None  # e.g. Telegram's 1 msg/s per chat
    per_group_per_second: float | None = None  # groups (negative chat ids): Telegram's 20/min
    concurrency: int = 8  # requests in flight at once
    timeout_seconds: float = 15.0  # one send never takes longer than this
    connect_timeout_seconds: float = 10.0  # reaching the server (TCP, TLS, greeting)
    trip_after: int = 5  # consecutive timeouts or lost connections that mark the channel down
    probe_seconds: float = 5.0  # while down, the server is checked this often

    def destination_rate(self, destination: str) -> float | None:
        """Most sends per second to ``destination``: a group chat (an id below zero, as the
        Bot API numbers them) has its own, slower limit."""
        per = self.per_destination_per_second
        if self.per_group_per_second is not None and destination.strip().startswith("-"):
            return min(per, self.per_group_per_second) if per else self.per_group_per_second
        return per


@hot_record
class OutboundMessage:
    """One message to one address on one channel, already rendered and fitted."""

    key: str  # stable message key (idempotency; Message-ID; localid)
    channel: str  # configured channel name: bale, telegram, sms, email, console
    address: str  # chat id, E.164 phone, or email address
    text: str  # chat: Telegram HTML; sms: plain; email: plain text part
    lang: str = "fa"
    subject: str | None = None
    html: str | None = None
    recipient_name: str = ""  # shown in To (email); empty: the bare address
    sender_name: str = ""  # shown in From (email); empty: the configured sender name
    ack_button: bool = False  # chat: add the inline "Acknowledge" button
    incident_id: str = ""
    drill: bool = False
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Sent:
    provider_id: str = ""


RetryScope = Literal["message", "chat", "channel"]


@dataclass(frozen=True, slots=True)
class Retry:
    after: float  # seconds
    reason: str
    scope: RetryScope = "message"  # who waits: this message, its chat, or the whole channel
    unreachable: bool = False  # a timeout or a lost connection: the server may be down


@dataclass(frozen=True, slots=True)
class Failed:
    reason: str
    scope: Literal["recipient", "channel", "message"] = "recipient"


SendResult = Sent | Retry | Failed


@runtime_checkable
class Channel(Protocol):
    """A way to reach people. `send` classifies every outcome and never raises for delivery."""

    name: str  # configured name (bale, telegram, sms, email, console)
    kind: str  # chat | sms | email | console
    limits: ChannelLimits

    async def send(self, msg: OutboundMessage) -> SendResult: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class BulkChannel(Channel, Protocol):
    """A channel that can send one text to many addresses in one provider request (bulk SMS).

    ``send_many`` takes messages with the same ``text`` and answers one result per message,
    in the same order; like ``send`` it never raises for delivery problems. ``bulk_size``
    is the most messages worth handing it at once (1: it has no bulk request configured).
    """

    bulk_size: int

    async def send_many(self, msgs: Sequence[OutboundMessage]) -> list[SendResult]: ...


@runtime_checkable
class Probed(Protocol):
    """A channel that can tell, without sending anything, whether its server answers."""

    async def probe(self) -> str | None:
        """None when the server answered; otherwise what went wrong (no secret in it)."""
        ...


ACK_CALLBACK_PREFIX = "ack:"
