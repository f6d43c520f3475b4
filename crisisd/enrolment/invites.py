"""Invite links: every person not yet connected gets a signed, single-use, expiring link
per messenger, through the outbox (so pacing, retries and failover hold).

``crisisd invite`` and the HTTP API call :func:`send_invites` with the people
:func:`who_to_invite` picked (a contact, an audience, or a factory). For each person and
each configured messenger they cannot be reached on now (no binding, no directory chat),
an invite is stored (:class:`~crisisd.store.invites.InviteBook`) and a notice planned to
their phone or email with the messenger's deep link::

    Telegram  https://t.me/<bot username>?start=<token>
    Bale      https://ble.ir/<bot username>?start=<token>

Opening it and pressing Start sends the bot ``/start <token>``; the bot binds that chat to
the person (``how=invite``) without asking for their number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from crisisd.config import Messenger
from crisisd.domain import IncidentFacts, Plan, PlannedMessage, is_bale
from crisisd.enrolment.notices import messenger_name
from crisisd.enrolment.records import (
    INVITE,
    INVITE_PRIORITY,
    factories_of,
    open_record,
    with_priority,
)
from crisisd.enrolment.tokens import SECRET_SETTING, expiry_minute, make_token, new_invite_id
from crisisd.errors import InvalidReportError, NotFoundError
from crisisd.formats.timefmt import fa_digits
from crisisd.library.model import Library
from crisisd.planning.planner import plan_notice
from crisisd.problems import did_you_mean
from crisisd.store import Store
from crisisd.store.invites import Invite, InviteBook

DEFAULT_DAYS = 14
VIA = ("sms", "email")


@dataclass(frozen=True, slots=True)
class Invited:
    contact: str
    messengers: tuple[str, ...]  # one link each
    channels: tuple[str, ...]  # where the invites go, in order (sms, email)
    record: str  # the enrolment record their messages belong to


@dataclass(frozen=True, slots=True)
class Skipped:
    contact: str
    reason: str  # connected | no_phone_or_email | no_link


@dataclass(frozen=True, slots=True)
class InviteBatch:
    expires_at: datetime
    invited: tuple[Invited, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    revoked: int = 0  # earlier unused invites these replaced

    def as_dict(self) -> dict[str, Any]:
        return {
            "expires_at": self.expires_at.isoformat(),
            "invited": [
                {"contact": i.contact, "messengers": list(i.messengers),
                 "channels": list(i.channels), "record": i.record}
                for i in self.invited
            ],
            "skipped": [{"contact": s.contact, "reason": s.reason} for s in self.skipped],
            "revoked": self.revoked,
        }  # fmt: skip


def who_to_invite(
    lib: Library,
    contact: str | None = None,
    audience: str | None = None,
    factory: str | None = None,
    external: bool = False,
) -> list[str]:
    """The contacts meant by a contact id, an audience (of ``factory``, or of every factory
    that has it), or a factory (its officers and the members of its audiences; external
    ones — press, authorities — only with ``external``, or when named as the audience)."""
    if contact is not None:
        if audience is not None or factory is not None:
            raise InvalidReportError("name a contact, or an audience and/or a factory, not both")
        if contact not in lib.directory.contacts:
            hint = did_you_mean(contact, lib.directory.contacts)
            raise NotFoundError(f"no contact '{contact}' in the directory — {hint}")
        return [contact]
    if factory is not None:
        lib.playbook(factory)  # an unknown factory is an error with a suggestion
    playbooks = [lib.playbooks[factory]] if factory else list(lib.playbooks.values())
    found: list[str] = []
    if audience is not None:
        having = [pb for pb in playbooks if audience in pb.audiences]
        if not having:
            names = {a for pb in playbooks for a in pb.audiences}
            raise NotFoundError(f"no audience '{audience}' — {did_you_mean(audience, names)}")
        for pb in having:
            found += pb.audiences[audience].members
    elif factory is not None:
        pb = lib.playbooks[factory]
        found += pb.factory.officers
        for aud in pb.audiences.values():
            if external or not aud.external:
                found += aud.members
    else:
        raise InvalidReportError("name a contact, an audience or a factory")
    return [c for c in dict.fromkeys(found) if c in lib.directory.contacts]


def link_bases(lib: Library) -> dict[str, str]:
    """Per configured messenger, its deep link without the token; a messenger whose bot
    username is unknown (``messengers[].username``) has none."""
    from crisisd.sandbox.runner import sandbox_username

    out: dict[str, str] = {}
    for m in lib.config.messengers:
        username = (m.username or "").lstrip("@")
        if not username and lib.config.sandbox:
            username = sandbox_username(m.name)
        if username:
            out[m.name] = f"{_host(m)}/{username}?start="
    return out


def _host(m: Messenger) -> str:
    # Bale: https://docs.bale.ai/links (ble.ir/<username>, query parameters URL-encoded);
    # Telegram: https://core.telegram.org/bots/features#deep-linking
    return "https://ble.ir" if is_bale({"name": m.name, "base_url": m.base_url}) else "https://t.me"


@dataclass
class _Person:
    contact: str
    home: str
    messengers: list[str]
    channels: tuple[str, ...]
    links: dict[str, str] = field(default_factory=dict)


async def send_invites(
    store: Store,
    lib: Library,
    who: Sequence[str],
    *,
    now: datetime,
    actor: str,
    via: str | None = None,
    days: int = DEFAULT_DAYS,
    factory: str | None = None,
) -> InviteBatch:
    """Invite ``who`` (``lib``: the bound library, so "connected" counts bindings) by
    ``via`` (sms or email; default: SMS, else email), one record per home factory."""
    if via is not None and via not in VIA:
        raise InvalidReportError(f"--via must be sms or email, not {via!r}")
    if not 1 <= days <= 365:
        raise InvalidReportError("an invite lasts 1 to 365 days")
    bases = link_bases(lib)
    expires = expiry_minute(now + timedelta(days=days))
    people, skipped = _pick(lib, who, bases, (via,) if via else VIA, factory)
    key = (await store.setting(SECRET_SETTING)).encode()
    new: list[Invite] = []
    for p in people:
        for messenger in p.messengers:
            raw = new_invite_id()
            p.links[messenger] = bases[messenger] + make_token(key, raw, expires)
            new.append(
                Invite(raw.hex(), p.contact, messenger, now, expires, actor, None, None, None)
            )
    revoked = await InviteBook(store).issue(new, now)  # first: a crash leaves unsent links
    invited: list[Invited] = []
    for home in sorted({p.home for p in people}):
        group = [p for p in people if p.home == home]
        record = await _record(store, lib, home, group, now, actor, days, expires)
        invited += [Invited(p.contact, tuple(p.messengers), p.channels, record) for p in group]
    return InviteBatch(expires, tuple(invited), tuple(skipped), revoked)


def _pick(
    lib: Library,
    who: Sequence[str],
    bases: dict[str, str],
    via: tuple[str, ...],
    factory: str | None,
) -> tuple[list[_Person], list[Skipped]]:
    people: list[_Person] = []
    skipped: list[Skipped] = []
    for cid in dict.fromkeys(who):
        contact = lib.directory.contacts[cid]
        missing = [m for m in lib.config.messenger_names() if m not in contact.chats]
        channels = lib.usable(contact, via)
        if not missing:
            skipped.append(Skipped(cid, "connected"))
        elif not channels:
            skipped.append(Skipped(cid, "no_phone_or_email"))
        elif not any(m in bases for m in missing):
            skipped.append(Skipped(cid, "no_link"))
        else:
            homes = factories_of(lib, cid) or sorted(lib.playbooks)
            home = factory if factory in homes else homes[0]
            people.append(_Person(cid, home, [m for m in missing if m in bases], channels))
    return people, skipped


async def _record(
    store: Store,
    lib: Library,
    home: str,
    group: list[_Person],
    now: datetime,
    actor: str,
    days: int,
    expires: datetime,
) -> str:
    def plan_for(facts: IncidentFacts) -> Plan:
        messages: list[PlannedMessage] = []
        for p in group:
            for messenger, link in p.links.items():
                plan = _invite_plan(lib, facts, p, messenger, link, now, days)
                messages += plan.messages
        return with_priority(Plan(tuple(messages)), INVITE_PRIORITY)

    detail: dict[str, object] = {
        "invited": {p.contact: sorted(p.links) for p in group},
        "expires_at": expires.isoformat(),
    }
    record, _created = await open_record(store, home, INVITE, now, plan_for, detail, actor=actor)
    return record


def _invite_plan(
    lib: Library,
    facts: IncidentFacts,
    p: _Person,
    messenger: str,
    link: str,
    now: datetime,
    days: int,
) -> Plan:
    """The notice carrying one link: the fullest wording whose SMS still holds the link."""
    for wording in (_full, _short):
        texts = {
            lang: wording(lib, p.contact, messenger, lang, days) + link for lang in ("fa", "en")
        }
        plan = plan_notice(lib, facts, texts, f"invite-{messenger}", now, [p.contact])
        plan = Plan(tuple(replace(m, channels=p.channels) for m in plan.messages))
        if all(link in r.text for m in plan.messages for r in m.renderings.values()):
            return plan
    raise InvalidReportError(f"the invite for {p.contact} does not fit in an SMS")


def _full(lib: Library, contact: str, messenger: str, lang: str, days: int) -> str:
    names = [lib.playbooks[f].factory.name.get(lang) for f in factories_of(lib, contact)]
    where = ("، " if lang == "fa" else ", ").join(names) or "crisisd"
    shown = messenger_name(messenger, lang)
    if lang == "fa":
        return (
            f"هشدارهای بحران {where} در {shown}: این پیوند را باز کنید و «شروع» را بزنید "
            f"(یک‌بار، تا {fa_digits(days)} روز):\n"
        )
    return (
        f"Crisis alerts of {where} on {shown}: open this link and press Start "
        f"(once, {days} days):\n"
    )


def _short(lib: Library, contact: str, messenger: str, lang: str, days: int) -> str:
    shown = messenger_name(messenger, lang)
    if lang == "fa":
        return f"پیوند هشدارهای بحران در {shown} (یک‌بار، {fa_digits(days)} روز):\n"
    return f"Crisis alerts on {shown} (once, {days} days):\n"
