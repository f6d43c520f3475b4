"""One progress message per accepted action, edited in place as delivery and acks come in.

A background task per followed message reads the store every ``progress_every`` seconds
(never faster than 3 s: Telegram allows about one edit per second per chat, and the
officer's chat also receives alerts), edits only when the text changed, and stops when
every message is settled or ``progress_for`` has passed since the message was sent.

Each followed message is recorded in the store's settings (``bot.progress:<messenger>:
<chat>:<message>``) until following it ends, so that a restarted daemon takes it up again
(:meth:`ProgressBoard.resume`, when the bot starts) for what is left of its window; one
whose window passed while the daemon was down gets a last edit saying it is no longer
updated. Tasks are cancelled at close and their records kept for the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy.exc import SQLAlchemyError
from telegram.error import RetryAfter, TelegramError

from crisisd.bot.replies import edit, send
from crisisd.bot.rollcall import progress_tail
from crisisd.bot.runtime import Bot, BotRuntime
from crisisd.bot.status import progress_text, selected, settled
from crisisd.channels.chaterrors import retry_after_seconds
from crisisd.redaction import redact

log = structlog.get_logger("crisisd.bot")

MIN_EVERY = 3.0
MAX_FOLLOWED = 200  # followed messages at once per bot; the oldest stop first
RECORD = "bot.progress:"  # settings key prefix of followed messages
NAME_IN_KEY = 16  # longer messenger names are hashed: settings keys hold 64 characters


@dataclass(frozen=True, slots=True)
class Followed:
    """A progress message being followed, as recorded in the store."""

    chat_id: int
    message_id: int
    incident_id: str
    prefixes: tuple[str, ...]
    lang: str
    since: datetime  # when it was sent; following ends ``progress_for`` later

    @property
    def key(self) -> tuple[int, int]:
        return self.chat_id, self.message_id

    def dumps(self) -> str:
        return json.dumps(
            {
                "chat": self.chat_id,
                "message": self.message_id,
                "incident": self.incident_id,
                "prefixes": list(self.prefixes),
                "lang": self.lang,
                "since": self.since.isoformat(),
            },
            ensure_ascii=False,
        )

    @classmethod
    def loads(cls, raw: str) -> Followed | None:
        """The record back; None when it cannot be read (it is then forgotten)."""
        try:
            data = json.loads(raw)
            since = datetime.fromisoformat(data["since"])
            if since.tzinfo is None:
                return None
            return cls(
                int(data["chat"]),
                int(data["message"]),
                str(data["incident"]),
                tuple(str(p) for p in data["prefixes"]),
                str(data["lang"]),
                since,
            )
        except (ValueError, TypeError, KeyError):
            return None


class ProgressBoard:
    """The progress messages one bot keeps up to date."""

    def __init__(self, rt: BotRuntime) -> None:
        self.rt = rt
        self._tasks: dict[tuple[int, int], asyncio.Task[None]] = {}
        self._closed = False

    @property
    def every(self) -> float:
        return max(MIN_EVERY, self.rt.settings.progress_every)

    @property
    def prefix(self) -> str:
        """Settings key prefix of this messenger's followed messages."""
        name = self.rt.messenger
        if len(name) > NAME_IN_KEY:
            name = hashlib.blake2s(name.encode(), digest_size=NAME_IN_KEY // 2).hexdigest()
        return f"{RECORD}{name}:"

    def record_key(self, chat_id: int, message_id: int) -> str:
        return f"{self.prefix}{chat_id}:{message_id}"

    async def start(
        self, bot: Bot, chat_id: int, incident_id: str, prefixes: Sequence[str], lang: str
    ) -> None:
        """Send the progress message for the plan named by ``prefixes`` and follow it."""
        row = await self.rt.ctx.store.get_incident(incident_id)
        if row is None or self._closed:
            return
        msgs = selected(await self.rt.ctx.store.messages_of(incident_id), prefixes)
        tail, asking = await progress_tail(self.rt, incident_id, prefixes, lang)  # roll call
        text = progress_text(self.rt.lib, row, msgs, lang) + tail
        message_id = await send(bot, chat_id, text, lang)
        if (settled(msgs) and not asking) or message_id is None:
            return
        item = Followed(chat_id, message_id, incident_id, tuple(prefixes), lang, self.rt.now())
        await self._remember(item)
        await self._track(bot, item, text)

    async def resume(self, bot: Bot) -> int:
        """Follow again the messages an earlier run of this bot left followed (a restart).

        Never raises: a store that cannot be read now only means these are not resumed.
        Returns how many are followed again.
        """
        try:
            records = await self.rt.ctx.store.settings_with_prefix(self.prefix)
        except (SQLAlchemyError, OSError) as exc:
            log.warning(
                "bot.progress_not_resumed", messenger=self.rt.messenger, error=redact(str(exc))
            )
            return 0
        items: list[Followed] = []
        for key, raw in records.items():
            item = Followed.loads(raw)
            if item is None or key != self.record_key(*item.key):
                log.warning("bot.progress_record_unreadable", key=key)
                await self._forget_key(key)
            elif item.key not in self._tasks:
                items.append(item)
        items.sort(key=lambda i: i.since)  # the oldest stop first if there are too many
        for item in items:
            await self._track(bot, item, "")  # what it shows is unknown: the first look edits
        if items:
            log.info("bot.progress_resumed", messenger=self.rt.messenger, count=len(items))
        return len(items)

    async def _track(self, bot: Bot, item: Followed, shown: str) -> None:
        if self._closed:
            return
        if len(self._tasks) >= MAX_FOLLOWED:
            oldest = next(iter(self._tasks))
            self._tasks.pop(oldest).cancel()
            await self._forget(*oldest)
        elapsed = max(0.0, (self.rt.now() - item.since).total_seconds())
        deadline = time.monotonic() + self.rt.settings.progress_for - elapsed
        key = item.key
        task = asyncio.create_task(
            self._follow(bot, item, deadline, shown), name=f"progress-{item.incident_id}"
        )
        self._tasks[key] = task
        task.add_done_callback(lambda _t: self._tasks.pop(key, None))

    async def _follow(self, bot: Bot, item: Followed, deadline: float, shown: str) -> None:
        """Follow until settled or stale, then forget the record (not when cancelled)."""
        await self._edit_until_done(bot, item, deadline, shown)
        await self._forget(*item.key)

    async def _edit_until_done(self, bot: Bot, item: Followed, deadline: float, shown: str) -> None:
        chat_id, message_id = item.key
        incident_id = item.incident_id
        while True:
            await asyncio.sleep(self.every)
            stale = time.monotonic() >= deadline
            try:
                row = await self.rt.ctx.store.get_incident(incident_id)
                if row is None:
                    return
                msgs = selected(await self.rt.ctx.store.messages_of(incident_id), item.prefixes)
                tail, asking = await progress_tail(self.rt, incident_id, item.prefixes, item.lang)
                text = progress_text(self.rt.lib, row, msgs, item.lang, stale=stale) + tail
                if text != shown:
                    await edit(bot, chat_id, message_id, text, item.lang)
                    shown = text
                if stale or (settled(msgs) and not asking):
                    return
            except RetryAfter as exc:
                await asyncio.sleep(retry_after_seconds(exc))
            except (TelegramError, SQLAlchemyError, OSError) as exc:
                # A failed look or edit is tried again at the next tick; delivery is unaffected.
                log.info(
                    "bot.progress_failed", incident_id=incident_id, error=redact(str(exc))[:200]
                )
                if stale:
                    return

    async def _remember(self, item: Followed) -> None:
        try:
            await self.rt.ctx.store.put_setting(self.record_key(*item.key), item.dumps())
        except (SQLAlchemyError, OSError) as exc:
            # Followed all the same; only a restart would not take it up again.
            log.warning(
                "bot.progress_not_recorded",
                incident_id=item.incident_id,
                error=redact(str(exc))[:200],
            )

    async def _forget(self, chat_id: int, message_id: int) -> None:
        await self._forget_key(self.record_key(chat_id, message_id))

    async def _forget_key(self, key: str) -> None:
        try:
            await self.rt.ctx.store.delete_setting(key)
        except (SQLAlchemyError, OSError) as exc:
            # Left over, it is taken up at the next start and ends at once (stale or settled).
            log.info("bot.progress_not_forgotten", key=key, error=redact(str(exc))[:200])

    async def aclose(self) -> None:
        """Stop following everything (the messages stay as last edited; their records stay
        in the store for the next start)."""
        self._closed = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
