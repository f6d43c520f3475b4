"""Groups that became supergroups: what the Bot API told us, kept across restarts.

Telegram answers a message to a group that was upgraded with 400 and
``parameters.migrate_to_chat_id`` (https://core.telegram.org/bots/api#responseparameters);
:class:`~crisisd.channels.telegram.TelegramChannel` sends the message again to the new
id. This module keeps what it learnt: a store setting per move
(``chat.moved:<messenger>:<old id>`` → ``"<old id> <new id>"``), read back into the
channel at the next start so later messages go straight to the supergroup, and an audit
entry (``chat.migrated``) on the incident whose message found out. The directory itself is the
operator's to update: the log event says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from crisisd.channels.base import Channel
from crisisd.channels.telegram import ChatMoved, TelegramChannel
from crisisd.store import AuditEntry, Store

PREFIX = "chat.moved:"


async def follow_moves(
    store: Store, channels: Mapping[str, Channel], clock: Callable[[], datetime]
) -> None:
    """Load the moves learnt earlier into every messenger channel, and record new ones."""

    async def record(moved: ChatMoved) -> None:
        key = f"{PREFIX}{moved.channel}:{moved.old}"  # a long key is hashed: ids in the value
        await store.put_setting(key, f"{moved.old} {moved.new}")
        entry = AuditEntry(
            incident_id=moved.incident_id or None,
            at=clock(),
            actor="crisisd",
            action="chat.migrated",
            channel=moved.channel,
            detail={"old_chat_id": moved.old, "new_chat_id": moved.new, "key": moved.key},
        )
        await store.add_audit(entry)

    for name, channel in channels.items():
        if not isinstance(channel, TelegramChannel):
            continue
        known = await store.settings_with_prefix(f"{PREFIX}{name}:")
        for value in known.values():
            ids = value.split()
            if len(ids) == 2 and all(i.lstrip("-").isdigit() for i in ids):
                channel.migrated[int(ids[0])] = int(ids[1])
        channel.on_migrate = record
