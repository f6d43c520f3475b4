"""Where Bale's Bot API answers differently from Telegram's: the fake's two modes.

Telegram (https://core.telegram.org/bots/api) parses ``parse_mode=HTML`` and refuses bad
markup; errors are ``{"ok": false, "error_code": N, "description": "…", "parameters"?}``.

Bale (https://tapi.bale.ai/bot<token>/<method>, documented at https://docs.bale.ai) copies
the method names and JSON shapes, with these differences, each from its source:

- ``sendMessage``/``editMessageText`` take ``chat_id, text, reply_markup,
  reply_to_message_id`` and no ``parse_mode`` (docs.bale.ai; the SDKs send none:
  github.com/Balethon/Balethon balethon/client/messages/send_message.py,
  github.com/python-bale-bot/python-bale-bot bale/_bot.py ``send_message``). The fake
  ignores a ``parse_mode`` and keeps the text as it came: ``<b>`` reaches the reader as
  ``<b>``; the Bale app renders Markdown in the text instead
  (:func:`crisisd.sandbox.botapi_render.render_bale_markdown`).
- ``setWebhook`` takes ``url`` only (python-bale-bot ``set_webhook(url)``, Balethon
  balethon/client/updates/set_webhook.py): a ``secret_token`` is ignored and deliveries
  carry no ``X-Telegram-Bot-Api-Secret-Token``.
- Edits may answer a stub instead of the Message (issue 11; ``edit_result``: ``true``, a
  Message without ``date``, or the whole Message); older servers have no
  ``editMessageReplyMarkup`` and answer 404 Not Found (python-bale-bot has no such method).
- Error descriptions are Bale's, as python-bale-bot bale/_error.py matches them: "no such
  group or user", "Bad Request: Token not found", "permission_denied", and a rate limit
  "bot limit exceed" without ``retry_after`` (that SDK sleeps a fixed time instead).

``bale_strict=False`` makes a Bale fake answer as Telegram does (the fake before these
rules); it is for a daemon that does not speak Bale's dialect yet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from crisisd.sandbox.botapi_html import EntityParseError, ParsedText, parse_html, utf16_len
from crisisd.sandbox.botapi_model import JSON, FakeChat
from crisisd.sandbox.botapi_wire import MAX_TEXT, BotApiError, bad_request

Mode = Literal["telegram", "bale"]
EditResult = Literal["true", "partial", "message"]
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


@dataclass(frozen=True, slots=True)
class Dialect:
    """How one fake answers: Telegram's rules, or Bale's where they differ."""

    mode: Mode = "telegram"
    bale_strict: bool = True  # False: a Bale fake answers as Telegram does
    bale_lacks_edit_reply_markup: bool = True  # an older Bale server: no such method
    bale_edit_result: EditResult = "true"  # what Bale answers to editMessageText

    @property
    def bale(self) -> bool:
        """Bale's own behaviour is on."""
        return self.mode == "bale" and self.bale_strict

    @property
    def markdown_text(self) -> bool:
        """The app renders Markdown found in the text (Bale), not parsed entities."""
        return self.bale

    def parse(self, source: str, parse_mode: object) -> ParsedText:
        """The text as the server keeps it, or the 400 it answers for a bad one."""
        # No parse_mode on Bale: the text is what is shown.
        parsed = ParsedText(source) if self.bale else _telegram_text(source, parse_mode)
        if not parsed.text.strip():
            raise bad_request("message text is empty")
        if utf16_len(parsed.text) > MAX_TEXT:
            raise bad_request("message is too long")
        return parsed

    def has_method(self, name: str) -> bool:
        return not (
            self.bale and self.bale_lacks_edit_reply_markup and name == "editmessagereplymarkup"
        )

    def edit_answer(self, message: JSON) -> JSON | bool:
        """What editMessageText returns: the Message, or Bale's stub."""
        if not self.bale or self.bale_edit_result == "message":
            return message
        if self.bale_edit_result == "partial":
            return {k: message[k] for k in ("message_id", "chat", "text") if k in message}
        return True

    def webhook_secret(self, given: object) -> str:
        """The secret deliveries will carry; Bale takes none."""
        if self.bale or given in (None, ""):
            return ""
        if not _SECRET.fullmatch(str(given)):
            raise bad_request("secret token contains unallowed characters")
        return str(given)

    # -- errors --------------------------------------------------------------------
    def unauthorized(self) -> BotApiError:
        return bad_request("Token not found") if self.bale else BotApiError(401, "Unauthorized")

    def chat_not_found(self) -> BotApiError:
        return bad_request("no such group or user" if self.bale else "chat not found")

    def unreachable(self, chat: FakeChat, bot_id: int) -> BotApiError | None:
        """403 for a chat that blocked the bot, removed it, or never started it."""
        if not chat.blocked and chat.has_started(bot_id):
            return None
        if self.bale:
            return BotApiError(403, "Forbidden: permission_denied")
        if not chat.blocked:
            return BotApiError(403, "Forbidden: bot can't initiate conversation with a user")
        if chat.is_group:
            return BotApiError(403, "Forbidden: bot was kicked from the group chat")
        return BotApiError(403, "Forbidden: bot was blocked by the user")

    def migrated(self, new_chat_id: int) -> BotApiError:
        return BotApiError(
            400,
            "Bad Request: group chat was upgraded to a supergroup chat",
            parameters={"migrate_to_chat_id": new_chat_id},
        )

    def flood(self, retry_after: int) -> BotApiError:
        if self.bale:
            return BotApiError(429, "bot limit exceed")
        return BotApiError(
            429,
            f"Too Many Requests: retry after {retry_after}",
            parameters={"retry_after": retry_after},
        )


def _telegram_text(source: str, parse_mode: object) -> ParsedText:
    mode = str(parse_mode).lower() if parse_mode else ""
    if mode not in ("", "html", "markdown", "markdownv2"):
        raise bad_request("unsupported parse_mode")
    try:
        return parse_html(source) if mode == "html" else ParsedText(source)
    except EntityParseError as exc:
        raise bad_request(f"can't parse entities: {exc}") from None
