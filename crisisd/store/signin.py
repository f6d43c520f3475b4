"""Dashboard sign-in in the store: one-time codes (an HMAC of each, never the code) and
sessions. Using a code is one transaction: a used, expired or worn-out code is refused,
a wrong one counts a try, the right one is used up."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from crisisd.store.core import Store
from crisisd.store.driver_errors import store_operation
from crisisd.store.tables import board_sessions, signin_codes


class CodeCheck(StrEnum):
    OK = "ok"
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    WRONG = "wrong"
    WORN_OUT = "worn_out"  # too many wrong tries


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    contact: str
    csrf: str
    created_at: datetime
    expires_at: datetime


class SignInBook:
    """Codes and sessions of one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def engine(self) -> AsyncEngine:
        return self.store.engine

    @store_operation("count sign-in codes")
    async def codes_since(self, contact: str, since: datetime) -> int:
        c = signin_codes.c
        query = sa.select(sa.func.count()).where(c.contact == contact, c.created_at >= since)
        async with self.engine.connect() as conn:
            return int(await conn.scalar(query) or 0)

    @store_operation("store a sign-in code")
    async def add_code(self, contact: str, now: datetime, expires_at: datetime) -> int:
        """A code row without its digest yet: the digest is made from the row's id."""
        async with self.store.write() as conn:
            result = await conn.execute(
                sa.insert(signin_codes).values(
                    contact=contact, digest="", created_at=now, expires_at=expires_at, tries=0
                )
            )
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    @store_operation("store a sign-in code")
    async def set_digest(self, code_id: int, digest: str) -> None:
        async with self.store.write() as conn:
            await conn.execute(
                sa.update(signin_codes).where(signin_codes.c.id == code_id).values(digest=digest)
            )

    @store_operation("check a sign-in code")
    async def use_code(
        self, code_id: int, digest: str, now: datetime, max_tries: int
    ) -> tuple[CodeCheck, str | None]:
        """(outcome, contact). Only ``OK`` uses the code up."""
        c = signin_codes.c
        async with self.store.write() as conn:
            row = (await conn.execute(sa.select(signin_codes).where(c.id == code_id))).first()
            if row is None or not row.digest:
                return CodeCheck.UNKNOWN, None
            if row.used_at is not None:
                return CodeCheck.USED, row.contact
            if row.expires_at <= now:
                return CodeCheck.EXPIRED, row.contact
            if row.tries >= max_tries:
                return CodeCheck.WORN_OUT, row.contact
            if not hmac.compare_digest(row.digest, digest):
                await conn.execute(
                    sa.update(signin_codes).where(c.id == code_id).values(tries=c.tries + 1)
                )
                return CodeCheck.WRONG, row.contact
            done = await conn.execute(
                sa.update(signin_codes)
                .where(c.id == code_id, c.used_at.is_(None))
                .values(used_at=now)
            )
            if done.rowcount != 1:
                return CodeCheck.USED, row.contact
            return CodeCheck.OK, row.contact

    @store_operation("open a dashboard session")
    async def open_session(self, contact: str, now: datetime, lasts: timedelta) -> Session:
        session = Session(
            secrets.token_urlsafe(32), contact, secrets.token_urlsafe(32), now, now + lasts
        )
        async with self.store.write() as conn:
            await conn.execute(
                sa.insert(board_sessions).values(
                    id=session.id,
                    contact=contact,
                    csrf=session.csrf,
                    created_at=now,
                    expires_at=session.expires_at,
                )
            )
        return session

    @store_operation("read a dashboard session")
    async def session(self, session_id: str, now: datetime) -> Session | None:
        """The session while it lasts; None once expired or signed out."""
        s = board_sessions.c
        query = sa.select(board_sessions).where(
            s.id == session_id, s.revoked_at.is_(None), s.expires_at > now
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return Session(row.id, row.contact, row.csrf, row.created_at, row.expires_at)

    @store_operation("end a dashboard session")
    async def revoke(self, session_id: str, now: datetime) -> None:
        async with self.store.write() as conn:
            await conn.execute(
                sa.update(board_sessions)
                .where(board_sessions.c.id == session_id)
                .values(revoked_at=now)
            )
