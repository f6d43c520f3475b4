"""/stop: a person stops alerts to their chat, after saying yes; the officers are told."""

from __future__ import annotations

import structlog
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update, User
from telegram.constants import ChatType

from crisisd.bot.enrol_chat import actor, holders
from crisisd.bot.enrol_texts import words
from crisisd.bot.replies import edit, send, toast
from crisisd.bot.runtime import BotRuntime, Ctx
from crisisd.bot.texts import norm, say
from crisisd.enrolment.notices import fallback, stopped_notice
from crisisd.enrolment.records import tell_officers
from crisisd.store.bindings import STOPPED, BindingBook

log = structlog.get_logger("crisisd.bot.enrol")

STOP, KEEP = "enrol:stop", "enrol:keep"
PATTERN = f"^(?:{STOP}|{KEEP})$"


class StopFlow:
    """PTB callbacks for /stop and its two buttons."""

    def __init__(self, rt: BotRuntime) -> None:
        self.rt = rt
        self.book = BindingBook.of(rt.ctx.store)

    @property
    def messenger(self) -> str:
        return self.rt.messenger

    async def stop(self, update: Update, context: Ctx) -> None:
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None:
            return
        lang = norm(user.language_code)
        if chat.type != ChatType.PRIVATE:
            await send(context.bot, chat.id, say("private_only", lang), lang)
            return
        lib = self.rt.lib
        them = holders(lib, self.messenger, chat.id)
        if not them:
            await send(context.bot, chat.id, words("not_connected", lang), lang)
            return
        contact = lib.directory.contacts[them[0]]
        lang = contact.lang
        buttons = InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(words("stop_yes", lang), callback_data=STOP)],
                [InlineKeyboardButton(words("stop_no", lang), callback_data=KEEP)],
            ]
        )
        text = words(
            "stop_ask", lang, name=contact.name.get(lang), fallback=fallback(contact, lang)
        )
        await send(context.bot, chat.id, text, lang, buttons)

    async def button(self, update: Update, context: Ctx) -> None:
        query, user = update.callback_query, update.effective_user
        if query is None or user is None or not isinstance(query.message, Message):
            return
        chat_id, lang = query.message.chat.id, norm(user.language_code)
        if query.data == STOP and query.message.chat.type == ChatType.PRIVATE:
            await self._stop(context, user, query.message, lang)
            await query.answer()
        elif query.data == KEEP:
            await query.answer(toast(words("kept", lang)))
            await edit(context.bot, chat_id, query.message.message_id, words("kept", lang), lang)
        else:
            await query.answer(toast(words("stale_button", lang)))

    async def _stop(self, context: Ctx, user: User, message: Message, lang: str) -> None:
        lib, chat_id = self.rt.lib, message.chat.id
        them = holders(lib, self.messenger, chat_id)
        if not them:
            await edit(context.bot, chat_id, message.message_id, words("not_connected", lang), lang)
            return
        now, who = self.rt.now(), actor(self.messenger, user)
        for cid in them:
            await self.book.retire(cid, self.messenger, chat_id, STOPPED, now, who)
        after = self.rt.lib  # without this chat now
        for cid in them:
            contact = after.directory.contacts[cid]
            lang = contact.lang
            text = words(
                "stopped", lang, name=contact.name.get(lang), fallback=fallback(contact, lang)
            )
            await edit(context.bot, chat_id, message.message_id, text, lang)
            await tell_officers(
                self.rt.ctx.store, after, cid, stopped_notice(contact, self.messenger),
                f"stopped-{self.messenger}", now,
            )  # fmt: skip
        log.info("enrol.stopped", messenger=self.messenger, contacts=them)
        self.rt.ctx.kick()
