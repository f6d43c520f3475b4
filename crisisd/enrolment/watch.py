"""The reach watch: a periodic job that keeps the bindings true to what delivery saw.

The dispatcher records outcomes and knows nothing of bindings; this job reads what it
recorded since its last look (the ``reach.attempts_seen`` setting) and:

- a send the messenger refused for good — 403 "bot was blocked by the user", "user is
  deactivated", "bot can't initiate conversation", Bale's 403 ``permission_denied`` —
  makes the binding that chat came from stale (a directory chat id gets a stale row), so
  the person is planned on their other channels at once; their factories' officers are
  told, once per person (``told_at``), through the outbox;
- a message sent on a messenger moves that binding's ``last_delivery_at``;
- bindings of contacts no longer in the directory are retired (after a reload);
- bindings another daemon wrote are read again.

Each daemon may run it: every step is idempotent, and a notice is written once
(an idempotency key per binding and state change).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import structlog

from crisisd.enrolment.directory import BoundLibrary
from crisisd.enrolment.notices import stale_notice
from crisisd.enrolment.records import tell_officers
from crisisd.library.model import Library
from crisisd.store import Store
from crisisd.store.bindings import Binding
from crisisd.store.reach import FAILURES, Attempt, ReachLedger

log = structlog.get_logger("crisisd.enrolment.watch")

SEEN = "reach.attempts_seen"
# 403 answers that mean this chat will not take messages until the person acts
# (crisisd/channels/chaterrors.py words a 403 as "forbidden: <the Bot API's description>").
REFUSED = (
    "bot was blocked by the user",
    "user is deactivated",
    "bot can't initiate conversation",
    "permission_denied",  # Bale: blocked, or never started (python-bale-bot's error table)
)


def refused_for_good(attempt: Attempt) -> bool:
    reason = (attempt.reason or "").lower()
    return (
        attempt.outcome in FAILURES
        and reason.startswith("forbidden")
        and any(phrase in reason for phrase in REFUSED)
    )


class ReachWatch:
    """``check`` is the job (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        bound: BoundLibrary,
        base: Callable[[], Library],
        clock: Callable[[], datetime],
        kick: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.bound = bound
        self.base = base  # the library without bindings: whose chat ids the directory lists
        self.clock = clock
        self.kick = kick
        self.ledger = ReachLedger(store)

    async def check(self) -> None:
        """One look: removed contacts, new attempts, notices."""
        book, now = self.bound.book, self.clock()
        await book.load()
        base = self.base()
        await book.retire_missing(set(base.directory.contacts), now)
        seen = int(await self.store.setting(SEEN, lambda: "0"))
        messengers = base.config.messenger_names()
        new = await self.ledger.attempts_after(seen, messengers)
        stale: list[Binding] = []
        delivered: list[tuple[int, datetime]] = []
        for attempt in new:
            binding = self._binding_at(attempt)
            if attempt.outcome == "sent" and binding is not None:
                delivered.append((binding.id, attempt.at))
            elif refused_for_good(attempt):
                row = await self._stale(base, attempt, binding, now)
                if row is not None:
                    stale.append(row)
        await book.delivered(delivered)
        if new:
            await self.store.put_setting(SEEN, str(new[-1].id))
        await self._tell(stale, now)

    def _binding_at(self, attempt: Attempt) -> Binding | None:
        """The active binding the dispatcher used for this attempt (made before it)."""
        found = self.bound.book.active(attempt.recipient, attempt.channel)
        return found if found is not None and found.bound_at <= attempt.at else None

    async def _stale(
        self, base: Library, attempt: Attempt, binding: Binding | None, now: datetime
    ) -> Binding | None:
        reason = (attempt.reason or "")[:200]
        if binding is not None:
            chat = binding.chat_id
        elif self.bound.book.active(attempt.recipient, attempt.channel) is not None:
            return None  # bound since that try: old news
        else:  # the directory's chat id was used (no binding won over it)
            contact = base.directory.contacts.get(attempt.recipient)
            directory_chat = contact.chats.get(attempt.channel) if contact else None
            if directory_chat is None or self._newer_than(attempt, directory_chat):
                return None
            chat = directory_chat
        row = await self.bound.book.stale(
            attempt.recipient, attempt.channel, chat, reason, now, "crisisd"
        )
        if row is not None:
            log.warning("reach.stale", contact=row.contact, messenger=row.messenger, reason=reason)
        return row

    def _newer_than(self, attempt: Attempt, chat: int) -> bool:
        """A binding of that chat changed after the attempt (e.g. they started the bot
        again meanwhile): the refusal is old news."""
        return any(
            b.state_at > attempt.at
            for b in self.bound.book.of_chat(attempt.channel, chat)
            if b.contact == attempt.recipient
        )

    async def _tell(self, stale: list[Binding], now: datetime) -> None:
        lib = self.bound()
        told: list[int] = []
        for row in stale:
            contact = lib.directory.contacts.get(row.contact)
            if contact is None or row.told_at is not None:
                continue
            once = f"stale:{row.id}:{row.state_at.isoformat()}"
            await tell_officers(
                self.store, lib, row.contact, stale_notice(contact, row.messenger),
                f"stale-{row.messenger}-{row.id}", now, once=once,
            )  # fmt: skip
            told.append(row.id)
        if told:
            await self.bound.book.told(told, now)
            self.kick()
