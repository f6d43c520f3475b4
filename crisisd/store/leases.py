"""Leader leases in PostgreSQL: who runs the work that must run once, and its fence.

One row per role in ``leases`` (name, holder, generation, expires_at). A daemon *acquires*
a role when its row is free (expired) or already its own, which bumps the generation;
the holder *renews* it (same generation) while the row is still unexpired. Times are the
database's clock (``clock_timestamp()`` in UTC), so the daemons' clocks need not agree.

Fencing: work that must run once runs with :func:`fenced` set, and every write
transaction of the store (:meth:`crisisd.store.engine.Transactions.write`) first checks
``holder = :me AND generation = :g AND expires_at > now()`` on the role's row ``FOR SHARE``.
A deposed leader's transaction therefore fails (:class:`LeaseLost`) and writes nothing,
and a takeover (an ``UPDATE`` of that row) waits until a guarded transaction that passed
the check has committed: what the old leader wrote is visible to the new one.

SQLite needs none of this: one daemon per store (the worker lock), always the leader.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from crisisd.errors import StoreError
from crisisd.store.driver_errors import store_operation

_NOW = "timezone('utc', clock_timestamp())"

_ACQUIRE = sa.text(
    f"""
    INSERT INTO leases (name, holder, generation, acquired_at, expires_at)
    VALUES (:name, :me, 1, {_NOW}, {_NOW} + make_interval(secs => :secs))
    ON CONFLICT (name) DO UPDATE
       SET holder = EXCLUDED.holder,
           generation = leases.generation + 1,
           acquired_at = EXCLUDED.acquired_at,
           expires_at = EXCLUDED.expires_at
     WHERE leases.expires_at <= {_NOW} OR leases.holder = EXCLUDED.holder
    RETURNING generation
    """  # noqa: S608 - a constant expression, no input in it
)
_RENEW = sa.text(
    f"""
    UPDATE leases SET expires_at = {_NOW} + make_interval(secs => :secs)
     WHERE name = :name AND holder = :me AND generation = :gen AND expires_at > {_NOW}
    RETURNING generation
    """  # noqa: S608
)
_RELEASE = sa.text(
    f"""
    UPDATE leases SET expires_at = {_NOW}
     WHERE name = :name AND holder = :me AND generation = :gen
    """  # noqa: S608
)
_CHECK = sa.text(
    f"""
    SELECT generation FROM leases
     WHERE name = :name AND holder = :me AND generation = :gen AND expires_at > {_NOW}
       FOR SHARE
    """  # noqa: S608
)
_HOLDERS = sa.text(
    f"SELECT name, holder, generation, expires_at > {_NOW} AS live FROM leases"  # noqa: S608
)


class LeaseLost(StoreError):
    """Leader-only work was about to write after its lease moved on: nothing was written."""


@dataclass(frozen=True, slots=True)
class Fence:
    """The lease a piece of leader-only work runs under."""

    role: str
    holder: str
    generation: int


@dataclass(frozen=True, slots=True)
class Holder:
    """A row of the leases table as ``/metrics`` shows it."""

    role: str
    holder: str
    generation: int
    live: bool


_FENCE: contextvars.ContextVar[Fence | None] = contextvars.ContextVar("crisisd_fence", default=None)


@contextlib.contextmanager
def fenced(fence: Fence | None) -> Iterator[None]:
    """Every store write made inside (by this task, and tasks it starts) checks ``fence``."""
    token = _FENCE.set(fence)
    try:
        yield
    finally:
        _FENCE.reset(token)


def current_fence() -> Fence | None:
    return _FENCE.get()


async def check_fence(conn: AsyncConnection) -> None:
    """Called first in every write transaction: raise :class:`LeaseLost` when the work this
    transaction belongs to runs under a lease that is no longer ours."""
    fence = _FENCE.get()
    if fence is None or conn.dialect.name != "postgresql":
        return
    params = {"name": fence.role, "me": fence.holder, "gen": fence.generation}
    if await conn.scalar(_CHECK, params) is None:
        raise LeaseLost(
            f"the '{fence.role}' lease (generation {fence.generation}) is no longer held "
            "by this daemon; another one took over and does this work now"
        )


class LeaseBook:
    """The leases table's operations (PostgreSQL only; see :class:`crisisd.store.leadership`
    for SQLite)."""

    def __init__(self, engine: AsyncEngine, holder: str) -> None:
        self.engine = engine
        self.holder = holder

    @store_operation("take a leader lease")
    async def acquire(self, role: str, seconds: float) -> int | None:
        """The new generation when ``role`` was free (or ours), else None."""
        async with self.engine.begin() as conn:
            gen = await conn.scalar(_ACQUIRE, {"name": role, "me": self.holder, "secs": seconds})
        return None if gen is None else int(gen)

    @store_operation("renew a leader lease")
    async def renew(self, role: str, generation: int, seconds: float) -> bool:
        params = {"name": role, "me": self.holder, "gen": generation, "secs": seconds}
        async with self.engine.begin() as conn:
            return await conn.scalar(_RENEW, params) is not None

    @store_operation("give up a leader lease")
    async def release(self, role: str, generation: int) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(_RELEASE, {"name": role, "me": self.holder, "gen": generation})

    @store_operation("read the leader leases")
    async def holders(self) -> list[Holder]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(_HOLDERS)).all()
        return [Holder(str(r.name), str(r.holder), int(r.generation), bool(r.live)) for r in rows]
