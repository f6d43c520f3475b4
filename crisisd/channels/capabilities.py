"""What each Telegram-compatible messenger accepts, as data (docs/messengers.md has the
table with its sources).

Only what crisisd decides *before* a request lives here. What differs between servers of
one messenger is handled when it happens, whatever this says: an edit may answer
``true`` or a partial object instead of the Message (Bale), ``editMessageReplyMarkup``
may be missing (older Bale: 404, then the text is edited instead), ``setMyCommands`` may
be refused (logged, ignored).
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from crisisd.config import Messenger
from crisisd.domain import Dialect, is_bale

_log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Capabilities:
    """Facts about one messenger's Bot API."""

    name: str  # "telegram" | "bale"
    parse_modes: tuple[str, ...]  # accepted parse_mode values; () for none at all
    link_preview_options: bool  # sendMessage takes link_preview_options
    webhook_secret_token: bool  # setWebhook takes secret_token, sent back in a header
    supergroups: bool  # groups become supergroups (400 with migrate_to_chat_id)


# https://core.telegram.org/bots/api#formatting-options, #sendmessage, #setwebhook
TELEGRAM = Capabilities("telegram", ("HTML", "MarkdownV2", "Markdown"), True, True, True)
# https://docs.bale.ai: sendMessage (chat_id, text, reply_to_message_id, reply_markup), no
# parse_mode; setWebhook takes only url; chat types private, group, channel.
BALE = Capabilities("bale", (), False, False, False)


def capabilities(messenger: Messenger) -> Capabilities:
    """Bale's for Bale (its host, its name, or its Markdown), Telegram's for the rest."""
    fields = {"name": messenger.name, "base_url": messenger.base_url}
    return BALE if messenger.format == "bale_markdown" or is_bale(fields) else TELEGRAM


def dialect(messenger: Messenger) -> Dialect:
    """The messenger's formatting dialect; never one whose parse_mode it refuses."""
    caps = capabilities(messenger)
    if messenger.format == "telegram_html" and "HTML" not in caps.parse_modes:
        _log.warning(
            "chat.format_not_supported",
            messenger=messenger.name,
            format=messenger.format,
            using="bale_markdown",
        )
        return "bale_markdown"
    return messenger.format
