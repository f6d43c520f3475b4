"""How the bot's words reach one messenger: its dialect, fitting, and what its server lacks.

Every reply, preview, progress message and ack stamp is written once as Telegram HTML
(:mod:`crisisd.bot.texts`) and leaves through :func:`crisisd.channels.dialects.render_chat`
in the messenger's dialect: Telegram gets HTML, Bale its Markdown without ``parse_mode``
(docs/messengers.md). The RLM that opens Persian is counted before fitting.

Bale is compatible, not identical, and these never raise out of the bot:

* an edit answered with ``true`` or with a partial object (PTB would read a Message and
  fail with ``KeyError: 'date'``) counts as done;
* a server without ``editMessageReplyMarkup`` (older Bale: 404, which PTB reports as
  InvalidToken) is remembered; keyboards are then taken off by editing the text again;
* an edit refused for any other reason says so (False) and the caller sends anew.
"""

from __future__ import annotations

from typing import Any

import structlog
from telegram import InlineKeyboardMarkup, LinkPreviewOptions, Message
from telegram.error import BadRequest, EndPointNotFound, InvalidToken, RetryAfter, TelegramError
from telegram.ext import ExtBot

from crisisd.bot.texts import norm
from crisisd.channels.capabilities import Capabilities
from crisisd.channels.dialects import ChatText, render_chat, toast
from crisisd.domain import Dialect
from crisisd.redaction import redact

__all__ = ["MessengerBot", "edit", "rendered", "send", "toast", "unbutton"]

log = structlog.get_logger("crisisd.bot")

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
# A Message without one of these cannot be read by PTB; the server still said "ok".
_MESSAGE_FIELDS = frozenset({"date", "chat", "message_id", "from"})


class MessengerBot(ExtBot[int]):
    """PTB's bot that knows its messenger: dialect, capabilities, what its server lacks."""

    __slots__ = ("_caps", "_dialect", "_keyboard_edits")

    def __init__(self, token: str, *, dialect: Dialect, caps: Capabilities, **kwargs: Any):
        super().__init__(token, **kwargs)
        self._dialect: Dialect = dialect
        self._caps = caps
        self._keyboard_edits = True  # until the server answers 404 to editMessageReplyMarkup

    @property
    def dialect(self) -> Dialect:
        return self._dialect

    @property
    def caps(self) -> Capabilities:
        return self._caps

    @property
    def keyboard_edits(self) -> bool:
        return self._keyboard_edits

    def lacks_keyboard_edits(self) -> None:
        self._keyboard_edits = False

    def preview_options(self) -> LinkPreviewOptions | None:
        return NO_PREVIEW if self._caps.link_preview_options else None


def rendered(bot: MessengerBot, html: str, lang: str, tail: str = "") -> ChatText:
    """``html`` (and ``tail``, never cut) as this messenger is sent it."""
    return render_chat(html, bot.dialect, lang=norm(lang), tail=tail)


async def send(
    bot: MessengerBot,
    chat_id: int,
    html: str,
    lang: str,
    markup: InlineKeyboardMarkup | None = None,
) -> int | None:
    """Send a reply; its message id, or None when the server's answer did not carry one."""
    out = rendered(bot, html, lang)
    try:
        sent: Any = await bot.send_message(
            chat_id,
            out.text,
            parse_mode=out.parse_mode,
            link_preview_options=bot.preview_options(),
            reply_markup=markup,
        )
    except KeyError as exc:
        if exc.args and exc.args[0] in _MESSAGE_FIELDS:
            return None  # "ok" with a partial Message: sent, id unknown
        raise
    return sent.message_id if isinstance(sent, Message) else None


async def edit(
    bot: MessengerBot,
    chat_id: int,
    message_id: int,
    html: str,
    lang: str,
    markup: InlineKeyboardMarkup | None = None,
    tail: str = "",
) -> bool:
    """Edit a message in place; False when the messenger refused (gone, unchanged, too old,
    no such method): the caller may send anew. A 429 is the caller's to wait out."""
    out = rendered(bot, html, lang, tail)
    try:
        await bot.edit_message_text(
            out.text,
            chat_id=chat_id,
            message_id=message_id,
            parse_mode=out.parse_mode,
            link_preview_options=bot.preview_options(),
            reply_markup=markup,
        )
    except RetryAfter:
        raise
    except BadRequest as exc:
        if "not modified" not in exc.message:
            log.info("bot.edit_refused", chat_id=chat_id, reason=redact(exc.message))
        return False
    except TelegramError as exc:
        log.info("bot.edit_failed", chat_id=chat_id, error=redact(str(exc))[:200])
        return False
    except KeyError as exc:
        if not (exc.args and exc.args[0] in _MESSAGE_FIELDS):
            raise
        log.debug("bot.edit_partial_answer", chat_id=chat_id)  # done, as Bale answers it
    return True


async def unbutton(
    bot: MessengerBot,
    chat_id: int,
    message_id: int | None,
    html: str | None = None,
    lang: str = "fa",
) -> None:
    """Take the buttons off a message (best effort: it may be gone or already bare).

    Where the server has no ``editMessageReplyMarkup``, the message's text (``html``, as it
    was sent) is edited in again without them; without ``html`` the buttons stay, and
    pressing them says they belong to an earlier step.
    """
    if message_id is None:
        return
    if bot.keyboard_edits:
        try:
            await bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id)
            return
        except (InvalidToken, EndPointNotFound) as exc:
            if "not found" not in exc.message.lower():
                log.info("bot.unbutton_failed", error=redact(exc.message)[:200])
                return
            bot.lacks_keyboard_edits()
            log.info("bot.no_keyboard_edits", hint="buttons are removed by editing the text")
        except (KeyError, TypeError):
            return  # answered with something other than a Message: done
        except TelegramError:
            return
    if html is not None:
        await edit(bot, chat_id, message_id, html, lang)
