"""The roll call in `crisisd demo`: three staff asked "are you safe?" after the fire.

One answers with the ✅ button (as the bot records a press), one replies by SMS in Persian
digits ("۲ …": needs help) — the reply goes into the fake Kavenegar's inbox through its
control API and comes back through the receive API, and the emergency team is told at once
— and one stays silent until the deadline, is asked again on their next channel with a
signed link, and answers on the link's page (a real POST to the in-process API).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, Protocol

import aiohttp

from crisisd.api.acklinks import AckSigner
from crisisd.api.app import create_api_app, start_api
from crisisd.channels.base import Channel
from crisisd.channels.sms import SmsChannel
from crisisd.channels.sms.gateway import HttpGateway
from crisisd.channels.sms.inbound import has_inbox, receive
from crisisd.context import DaemonContext
from crisisd.delivery.dispatcher import Dispatcher
from crisisd.domain import Answer, Purpose
from crisisd.errors import CrisisError
from crisisd.incidents import IncidentService
from crisisd.library.model import Library
from crisisd.metrics import Metrics
from crisisd.playbook import Playbook
from crisisd.rollcall.service import RollCalls
from crisisd.steps import RollCallStep
from crisisd.store import MessageRow, Store


class Clock(Protocol):
    def __call__(self) -> datetime: ...

    def advance_to(self, at: datetime) -> None: ...


class Scenario(Protocol):
    """What the act needs of the demo's scenario (cli/demo.py)."""

    @property
    def svc(self) -> IncidentService: ...
    @property
    def d(self) -> Dispatcher: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def lib(self) -> Library: ...
    @property
    def store(self) -> Store: ...
    @property
    def pb(self) -> Playbook: ...
    @property
    def incident(self) -> str: ...

    def say(self, text: str, counts: bool = False) -> None: ...

    def who(self, cid: str) -> str: ...

    async def settle(self, what: str) -> list[MessageRow]: ...


class RollCallActFailed(CrisisError):
    """The roll call of the demo did not happen as scripted."""


LINK = re.compile(r"(https?://\S+/v1/rc/[A-Za-z0-9_-]{44})")
HELP_REPLY = "۲ سالن نورد ۲، کنار جرثقیل؛ پایم آسیب دیده"


async def _ok() -> dict[str, Any]:
    return {"ok": True}


@asynccontextmanager
async def api_for(scn: Scenario) -> AsyncIterator[str]:
    """The HTTP API on a free loopback port, its links signed with a throwaway secret."""
    ctx = DaemonContext(scn.store, scn.svc, Metrics(), lambda: scn.lib, _ok, scn.d.kick)
    signer = AckSigner(b"demo-secret-not-for-production", clock=scn.clock)
    runner = await start_api(
        create_api_app(ctx, tokens=(), signer=signer, max_body_bytes=65536), "127.0.0.1", 0
    )
    host, port = runner.addresses[0][:2]
    base = f"http://{host}:{port}"
    scn.svc.ack_link = lambda key: signer.url(base, key)
    try:
        yield base
    finally:
        scn.svc.ack_link = None
        await runner.cleanup()


async def roll_call_act(scn: Scenario, channels: dict[str, Channel], sms_url: str) -> None:
    calls = RollCalls(scn.svc)
    msgs = await scn.store.messages_of(scn.incident)
    asked = [m for m in msgs if m.purpose is Purpose.ROLL_CALL and m.status == "sent"]
    phoned = [m for m in asked if _phone(scn, m)]
    if len(asked) < 3 or not phoned:
        scn.say("roll call: fewer than three staff asked — skipped")
        return
    by_sms = phoned[-1]
    rest = sorted((m for m in asked if m is not by_sms), key=lambda m: m.sent_channel == "sms")
    by_button, silent = rest[:2]  # a button where the question went to a messenger
    scn.say(f"roll call: {len(asked)} staff asked 'are you safe?'", counts=True)
    await calls.answer_code(
        by_button.ack_code,
        Answer.SAFE,
        by_button.sent_channel or "bale",
        presser=by_button.recipient,
    )
    scn.say(
        f"{scn.who(by_button.recipient)} presses ✅ under the question on {by_button.sent_channel}"
    )
    await _sms_reply(scn, calls, channels, sms_url, by_sms)
    await _reask_and_link(scn, calls, silent)
    count = (await calls.headcount(scn.incident)).total
    if (count.safe, count.help, count.no_answer) != (count.total - 1, 1, 0):
        raise RollCallActFailed(f"the roll call did not end as scripted: {count}")
    scn.say(
        f"headcount: ✅ {count.safe} safe · 🆘 {count.help} need help · "
        f"⏳ {count.no_answer} no answer · ⛔ {count.unreachable} unreachable"
    )


def _phone(scn: Scenario, m: MessageRow) -> str | None:
    c = scn.lib.directory.contacts.get(m.recipient)
    return c.phone if c else None


async def _sms_reply(
    scn: Scenario, calls: RollCalls, channels: dict[str, Channel], sms_url: str, m: MessageRow
) -> None:
    sms = channels.get("sms")
    gateways = sms.gateways if isinstance(sms, SmsChannel) else []
    gw = next((g for g in gateways if isinstance(g, HttpGateway) and has_inbox(g)), None)
    if gw is None:
        return
    async with aiohttp.ClientSession() as http:
        put = f"{sms_url}/_control/inbound/{gw.provider}"
        async with http.post(put, json={"from": _phone(scn, m), "text": HELP_REPLY}) as resp:
            resp.raise_for_status()
    for got in (await receive(gw)).received:
        await calls.answer_sms(got.sender, got.text, f"sms:{gw.name}", gw.name, got.id)
    scn.say(
        f'{scn.who(m.recipient)} replies by SMS "{HELP_REPLY}": needs help — '
        "the emergency team is told at once, with the place, and must acknowledge"
    )
    await scn.settle("call for help")


async def _reask_and_link(scn: Scenario, calls: RollCalls, m: MessageRow) -> None:
    row = await scn.svc.get(scn.incident)
    rc = scn.pb.plan_for(row.incident_type, row.severity).entries[m.step]
    if not isinstance(rc, RollCallStep):
        return
    async with api_for(scn):
        scn.clock.advance_to(m.not_before + rc.within + timedelta(seconds=30))
        again, _ = await calls.sweep()
        msgs = await scn.settle("re-ask")
        second = next(
            (
                x
                for x in msgs
                if x.key.startswith(f"{scn.incident}/roll_call/1/") and x.recipient == m.recipient
            ),
            None,
        )
        if not again or second is None:
            return
        scn.say(
            f"roll-call deadline: {scn.who(m.recipient)} has not answered — "
            f"asked again on {second.sent_channel}, with a signed link"
        )
        text = " ".join(r.get("text") or "" for r in second.renderings.values())
        link = LINK.search(text)
        if link is None:
            return
        async with aiohttp.ClientSession() as http:
            async with http.get(link.group(1)) as page:
                assert page.status == 200  # the page only asks; nothing is recorded yet
            async with http.post(link.group(1), data={"answer": "safe"}) as done:
                done.raise_for_status()
        scn.say(f"{scn.who(m.recipient)} opens the link and presses ✅ on its page")
