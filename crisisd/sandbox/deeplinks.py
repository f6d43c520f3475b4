"""Deep links as a phone opens them: ``https://t.me/<bot>?start=<payload>`` (Telegram) and
``https://ble.ir/<bot>?start=<payload>`` (Bale) open the bot, and its Start button sends
``/start <payload>`` (https://core.telegram.org/bots/features#deep-linking;
https://docs.bale.ai/links). The fake's ``/_control/open`` and the training page use this."""

from __future__ import annotations

import re

_LINK = re.compile(
    r"^\s*(?:https?://)?(?:t\.me|telegram\.me|ble\.ir)/([A-Za-z][A-Za-z0-9_]{3,63})"
    r"\?start=([A-Za-z0-9_-]{1,64})\s*$"
)


def start_link(text: str) -> tuple[str, str] | None:
    """(bot username, start payload) when ``text`` is a bot's deep link; else None."""
    found = _LINK.match(text)
    return (found.group(1), found.group(2)) if found else None
