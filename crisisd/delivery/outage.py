"""Telling the officers, once per outage, that a channel's server stopped answering.

The circuit breaker (delivery/breaker.py) has already moved the messages to each
recipient's next channel, so nothing fails; but the officers of open incidents should know
that, say, email is not going out, and the IT contact should look at the mail server. The
notice goes through the outbox like every message (and so around the channel that is down).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

import structlog

from crisisd.domain import IncidentFacts
from crisisd.planning.planner import plan_notice
from crisisd.planning.sources import Sources
from crisisd.store import AuditEntry, IncidentRow, Store

log = structlog.get_logger("crisisd.delivery.outage")

TEXT = {
    "fa": "هشدار: کانال «{channel}» پاسخ نمی‌دهد ({why}). پیام‌ها از کانال بعدیِ هر گیرنده "
    "می‌روند؛ لطفاً به مسئول فنی خبر دهید.",
    "en": "Warning: the {channel} channel is not answering ({why}). Messages go out on each "
    "recipient's next channel; please tell your IT contact.",
}


class Officers(Protocol):
    """What the notice needs of the incident service."""

    store: Store
    clock: Callable[[], datetime]

    @property
    def lib(self) -> Sources: ...

    def facts_of(self, row: IncidentRow) -> IncidentFacts: ...


async def tell_of_outage(service: Officers, channel: str, why: str) -> int:
    """Plan one notice to the officer of every open incident; returns how many."""
    texts = {lang: TEXT[lang].format(channel=channel, why=why[:160]) for lang in TEXT}
    now = service.clock()
    tag = f"down-{channel}-{int(now.timestamp())}"
    told = 0
    for row in await service.store.list_incidents(["open", "taken_over"]):
        plan = plan_notice(service.lib, service.facts_of(row), texts, tag, now)
        entry = AuditEntry(row.id, now, "crisisd", "channel.down", channel, {"reason": why})
        await service.store.add_plan(row.id, plan, [entry], now)
        told += 1
    log.warning("channel.down_announced", channel=channel, incidents=told)
    return told
