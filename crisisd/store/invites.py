"""Invite links in the store: single-use, expiring, one contact and messenger each.

The token itself (id, expiry, signature) is made and checked in
:mod:`crisisd.enrolment.tokens`; a row here is what makes it usable once. Issuing an
invite revokes the person's earlier unused ones on that messenger, so only the newest
link works. Using one happens inside the bind's transaction (:meth:`InviteBook.claim`,
passed to :meth:`~crisisd.store.bindings.BindingBook.bind` as its ``before`` hook): a chat
that turns out to be someone else's does not use the invite up. Every change is audited
(``invite.issued``, ``invite.used``; no token, which would be usable from the trail).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from crisisd.errors import (
    ExpiredInvite,
    OtherMessengerInvite,
    RevokedInvite,
    UnknownInvite,
    UsedInvite,
)
from crisisd.store.bindings import Hook
from crisisd.store.core import Store
from crisisd.store.driver_errors import store_operation
from crisisd.store.tables import audit, invites


@dataclass(frozen=True, slots=True)
class Invite:
    id: str
    contact: str
    messenger: str
    created_at: datetime
    expires_at: datetime
    created_by: str
    used_at: datetime | None
    used_chat: int | None
    revoked_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> Invite:
        return cls(**{f: getattr(row, f) for f in cls.__slots__})


class InviteBook:
    """The invites of one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def engine(self) -> AsyncEngine:
        return self.store.engine

    @store_operation("issue invites")
    async def issue(self, new: Sequence[Invite], at: datetime) -> int:
        """Store ``new`` invites, revoking each person's earlier unused ones on the same
        messenger; returns how many were revoked."""
        i = invites
        revoked = 0
        async with self.store.write() as conn:
            for inv in new:
                result = await conn.execute(
                    sa.update(i)
                    .where(
                        i.c.contact == inv.contact,
                        i.c.messenger == inv.messenger,
                        i.c.used_at.is_(None),
                        i.c.revoked_at.is_(None),
                        i.c.expires_at > at,
                    )
                    .values(revoked_at=at)
                )
                revoked += result.rowcount
            if new:
                await conn.execute(sa.insert(i), [_values(inv) for inv in new])
                await conn.execute(sa.insert(audit), [_issued(inv, at) for inv in new])
        return revoked

    @store_operation("read an invite")
    async def get(self, invite_id: str) -> Invite | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(invites).where(invites.c.id == invite_id))).first()
        return None if row is None else Invite.from_row(row)

    @store_operation("list invites")
    async def of_contact(self, contact: str) -> list[Invite]:
        query = (
            sa.select(invites).where(invites.c.contact == contact).order_by(invites.c.created_at)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [Invite.from_row(r) for r in rows]

    def claim(self, invite_id: str, messenger: str, chat_id: int, at: datetime, actor: str) -> Hook:
        """The bind's ``before`` hook: use the invite for ``chat_id`` or raise why not. The
        chat that used it may open it again (then the bind finds it already bound)."""

        async def use(conn: AsyncConnection) -> None:
            i = invites
            row = (await conn.execute(sa.select(i).where(i.c.id == invite_id))).first()
            if row is None:
                raise UnknownInvite("no such invite in this store")
            inv = Invite.from_row(row)
            if inv.messenger != messenger:
                raise OtherMessengerInvite(f"this invite is for {inv.messenger}")
            if inv.used_at is not None:
                if inv.used_chat == chat_id:
                    return
                raise UsedInvite("this invite was used before")
            if inv.revoked_at is not None:
                raise RevokedInvite("a newer invite replaced this one")
            if inv.expires_at <= at:
                raise ExpiredInvite("this invite has expired")
            taken = await conn.execute(
                sa.update(i)
                .where(i.c.id == invite_id, i.c.used_at.is_(None))
                .values(used_at=at, used_chat=chat_id)
            )
            if taken.rowcount != 1:  # another chat used it meanwhile
                raise UsedInvite("this invite was used before")
            detail = {"invite": invite_id, "contact": inv.contact, "chat_id": chat_id}
            entry = {"incident_id": None, "at": at, "actor": actor, "action": "invite.used"}
            await conn.execute(sa.insert(audit), [entry | {"channel": messenger, "detail": detail}])

        return use


def _values(inv: Invite) -> dict[str, object]:
    return {f: getattr(inv, f) for f in Invite.__slots__}


def _issued(inv: Invite, at: datetime) -> dict[str, object]:
    detail = {"invite": inv.id, "contact": inv.contact, "expires_at": inv.expires_at.isoformat()}
    return {
        "incident_id": None,
        "at": at,
        "actor": inv.created_by,
        "action": "invite.issued",
        "channel": inv.messenger,
        "detail": detail,
    }
