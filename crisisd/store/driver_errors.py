"""Driver errors end here: each store operation maps them to a ``StoreError`` subclass.

SQLAlchemy wraps most DB-API errors (``DBAPIError`` with the driver's error in ``.orig``),
but a refused or unresolvable PostgreSQL connection reaches us as a bare ``OSError`` from
asyncpg. PostgreSQL errors are classified by SQLSTATE class
(https://www.postgresql.org/docs/current/errcodes-appendix.html), SQLite errors by their
result code name (``sqlite3.Error.sqlite_errorname``, Python 3.11+;
https://www.sqlite.org/rescode.html). The messages carry the driver's own short reason,
never the SQL or its parameters (the engine hides parameters as well, see engine.py), and
never the password of the store URL.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from crisisd.errors import CrisisError, StoreConflict, StoreError, StoreFault, StoreUnavailable
from crisisd.redaction import redact

P = ParamSpec("P")
R = TypeVar("R")

# SQLSTATE classes that mean "the database cannot do it now": connection exception (08),
# transaction rollback such as serialization failure or deadlock (40), insufficient
# resources such as a full disk (53), operator intervention such as a shutdown (57),
# system error such as an I/O error (58), invalid authorization (28).
_PG_UNAVAILABLE_CLASSES = ("08", "28", "40", "53", "57", "58")
# read_only_sql_transaction (a standby or a read-only database), invalid_catalog_name
# (the database does not exist), object_not_in_prerequisite_state (what a connection gets
# while the database does not accept connections, e.g. ALTER DATABASE … ALLOW_CONNECTIONS
# false during maintenance), lock_not_available (a lock timeout).
_PG_UNAVAILABLE_CODES = ("25006", "3D000", "55000", "55P03")
_SQLITE_UNAVAILABLE = (
    "SQLITE_BUSY",  # database is locked (by another process, beyond the busy timeout)
    "SQLITE_LOCKED",
    "SQLITE_FULL",  # database or disk is full
    "SQLITE_READONLY",
    "SQLITE_IOERR",
    "SQLITE_CANTOPEN",
    "SQLITE_PERM",
    "SQLITE_PROTOCOL",
    "SQLITE_NOTADB",
    "SQLITE_CORRUPT",
)

_HINTS: dict[type[StoreError], str] = {
    StoreUnavailable: "check that the database is running and reachable, and that its disk "
    "has room and is writable",
    StoreConflict: "a row with the same key is already stored",
    StoreFault: "the schema or the data does not match this crisisd version — run "
    "`crisisd db upgrade`, or report it as a bug",
}


class HasEngine(Protocol):
    """Anything that talks to the store's engine (the Store, the worker lock)."""

    @property
    def engine(self) -> AsyncEngine: ...


def _sqlstate(orig: BaseException | None) -> str:
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return code if isinstance(code, str) else ""


def _sqlite_code(orig: BaseException | None) -> str:
    name = getattr(orig, "sqlite_errorname", None)
    return name if isinstance(name, str) else ""


def kind_of(exc: BaseException) -> type[StoreError] | None:
    """Which ``StoreError`` a driver error becomes; None for what is not a driver error."""
    if isinstance(exc, CrisisError):
        return None  # ours already (e.g. an id collision told apart inside the store)
    if isinstance(exc, sa.exc.IntegrityError):
        return StoreConflict
    if isinstance(exc, sa.exc.DBAPIError):
        return _dbapi_kind(exc)
    if isinstance(exc, sa.exc.DisconnectionError | sa.exc.TimeoutError):
        return StoreUnavailable  # pool: connection gone, or none free in time
    if isinstance(exc, sa.exc.SQLAlchemyError):
        return StoreFault
    if isinstance(exc, OSError):
        return StoreUnavailable  # refused, unresolvable host, timeout while connecting
    return None


def _dbapi_kind(exc: sa.exc.DBAPIError) -> type[StoreError]:
    if exc.connection_invalidated:
        return StoreUnavailable
    state = _sqlstate(exc.orig)
    if state:
        if state[:2] in _PG_UNAVAILABLE_CLASSES or state in _PG_UNAVAILABLE_CODES:
            return StoreUnavailable
        return StoreConflict if state.startswith("23") else StoreFault
    code = _sqlite_code(exc.orig)
    if code:
        return StoreUnavailable if code.startswith(_SQLITE_UNAVAILABLE) else StoreFault
    if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
        return StoreUnavailable  # PEP 249: disconnects, data source not found, and the like
    return StoreFault


def driver_reason(exc: BaseException) -> str:
    """The driver's own short reason: no SQL, no parameters, one line."""
    orig = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
    text = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    return text[:300]


def mapped(exc: BaseException, doing: str, url: URL) -> StoreError | None:
    """The ``StoreError`` to raise instead of ``exc``, or None to let ``exc`` through."""
    kind = kind_of(exc)
    if kind is None:
        return None
    where = url.render_as_string(hide_password=True)
    reason = driver_reason(exc)
    if url.password:
        reason = reason.replace(str(url.password), "***")
    return kind(redact(f"store {where}: could not {doing}: {reason} — {_HINTS[kind]}"))


S = TypeVar("S", bound=HasEngine)


def store_operation(
    doing: str,
) -> Callable[
    [Callable[Concatenate[S, P], Coroutine[Any, Any, R]]],
    Callable[Concatenate[S, P], Coroutine[Any, Any, R]],
]:
    """Decorate a store coroutine: driver errors leave it as ``StoreError`` subclasses.

    ``doing`` completes "could not …", e.g. "claim due messages".
    """

    def wrap(
        fn: Callable[Concatenate[S, P], Coroutine[Any, Any, R]],
    ) -> Callable[Concatenate[S, P], Coroutine[Any, Any, R]]:
        @functools.wraps(fn)
        async def run(store: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return await fn(store, *args, **kwargs)
            except Exception as exc:
                error = mapped(exc, doing, store.engine.url)
                if error is None:
                    raise
                raise error from exc

        run.__store_operation__ = doing  # type: ignore[attr-defined]
        return run

    return wrap
