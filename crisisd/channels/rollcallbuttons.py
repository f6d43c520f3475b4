"""The two buttons under a roll-call question in a messenger.

``callback_data`` is ``rc:<ack code>:safe`` or ``rc:<ack code>:help`` (at most 33 bytes,
well inside Telegram's 64); the officers' bot (crisisd/bot/rollcall.py) records the press.
A message is a roll-call question when its key says so (``<incident>/roll_call/…``).
The markup is the Bot API's InlineKeyboardMarkup object as JSON
(https://core.telegram.org/bots/api#inlinekeyboardmarkup), sent by the outbox's own client.
"""

from __future__ import annotations

from typing import Any

from crisisd.channels.base import OutboundMessage
from crisisd.domain import Purpose, ack_code

ROLL_CALL_CALLBACK_PREFIX = "rc:"
LABELS = {
    "fa": ("✅ سالم هستم", "🆘 کمک لازم دارم"),
    "en": ("✅ I am safe", "🆘 I need help"),
}


def is_question(key: str) -> bool:
    parts = key.split("/")
    return len(parts) > 2 and parts[1] == Purpose.ROLL_CALL.value


def roll_call_markup(msg: OutboundMessage) -> dict[str, Any] | None:
    """The two answer buttons for a roll-call question; None for any other message."""
    if not is_question(msg.key):
        return None
    safe, need = LABELS.get(msg.lang, LABELS["en"])
    code = ROLL_CALL_CALLBACK_PREFIX + ack_code(msg.key)
    return {
        "inline_keyboard": [
            [{"text": safe, "callback_data": f"{code}:safe"}],
            [{"text": need, "callback_data": f"{code}:help"}],
        ]
    }
