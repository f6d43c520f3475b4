"""Who is who: a messenger user as a directory contact, the factories they are an officer of,
polite refusals with an audit entry, and per-person flood control.

A user is known by the chat id listed for this messenger in the directory
(``contacts.<id>.chats.<messenger>``); for private chats that is the Telegram user id.
Everything an officer may do is limited to the factories whose playbook lists them;
anyone else learns nothing about incidents.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from telegram import Update, User
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop

from crisisd.bot.replies import send, toast
from crisisd.bot.runtime import BotRuntime, Ctx
from crisisd.bot.texts import norm, say
from crisisd.library.model import Library
from crisisd.playbook import Contact, Directory
from crisisd.store import AuditEntry
from crisisd.templates import clean_user_text

log = structlog.get_logger("crisisd.bot")


@dataclass(frozen=True, slots=True)
class Person:
    """The sender of an update, as crisisd knows them."""

    messenger: str
    user_id: int
    contact_id: str | None  # None: not in the directory for this messenger
    contact: Contact | None
    lang: str  # fa | en
    factories: tuple[str, ...]  # where they are a listed officer

    @property
    def is_officer(self) -> bool:
        return bool(self.factories)

    @property
    def actor(self) -> str:
        """How the audit trail names this person on this messenger."""
        return f"{self.messenger}:{self.user_id}"

    def may_act_for(self, factory: str) -> bool:
        return factory in self.factories


class DirectoryIndex:
    """chat id -> contact id for one messenger, rebuilt when the library is reloaded."""

    def __init__(self, messenger: str) -> None:
        self.messenger = messenger
        self._of: Directory | None = None
        self._ids: dict[int, str] = {}

    def contact_id(self, directory: Directory, chat_id: int) -> str | None:
        if directory is not self._of:
            ids: dict[int, str] = {}
            for cid, contact in directory.contacts.items():
                chat = contact.chats.get(self.messenger)
                if chat is not None:
                    ids.setdefault(chat, cid)  # the first listed wins if two share a chat id
            self._of, self._ids = directory, ids
        return self._ids.get(chat_id)


def identify(lib: Library, index: DirectoryIndex, user: User) -> Person:
    """Who sent this, in which language they read, and which factories they speak for."""
    cid = index.contact_id(lib.directory, user.id)
    contact = lib.directory.contacts.get(cid) if cid else None
    lang = contact.lang if contact else norm(user.language_code)
    factories = tuple(
        fid for fid, pb in sorted(lib.playbooks.items()) if cid and cid in pb.factory.officers
    )
    return Person(index.messenger, user.id, cid, contact, lang, factories)


class Gate:
    """The door of every officer command: private chat, known officer, else a refusal."""

    def __init__(self, rt: BotRuntime) -> None:
        self.rt = rt
        self.index = DirectoryIndex(rt.messenger)

    def person(self, user: User) -> Person:
        return identify(self.rt.lib, self.index, user)

    async def officer(self, update: Update, context: Ctx, action: str) -> Person | None:
        """The officer who sent ``update``; None after telling anyone else no."""
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None:
            return None
        person = self.person(user)
        if chat.type != ChatType.PRIVATE:
            await send(context.bot, chat.id, say("private_only", person.lang), person.lang)
            return None
        if not person.is_officer:
            await self.refuse(update, context, person, action, "not_an_officer")
            return None
        return person

    async def refuse(
        self,
        update: Update,
        context: Ctx,
        person: Person,
        action: str,
        reason: str,
        key: str = "refused",
        shown: dict[str, object] | None = None,
        **detail: Any,
    ) -> None:
        """Say no politely (``key`` filled with ``shown``), and write who asked for what in
        the audit trail (with ``detail``)."""
        entry = AuditEntry(
            incident_id=None,
            at=self.rt.now(),
            actor=person.actor,
            action="bot.refused",
            channel=self.rt.messenger,
            detail={
                "reason": reason,
                "asked": clean_user_text(action, 64),
                "contact": person.contact_id,
                **detail,
            },
        )
        await self.rt.ctx.store.add_audit(entry)
        log.info(
            "bot.refused",
            messenger=self.rt.messenger,
            user_id=person.user_id,
            contact=person.contact_id,
            reason=reason,
        )
        text = say(key, person.lang, **(shown or {}))
        if update.callback_query is not None:
            await update.callback_query.answer(toast(text), show_alert=True)
            return
        chat = update.effective_chat
        if chat is not None:
            await send(context.bot, chat.id, text, person.lang)


def asked(update: Update) -> str:
    """What the update asked for, for the audit trail: a command word or a button, no text."""
    if update.callback_query is not None:
        return f"button:{(update.callback_query.data or '')[:40]}"
    message = update.effective_message
    text = (message.text or "") if message else ""
    if text.startswith("/"):
        return text.split(maxsplit=1)[0][:40]
    return "message"


@dataclass(slots=True)
class _Window:
    times: deque[float] = field(default_factory=deque)
    warned: bool = False


class FloodGate:
    """At most ``per_minute`` updates per person per minute; the excess is ignored after one
    warning. Runs before every other handler (group -1)."""

    def __init__(
        self, per_minute: int, lang_of: Callable[[User], str], clock: Any = time.monotonic
    ) -> None:
        self.per_minute = per_minute
        self._lang_of = lang_of
        self._clock = clock
        self._windows: dict[int, _Window] = {}

    def admit(self, user_id: int) -> tuple[bool, bool]:
        """(admitted, warn now) for one more update from ``user_id``."""
        now = self._clock()
        window = self._windows.setdefault(user_id, _Window())
        while window.times and window.times[0] <= now - 60.0:
            window.times.popleft()
        if len(window.times) < self.per_minute:
            window.times.append(now)
            window.warned = False
            return True, False
        if window.warned:
            return False, False
        window.warned = True
        return False, True

    def forget_idle(self) -> None:
        now = self._clock()
        for uid in [u for u, w in self._windows.items() if not w.times or w.times[-1] < now - 60]:
            del self._windows[uid]

    async def __call__(self, update: Update, context: Ctx) -> None:
        """PTB callback: stop the update here when its sender is flooding."""
        user = update.effective_user
        if user is None:
            return
        if len(self._windows) > 10_000:
            self.forget_idle()
        admitted, warn = self.admit(user.id)
        if admitted:
            return
        log.info("bot.flood", user_id=user.id, warned=warn)
        chat = update.effective_chat
        if warn and chat is not None:
            lang = self._lang_of(user)
            await send(context.bot, chat.id, say("flood", lang), lang)
        raise ApplicationHandlerStop
