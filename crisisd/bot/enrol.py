"""Enrolment in the bot: people connect their own chat (the registration is here too).

``/start`` from a chat crisisd does not know yet asks, in the client's language, for the
person's number with the messenger's "share my number" button (``request_contact``).
The shared contact must be the sender's own (``contact.user_id``); its number is
normalised (Persian or Arabic digits, spaces, +98/0098/0 prefixes) and matched with the
directory's phones. One match binds this chat to that contact (``how=phone``) and says
which factories' alerts will arrive here; no match gets a polite answer naming whom to
ask, and an audit line without the number. A chat that is another contact's stays theirs.

``/start`` from a chat whose binding went stale (the person had blocked the bot) or was
stopped makes it active again; from a connected chat it says so. ``/stop`` is
:mod:`.enrol_stop`, ``/test`` :mod:`.enrol_test`. Shared numbers and invite tokens are
*attempts*: a few an hour per person (:class:`~crisisd.bot.enrol_chat.Attempts`), on top
of the bot's flood control.
"""

from __future__ import annotations

from typing import Any

import structlog
from telegram import KeyboardButton, ReplyKeyboardMarkup, ReplyKeyboardRemove, Update, User
from telegram.constants import ChatType
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from crisisd.bot.enrol_chat import Attempts, actor, holders, send_with_keyboard, whom_to_ask
from crisisd.bot.enrol_stop import PATTERN as STOP_PATTERN
from crisisd.bot.enrol_stop import StopFlow
from crisisd.bot.enrol_test import PATTERN as TEST_PATTERN
from crisisd.bot.enrol_test import TestAlert
from crisisd.bot.enrol_texts import words
from crisisd.bot.replies import MessengerBot, send, toast
from crisisd.bot.runtime import BotRuntime, Ctx
from crisisd.bot.texts import Html, joined, norm, say
from crisisd.enrolment.notices import messenger_name
from crisisd.enrolment.records import factories_of
from crisisd.enrolment.tokens import SECRET_SETTING, read_token
from crisisd.errors import InviteError, UnknownInvite
from crisisd.formats.phones import normalize_phone
from crisisd.library.model import Library
from crisisd.store import AuditEntry
from crisisd.store.bindings import ACTIVE, RETIRED, STOPPED, Binding, BindingBook, BindOutcome
from crisisd.store.invites import InviteBook

log = structlog.get_logger("crisisd.bot.enrol")

PREFIX = "enrol:"
_INVITE_WORDS = {
    "expired": "invite_expired",
    "used": "invite_used",
    "revoked": "invite_revoked",
}  # malformed, forged, unknown: "not valid"


class Enrolment:
    """PTB callbacks for /start, a shared contact, /stop and the enrolment buttons."""

    def __init__(self, rt: BotRuntime, attempts: Attempts | None = None) -> None:
        self.rt = rt
        self.book = BindingBook.of(rt.ctx.store)
        self.invites = InviteBook(rt.ctx.store)
        self.attempts = attempts or Attempts()
        self._key: bytes | None = None  # the invite tokens' key, read once

    @property
    def messenger(self) -> str:
        return self.rt.messenger

    # -- who is this chat --------------------------------------------------------------

    def holders(self, lib: Library, chat_id: int) -> list[str]:
        """Contacts this chat reaches now (bindings merged into the directory)."""
        return holders(lib, self.messenger, chat_id)

    def _comeback(self, lib: Library, chat_id: int) -> Binding | None:
        """A binding of this chat that /start may make active again: stale (they had
        blocked the bot) or stopped, of a contact still in the directory with no other
        active chat on this messenger."""
        for b in self.book.of_chat(self.messenger, chat_id):
            if b.state == ACTIVE or b.contact not in lib.directory.contacts:
                continue
            if b.state == RETIRED and b.reason != STOPPED:
                continue
            if self.book.active(b.contact, self.messenger) is None:
                return b
        return None

    # -- /start ---------------------------------------------------------------------------

    async def start(self, update: Update, context: Ctx) -> None:
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None:
            return
        lang = norm(user.language_code)
        if chat.type != ChatType.PRIVATE:
            await send(context.bot, chat.id, say("private_only", lang), lang)
            return
        if context.args:  # /start <token>: an invite link
            await self.invite(context, user, chat.id, context.args[0], lang)
            return
        await self.book.load()  # another daemon may have bound or marked this chat
        lib = self.rt.lib
        holders = self.holders(lib, chat.id)
        if holders:
            await self._connected(context, chat.id, lib, holders[0], "already")
            return
        back = self._comeback(lib, chat.id)
        if back is not None:
            await self.bind(context, user, chat.id, back.contact, back.how, lang)
            return
        await self._ask_number(context.bot, chat.id, lang)

    async def _ask_number(self, bot: MessengerBot, chat_id: int, lang: str) -> None:
        button = KeyboardButton(words("share_button", lang), request_contact=True)
        keyboard = ReplyKeyboardMarkup([[button]], resize_keyboard=True, one_time_keyboard=True)
        await send_with_keyboard(bot, chat_id, words("ask_number", lang), lang, keyboard)

    # -- a shared contact -----------------------------------------------------------------

    async def contact(self, update: Update, context: Ctx) -> None:
        message, user, chat = update.effective_message, update.effective_user, update.effective_chat
        if message is None or message.contact is None or user is None or chat is None:
            return
        lang = norm(user.language_code)
        if not await self.attempt(context, user, chat.id, lang):
            return
        lib = self.rt.lib
        shared = message.contact
        if shared.user_id != user.id:
            await self.refuse(context, user, chat.id, lang, "not_yours", "not_own_contact")
            return
        try:
            phone = normalize_phone(shared.phone_number)
        except ValueError:
            await self.refuse(context, user, chat.id, lang, "unreadable", "unreadable_number")
            return
        matches = [cid for cid, c in lib.directory.contacts.items() if c.phone == phone]
        if len(matches) != 1:
            key, reason = (
                ("no_match", "unknown_number")
                if not matches
                else ("shared_number", "shared_number")
            )
            await self.refuse(context, user, chat.id, lang, key, reason, matches=len(matches))
            return
        await self.bind(context, user, chat.id, matches[0], "phone", lang)

    async def attempt(self, context: Ctx, user: User, chat_id: int, lang: str) -> bool:
        admitted = self.attempts.admit(user.id)
        if admitted is False:
            await self.refuse(context, user, chat_id, lang, "too_many", "too_many_attempts")
        return bool(admitted)

    # -- an invite link ---------------------------------------------------------------------

    async def invite(self, context: Ctx, user: User, chat_id: int, token: str, lang: str) -> None:
        """``/start <token>``: bind this chat to the invite's contact, or say why not."""
        if not await self.attempt(context, user, chat_id, lang):
            return
        now, lib = self.rt.now(), self.rt.lib
        try:
            if self._key is None:
                self._key = (await self.rt.ctx.store.setting(SECRET_SETTING)).encode()
            found = read_token(self._key, token, now)
            invite = await self.invites.get(found.invite_id)
            if invite is None or invite.contact not in lib.directory.contacts:
                raise UnknownInvite("no such invite, or its contact left the directory")
            if invite.messenger != self.messenger:
                other = messenger_name(invite.messenger, lang)
                await self.refuse(
                    context, user, chat_id, lang, "invite_other_messenger",
                    "invite_other_messenger", shown={"other": other},
                )  # fmt: skip
                return
            use = self.invites.claim(
                found.invite_id, self.messenger, chat_id, now, actor(self.messenger, user)
            )
            await self.bind(context, user, chat_id, invite.contact, "invite", lang, before=use)
        except InviteError as exc:
            key = _INVITE_WORDS.get(exc.reason, "invite_invalid")
            await self.refuse(context, user, chat_id, lang, key, f"invite_{exc.reason}")

    # -- binding ---------------------------------------------------------------------------

    async def bind(
        self,
        context: Ctx,
        user: User,
        chat_id: int,
        contact: str,
        how: str,
        lang: str,
        before: Any = None,
    ) -> bool:
        """Bind this chat to ``contact`` and tell the person; False when it stays another's."""
        lib = self.rt.lib
        others = [h for h in self.holders(lib, chat_id) if h != contact]
        if others:
            await self._taken(context, user, chat_id, lang, contact, others[0])
            return False
        result = await self.book.bind(
            contact,
            self.messenger,
            chat_id,
            how,
            self.rt.now(),
            actor(self.messenger, user),
            before,
        )
        if result.outcome is BindOutcome.TAKEN:
            await self._taken(context, user, chat_id, lang, contact, result.holder or "")
            return False
        lib = self.rt.lib  # the merge now includes this chat
        log.info(
            "enrol.bound",
            messenger=self.messenger,
            contact=contact,
            how=how,
            outcome=result.outcome,
        )
        if result.outcome is BindOutcome.ALREADY:
            await self._connected(context, chat_id, lib, contact, "already")
        else:
            key = "connected_again" if result.again else "connected"
            note = words("replaced", lang) if result.replaced is not None else None
            await self._connected(context, chat_id, lib, contact, key, note)
        return True

    async def _connected(
        self,
        context: Ctx,
        chat_id: int,
        lib: Library,
        contact_id: str,
        key: str,
        note: Html | None = None,
    ) -> None:
        contact = lib.directory.contacts[contact_id]
        lang = contact.lang
        fids = factories_of(lib, contact_id)
        names = [lib.playbooks[f].factory.name.get(lang) for f in fids]
        listed = (
            words("factories", lang, names=joined(names, lang))
            if names
            else words("no_factory", lang)
        )
        text = words(key, lang, name=contact.name.get(lang), factories=listed)
        if note is not None:
            text = Html(f"{text}\n{note}")
        await send_with_keyboard(context.bot, chat_id, text, lang, ReplyKeyboardRemove())
        if any(contact_id in lib.playbooks[f].factory.officers for f in fids):
            mine = [
                lib.playbooks[f].factory.name.get(lang)
                for f in fids
                if contact_id in lib.playbooks[f].factory.officers
            ]
            await send(context.bot, chat_id, say("help", lang, name=joined(mine, lang)), lang)

    async def _taken(
        self, context: Ctx, user: User, chat_id: int, lang: str, contact: str, holder: str
    ) -> None:
        lib = self.rt.lib
        who = lib.directory.contacts.get(holder)
        shown = who.name.get(lang) if who else holder
        await self.refuse(
            context, user, chat_id, lang, "taken", "chat_is_another_contacts",
            shown={"holder": shown}, contact=contact, holder=holder,
        )  # fmt: skip

    async def refuse(
        self,
        context: Ctx,
        user: User,
        chat_id: int,
        lang: str,
        key: str,
        reason: str,
        shown: dict[str, object] | None = None,
        **detail: object,
    ) -> None:
        """Say no (``key``, naming whom to ask) and write an audit line: who asked and why
        not, never the number they shared."""
        entry = AuditEntry(
            None, self.rt.now(), actor(self.messenger, user), "enrol.refused", self.messenger,
            {"reason": reason, **detail},
        )  # fmt: skip
        await self.rt.ctx.store.add_audit(entry)
        log.info("enrol.refused", messenger=self.messenger, user_id=user.id, reason=reason)
        values: dict[str, object] = {"who": whom_to_ask(self.rt.lib, lang), **(shown or {})}
        await send(context.bot, chat_id, words(key, lang, **values), lang)


async def _stale_button(update: Update, context: Ctx) -> None:
    query, user = update.callback_query, update.effective_user
    if query is not None:
        await query.answer(toast(words("stale_button", norm(user.language_code if user else None))))


def add_enrolment(app: Application[Any, Any, Any, Any, Any, Any], rt: BotRuntime) -> Enrolment:
    """Register /start, a shared contact, /stop, /test and their buttons on ``app``
    (before the officers' conversation and its catch-all)."""
    enrol, stop, test = Enrolment(rt), StopFlow(rt), TestAlert(rt)
    app.add_handler(CommandHandler("start", enrol.start))
    app.add_handler(CommandHandler("stop", stop.stop))
    app.add_handler(CommandHandler("test", test.test))
    app.add_handler(MessageHandler(filters.CONTACT & filters.ChatType.PRIVATE, enrol.contact))
    app.add_handler(CallbackQueryHandler(stop.button, pattern=STOP_PATTERN))
    app.add_handler(CallbackQueryHandler(test.button, pattern=TEST_PATTERN))
    app.add_handler(CallbackQueryHandler(_stale_button, pattern=f"^{PREFIX}"))
    return enrol
