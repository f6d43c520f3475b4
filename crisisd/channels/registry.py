"""Which channel class serves which configured channel: an explicit registry, no scanning.

Channels know nothing of the sandbox: a sandboxed daemon builds its channels from a config
whose endpoints :meth:`crisisd.sandbox.runner.Sandbox.point` has pointed at the fakes.
"""

from __future__ import annotations

from collections.abc import Callable

from crisisd.channels.base import Channel
from crisisd.channels.email import EmailChannel
from crisisd.channels.sms import SmsChannel
from crisisd.channels.telegram import TelegramChannel
from crisisd.config import Config

# kind -> builder; messengers are all of kind "chat" (Telegram, Bale, …)
REGISTRY: dict[str, Callable[..., Channel]] = {
    "chat": TelegramChannel,
    "sms": SmsChannel,
    "email": EmailChannel,
}


def build_channels(config: Config) -> dict[str, Channel]:
    """Every configured channel by name (a messenger without a token is left out)."""
    channels: dict[str, Channel] = {}
    for messenger in config.messengers:
        if messenger.token is not None:
            channels[messenger.name] = REGISTRY["chat"](messenger)
    if config.sms.gateways:
        sms = config.sms
        channels["sms"] = REGISTRY["sms"](
            sms.gateways, concurrency=sms.concurrency, timeout=sms.timeout_seconds
        )
    channels["email"] = REGISTRY["email"](config.smtp)
    return channels
