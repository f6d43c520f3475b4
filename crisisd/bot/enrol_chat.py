"""How enrolment talks in a chat: who a chat reaches, reply keyboards, whom to ask, and
how many attempts one person may make."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from telegram import ReplyKeyboardMarkup, ReplyKeyboardRemove, User

from crisisd.bot.enrol_texts import words
from crisisd.bot.replies import MessengerBot, rendered
from crisisd.bot.texts import joined
from crisisd.library.model import Library

ATTEMPTS_PER_HOUR = 6
_PARTIAL = frozenset({"date", "chat", "message_id", "from"})  # Bale's partial Message answers


def holders(lib: Library, messenger: str, chat_id: int) -> list[str]:
    """Contacts this chat reaches now on ``messenger`` (``lib``: bindings merged in)."""
    return [cid for cid, c in lib.directory.contacts.items() if c.chats.get(messenger) == chat_id]


class Attempts:
    """At most ``per_hour`` enrolment attempts per person; the excess is answered once."""

    def __init__(
        self, per_hour: int = ATTEMPTS_PER_HOUR, clock: Callable[[], float] = time.monotonic
    ):
        self.per_hour = per_hour
        self._clock = clock
        self._seen: dict[int, deque[float]] = {}
        self._warned: set[int] = set()

    def admit(self, user_id: int) -> bool | None:
        """True: go on; False: refuse and say so; None: refuse silently (already told)."""
        now = self._clock()
        seen = self._seen.setdefault(user_id, deque())
        while seen and seen[0] <= now - 3600:
            seen.popleft()
        if len(seen) < self.per_hour:
            seen.append(now)
            self._warned.discard(user_id)
            return True
        if user_id in self._warned:
            return None
        self._warned.add(user_id)
        return False


def actor(messenger: str, user: User) -> str:
    """How the audit trail names a person on a messenger (as the officers' bot does)."""
    return f"{messenger}:{user.id}"


def whom_to_ask(lib: Library, lang: str) -> str:
    """The crisis desk (config ``admins``), else the only factory's officers, by name."""
    ids = list(lib.config.admins)
    if not ids and len(lib.playbooks) == 1:
        ids = list(next(iter(lib.playbooks.values())).factory.officers)
    names = [lib.directory.contacts[i].name.get(lang) for i in ids if i in lib.directory.contacts]
    return joined(names[:3], lang) if names else str(words("who_default", lang))


async def send_with_keyboard(
    bot: MessengerBot,
    chat_id: int,
    html: str,
    lang: str,
    keyboard: ReplyKeyboardMarkup | ReplyKeyboardRemove,
) -> None:
    """A reply with a reply keyboard (or taking it away), in the messenger's dialect."""
    out = rendered(bot, html, lang)
    try:
        await bot.send_message(
            chat_id,
            out.text,
            parse_mode=out.parse_mode,
            link_preview_options=bot.preview_options(),
            reply_markup=keyboard,
        )
    except KeyError as exc:  # Bale's "ok" with a partial Message: sent
        if not (exc.args and exc.args[0] in _PARTIAL):
            raise
