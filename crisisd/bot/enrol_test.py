"""/test: a connected person gets a test alert with an acknowledge button, as real alerts
come; pressing it proves the chat and the button work.

No incident is opened and nothing is counted (no metrics, no drill score): the test is a
reply in the chat. A press moves the binding's ``last_delivery_at`` and leaves an audit
line ``enrol.test_acknowledged``.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType

from crisisd.bot.enrol_chat import actor, holders
from crisisd.bot.enrol_texts import words
from crisisd.bot.labels import at_clock
from crisisd.bot.replies import edit, send, toast
from crisisd.bot.runtime import BotRuntime, Ctx
from crisisd.bot.texts import Html, joined, norm, say
from crisisd.enrolment.records import factories_of
from crisisd.library.model import Library
from crisisd.store import AuditEntry
from crisisd.store.bindings import BindingBook

TEST = "enrol:test"
PATTERN = f"^{TEST}$"


class TestAlert:
    """PTB callbacks for /test and its button."""

    __test__ = False  # not a pytest class, whatever its name says

    def __init__(self, rt: BotRuntime) -> None:
        self.rt = rt
        self.book = BindingBook.of(rt.ctx.store)

    def _text(self, lib: Library, contact_id: str, lang: str) -> Html:
        names = [lib.playbooks[f].factory.name.get(lang) for f in factories_of(lib, contact_id)]
        return words("test_alert", lang, factories=joined(names, lang) if names else "crisisd")

    async def test(self, update: Update, context: Ctx) -> None:
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None:
            return
        lang = norm(user.language_code)
        if chat.type != ChatType.PRIVATE:
            await send(context.bot, chat.id, say("private_only", lang), lang)
            return
        lib = self.rt.lib
        them = holders(lib, self.rt.messenger, chat.id)
        if not them:
            await send(context.bot, chat.id, words("not_connected", lang), lang)
            return
        lang = lib.directory.contacts[them[0]].lang
        button = InlineKeyboardButton(words("test_button", lang), callback_data=TEST)
        markup = InlineKeyboardMarkup([[button]])
        await send(context.bot, chat.id, self._text(lib, them[0], lang), lang, markup)

    async def button(self, update: Update, context: Ctx) -> None:
        query, user = update.callback_query, update.effective_user
        if query is None or user is None or not isinstance(query.message, Message):
            return
        lib, chat_id = self.rt.lib, query.message.chat.id
        them = holders(lib, self.rt.messenger, chat_id)
        if not them or query.message.chat.type != ChatType.PRIVATE:
            lang = norm(user.language_code)
            await query.answer(toast(words("not_connected", lang)), show_alert=True)
            return
        contact, now = them[0], self.rt.now()
        lang = lib.directory.contacts[contact].lang
        await query.answer(toast(words("test_thanks", lang)))
        binding = self.book.active(contact, self.rt.messenger)
        if binding is not None and binding.chat_id == chat_id:
            await self.book.delivered([(binding.id, now)])
        entry = AuditEntry(
            None, now, actor(self.rt.messenger, user), "enrol.test_acknowledged",
            self.rt.messenger, {"contact": contact, "chat_id": chat_id},
        )  # fmt: skip
        await self.rt.ctx.store.add_audit(entry)
        # the stamp says it is recorded: shown only once it is
        stamp = words("test_stamp", lang, time=at_clock(lib, now, lang))
        text = self._text(lib, contact, lang)
        await edit(context.bot, chat_id, query.message.message_id, text, lang, tail=f"\n\n{stamp}")
