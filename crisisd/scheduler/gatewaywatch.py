"""Tell people when a gateway goes down (out of credit, key refused), even if failover hides it.

Messages still arrive through the next gateway, so nothing fails; but a gateway that has run
out of credit must be topped up before the others do too. The officers of open incidents
get a notice (through the outbox, like every message) and the admins are told directly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

import structlog

from crisisd.channels.base import Channel
from crisisd.context import DaemonContext
from crisisd.planning.planner import plan_notice
from crisisd.store import AuditEntry

log = structlog.get_logger("crisisd.gateways")

TEXT = {
    "fa": "هشدار: درگاه پیامک «{gw}» از کار افتاده است ({why}). پیام‌ها از درگاه بعدی می‌روند؛ "
    "لطفاً به مسئول فنی خبر دهید (مثلاً برای شارژ اعتبار).",
    "en": "Warning: SMS gateway '{gw}' is down ({why}). Messages go through the next gateway; "
    "please tell your IT contact (e.g. to top up its credit).",
}


class GatewayWatch:
    """Remembers which gateways are down; each new outage is announced once."""

    def __init__(
        self,
        ctx: DaemonContext,
        channels: Mapping[str, Channel],
        tell_admins: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.ctx = ctx
        self.channels = channels
        self.tell_admins = tell_admins
        self.down: set[str] = set()

    async def check(self) -> list[str]:
        """Look at every channel's health; returns the gateways that went down just now."""
        fresh: list[str] = []
        for channel in self.channels.values():
            report = getattr(channel, "health", None)
            states = report() if callable(report) else None
            if not isinstance(states, dict):
                continue
            for gateway, state in states.items():
                if str(state).startswith("down"):
                    if gateway not in self.down:
                        self.down.add(gateway)
                        fresh.append(gateway)
                        await self._announce(gateway, str(state).split(": ", 1)[-1])
                else:
                    self.down.discard(gateway)
        return fresh

    async def _announce(self, gateway: str, why: str) -> None:
        log.warning("gateway.down", gateway=gateway, reason=why)
        texts = {lang: TEXT[lang].format(gw=gateway, why=why[:160]) for lang in TEXT}
        svc = self.ctx.service
        now = svc.clock()
        tag = f"gateway-{gateway}-{int(now.timestamp())}"
        for row in await self.ctx.store.list_incidents(["open", "taken_over"]):
            plan = plan_notice(svc.lib, svc.facts_of(row), texts, tag, now)
            entry = AuditEntry(row.id, now, "crisisd", "gateway.down", "sms", {"gateway": gateway})
            await self.ctx.store.add_plan(row.id, plan, [entry], now)
        self.ctx.kick()
        if self.tell_admins is not None:
            await self.tell_admins(texts["en"] + "\n" + texts["fa"])
