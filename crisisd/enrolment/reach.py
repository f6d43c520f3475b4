"""Who crisisd can reach, where, and since when: `crisisd contacts` and the API.

Per person and channel (each configured messenger; SMS with a phone; email with an
address) a state, the address, how and since when a chat is connected, and the last
message that went out on it. A person's state is their first problem, in this order:

    blocked the bot   a messenger refused their chat for good (the binding is stale)
    number invalid    the SMS gateways refused the number at the last try
    SMS undelivered   the last SMS receipt said it never reached the phone
    email bounced     the mail server refused the address at the last try
    never connected   no chat on any messenger (and they did not /stop it)
    ok

A refusal counts only when nothing went out on that channel after it. A messenger a person
stopped (/stop) shows ``stopped`` and is not a problem: it was their choice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from crisisd.enrolment.invites import who_to_invite
from crisisd.enrolment.records import factories_of
from crisisd.formats.phones import mask_phone
from crisisd.library.model import Library
from crisisd.playbook import Contact
from crisisd.store import Store
from crisisd.store.bindings import RETIRED, STALE, STOPPED, BindingBook
from crisisd.store.reach import Attempt, ReachLedger

OK, NEVER, BLOCKED, STOPPED_STATE = "ok", "never connected", "blocked the bot", "stopped"
INVALID, UNDELIVERED, BOUNCED = "number invalid", "SMS undelivered", "email bounced"
PROBLEMS = (BLOCKED, INVALID, UNDELIVERED, BOUNCED)
LOOK_BACK = timedelta(days=90)  # refusals older than this are not news
_GATEWAYS_DOWN = ("all sms gateways are down", "no sms gateways configured")
_ADDRESS_REFUSED = ("recipient refused", "address cannot be sent")


@dataclass(frozen=True, slots=True)
class ChannelReach:
    channel: str
    state: str
    address: str | None = None  # chat id, masked phone, email address
    how: str | None = None  # a messenger chat: phone | invite | directory
    since: datetime | None = None  # connected (or went stale) at
    last_delivery: datetime | None = None
    detail: str = ""  # the refusal or the receipt behind a problem


@dataclass(frozen=True, slots=True)
class PersonReach:
    contact: str
    name: dict[str, str]
    factories: tuple[str, ...]
    audiences: tuple[str, ...]  # factory/audience
    state: str
    channels: tuple[ChannelReach, ...]

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for ch in out["channels"]:
            for key in ("since", "last_delivery"):
                ch[key] = ch[key].isoformat() if ch[key] else None
        return out


def people(lib: Library, factory: str | None = None, audience: str | None = None) -> list[str]:
    """Everyone in the directory, or those a factory or audience names."""
    if factory is None and audience is None:
        return list(lib.directory.contacts)
    return who_to_invite(lib, None, audience, factory, external=True)


async def reach_report(
    store: Store, lib: Library, who: Sequence[str], now: datetime
) -> list[PersonReach]:
    """``who``'s reach (``lib``: the bound library, so bindings count)."""
    ledger, book = ReachLedger(store), BindingBook.of(store)
    await book.load()
    sent = await ledger.last_sent(who)
    refused = await ledger.last_refusals(who, now - LOOK_BACK)
    receipts = await ledger.last_receipts(who)
    out = []
    for cid in who:
        contact = lib.directory.contacts[cid]
        channels = [_messenger(book, cid, contact, m, sent) for m in lib.config.messenger_names()]
        if contact.phone:
            channels.append(_sms(cid, contact.phone, sent, refused, receipts))
        if contact.email:
            channels.append(_email(cid, contact.email, sent, refused))
        audiences = tuple(
            f"{fid}/{name}"
            for fid, pb in sorted(lib.playbooks.items())
            for name, aud in pb.audiences.items()
            if cid in aud.members
        )
        out.append(
            PersonReach(
                cid,
                {"fa": contact.name.fa, "en": contact.name.en},
                tuple(factories_of(lib, cid)),
                audiences,
                _state(channels, set(lib.config.messenger_names())),
                tuple(channels),
            )
        )
    return out


def _messenger(
    book: BindingBook,
    cid: str,
    contact: Contact,
    messenger: str,
    sent: dict[tuple[str, str], datetime],
) -> ChannelReach:
    mine = [b for b in book.of_contact(cid) if b.messenger == messenger]
    chat = contact.chats.get(messenger)
    last = sent.get((cid, messenger))
    if chat is not None:
        active = next((b for b in mine if b.chat_id == chat and b.state == "active"), None)
        if active is None:
            return ChannelReach(messenger, OK, str(chat), "directory", None, last)
        latest = max((t for t in (last, active.last_delivery_at) if t), default=None)
        return ChannelReach(messenger, OK, str(chat), active.how, active.bound_at, latest)
    newest = mine[0] if mine else None
    if newest is not None and newest.state == STALE:
        return ChannelReach(
            messenger, BLOCKED, str(newest.chat_id), newest.how, newest.state_at, last,
            newest.reason,
        )  # fmt: skip
    if newest is not None and newest.state == RETIRED and newest.reason == STOPPED:
        return ChannelReach(
            messenger, STOPPED_STATE, None, newest.how, newest.state_at, last, newest.reason
        )
    return ChannelReach(messenger, NEVER, None, None, None, last)


def _sms(
    cid: str,
    phone: str,
    sent: dict[tuple[str, str], datetime],
    refused: dict[tuple[str, str], Attempt],
    receipts: dict[str, tuple[str, datetime]],
) -> ChannelReach:
    last, refusal = sent.get((cid, "sms")), refused.get((cid, "sms"))
    address = mask_phone(phone)
    if refusal is not None and (last is None or refusal.at > last):
        reason = refusal.reason or ""
        if not reason.lower().startswith(_GATEWAYS_DOWN):
            return ChannelReach("sms", INVALID, address, None, None, last, reason)
    receipt = receipts.get(cid)
    if receipt is not None and receipt[0] in ("undelivered", "expired"):
        return ChannelReach("sms", UNDELIVERED, address, None, None, last, f"receipt: {receipt[0]}")
    return ChannelReach("sms", OK, address, None, None, last)


def _email(
    cid: str,
    email: str,
    sent: dict[tuple[str, str], datetime],
    refused: dict[tuple[str, str], Attempt],
) -> ChannelReach:
    last, refusal = sent.get((cid, "email")), refused.get((cid, "email"))
    if refusal is not None and (last is None or refusal.at > last):
        reason = refusal.reason or ""
        if reason.lower().startswith(_ADDRESS_REFUSED):
            return ChannelReach("email", BOUNCED, email, None, None, last, reason)
    return ChannelReach("email", OK, email, None, None, last)


def _state(channels: list[ChannelReach], messengers: set[str]) -> str:
    states = {c.state for c in channels}
    for problem in PROBLEMS:
        if problem in states:
            return problem
    chats = [c for c in channels if c.channel in messengers]
    if chats and not any(c.state in (OK, STOPPED_STATE) for c in chats):
        return NEVER
    return OK
