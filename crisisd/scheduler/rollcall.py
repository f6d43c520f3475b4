"""Roll-call jobs: the sweep (re-asks, reports of who never answered) and the inbound-SMS
poller that reads each gateway's receive API and hands every reply to the roll call."""

from __future__ import annotations

from collections.abc import Mapping

import structlog

from crisisd.channels.base import Channel
from crisisd.channels.sms import SmsChannel
from crisisd.channels.sms.gateway import HttpGateway
from crisisd.channels.sms.inbound import has_inbox, receive
from crisisd.context import DaemonContext
from crisisd.rollcall.service import Incoming, RollCalls

log = structlog.get_logger("crisisd.rollcall")


class RollCallJobs:
    def __init__(self, ctx: DaemonContext, channels: Mapping[str, Channel]) -> None:
        self.ctx = ctx
        self.calls = RollCalls(ctx.service)
        sms = channels.get("sms")
        gateways = sms.gateways if isinstance(sms, SmsChannel) else []
        self.inboxes = [g for g in gateways if isinstance(g, HttpGateway) and has_inbox(g)]

    async def sweep(self) -> None:
        asked, reported = await self.calls.sweep()
        if asked:
            self.ctx.kick()
        if asked or reported:
            log.info("rollcall.swept", asked_again=asked, reported=reported)

    async def poll_inbox(self) -> int:
        """Read every gateway's new SMS; returns how many were handed to the roll call."""
        seen = 0
        for gw in self.inboxes:
            inbox = await receive(gw)
            if inbox.error:
                log.warning("rollcall.inbox_unavailable", gateway=gw.name, reason=inbox.error)
            replies = [
                Incoming(sms.sender, sms.text, f"sms:{gw.name}", gw.name, sms.id)
                for sms in inbox.received
            ]
            done = await self.calls.answer_many(replies)
            seen += sum(d.outcome != "duplicate" for d in done)
        if seen:
            self.ctx.kick()
        return seen
