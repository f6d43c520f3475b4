"""Which channel class serves which configured channel: an explicit registry, no scanning."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import SecretStr

from crisisd.channels.base import Channel
from crisisd.channels.email import EmailChannel
from crisisd.channels.sms import SmsChannel
from crisisd.channels.telegram import TelegramChannel
from crisisd.config import Config, SmsGateway

if TYPE_CHECKING:
    from crisisd.sandbox.runner import Sandbox

# kind -> builder; messengers are all of kind "chat" (Telegram, Bale, …)
REGISTRY: dict[str, Callable[..., Channel]] = {
    "chat": TelegramChannel,
    "sms": SmsChannel,
    "email": EmailChannel,
}


def build_channels(config: Config, sandbox: Sandbox | None = None) -> dict[str, Channel]:
    """Every configured channel by name; with a sandbox, each points at its fake."""
    channels: dict[str, Channel] = {}
    for messenger in config.messengers:
        if sandbox is not None:
            from crisisd.sandbox.runner import sandbox_token

            channels[messenger.name] = REGISTRY["chat"](
                messenger,
                base_url=sandbox.botapi_urls[messenger.name],
                token=sandbox_token(messenger.name),
            )
        elif messenger.token is not None:
            channels[messenger.name] = REGISTRY["chat"](messenger)
    if config.sms.gateways:
        gateways = config.sms.gateways
        base_urls = None
        if sandbox is not None and sandbox.sms is not None:
            from crisisd.sandbox.runner import SMS_KEYS

            key_of = {"generic_http": "generic"}
            gateways = [
                _sandboxed(g, SMS_KEYS[key_of.get(g.provider, g.provider)]) for g in gateways
            ]
            base_urls = {g.name: sandbox.sms.url for g in gateways}
        channels["sms"] = REGISTRY["sms"](gateways, base_urls=base_urls)
    if sandbox is not None and sandbox.smtp is not None:
        channels["email"] = REGISTRY["email"](
            config.smtp, host=sandbox.host, port=sandbox.smtp_port
        )
    else:
        channels["email"] = REGISTRY["email"](config.smtp)
    return channels


def _sandboxed(gateway: SmsGateway, key: str) -> SmsGateway:
    """A gateway pointed at its fake, with the fake's key where the provider expects it."""
    update: dict[str, object] = {"api_key": SecretStr(key)}
    if gateway.provider == "generic_http":  # a generic gateway authenticates by header
        update["headers"] = {**gateway.headers, "X-Api-Key": SecretStr(key)}
    return gateway.model_copy(update=update)
