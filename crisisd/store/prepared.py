"""Hot statements compiled once per dialect and run with the driver's own parameters.

The dispatcher claims and records many times a second, and SQLAlchemy's per-row parameter
and result processing cost more than the statements themselves (bench/core.py). The
statements are still written with SQLAlchemy Core, once for SQLite and PostgreSQL; each is
compiled once per dialect, and every row goes through the very type processors SQLAlchemy
would apply (the same stored text, the same values read back), only without the per-call
machinery around them.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import aiosqlite
import asyncpg  # type: ignore[import-untyped]
import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from crisisd.store.jsontext import dumps
from crisisd.store.sqlitethread import submit, transaction


class PgConnection(Protocol):
    """What is used of an asyncpg connection (asyncpg ships no type hints)."""

    async def fetch(self, query: str, *args: Any) -> list[Any]: ...
    async def executemany(self, command: str, args: Iterable[Sequence[Any]]) -> None: ...


Processor = Callable[[Any], Any] | None
# Where a prepared statement runs: a driver's own connection, kept (kept.py: SQLite's, one
# trip to its thread per statement; asyncpg's, one round trip) or a SQLAlchemy connection
# (the driver's SQL, unprocessed).
Target = AsyncConnection | aiosqlite.Connection | PgConnection
Memo = dict[Callable[[Any], Any], dict[Any, Any]]  # processor -> {value: processed value}


@dataclass(frozen=True, slots=True)
class Slot:
    """One positional parameter: its bind name, the value the statement fixes (if any);
    ``shared``: its values recur across a batch's rows (times, names), so each is
    processed once (JSON documents are each their own)."""

    name: str
    fixed: Any
    process: Processor
    shared: bool = True


class Encoded(str):
    """A JSON document already serialized as the store's ``dumps`` does it (jsontext.py;
    outcomes.py builds the audit's from parts shared by a batch). A JSON column takes it as
    it is when its own serializer agrees with ``dumps``, and otherwise serializes what it
    stands for."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """A statement as the driver runs it: SQL text, its parameters in order, and the
    processors of the columns it returns."""

    sql: str
    slots: tuple[Slot, ...]
    results: tuple[Processor, ...]
    table: str = ""  # of an INSERT: the table it writes (pgopen.py)

    @property
    def processed(self) -> list[tuple[int, Callable[[Any], Any]]]:
        """The returned columns that have a processor: (position, processor)."""
        return [(i, p) for i, p in enumerate(self.results) if p is not None]

    @classmethod
    def compile(
        cls,
        stmt: sa.Executable,
        dialect: Dialect,
        returning: Sequence[sa.ColumnElement[Any]] = (),
        columns: Sequence[str] | None = None,
    ) -> Prepared:
        """``returning``: the columns the statement returns, in order; ``columns``: of an
        ``INSERT``, the ones each row gives (bound by their names)."""
        compiled = stmt.compile(dialect=dialect, column_keys=columns)  # type: ignore[attr-defined]
        text = dialect.name == "sqlite"  # times are stored as text
        if not dialect.positional or compiled.positiontup is None:  # pragma: no cover
            raise TypeError(f"{dialect.name}: a positional paramstyle is expected")
        slots = []
        for name in compiled.positiontup:
            bind = compiled.binds[name]
            if bind.expanding:  # pragma: no cover - a programming error, caught by tests
                raise TypeError(f"bind {name!r} expands: give its values when compiling")
            impl = bind.type.dialect_impl(dialect)
            fixed = None if bind.required else bind.effective_value
            process = impl.bind_processor(dialect)
            if isinstance(bind.type, sa.JSON) and process is not None:
                slots.append(Slot(name, fixed, _json_writer(process), shared=False))
                continue
            slots.append(Slot(name, fixed, _faster(process, _TIME_OUT) if text else process))
        results = tuple(
            _faster(process, _TIME_IN) if text else process
            for process in (
                col.type.dialect_impl(dialect).result_processor(dialect, None) for col in returning
            )
        )
        table = stmt.table.name if isinstance(stmt, sa.Insert) else ""
        return cls(compiled.string, tuple(slots), results, table)

    def params(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        """The driver's parameters for one statement run with ``row`` (by bind name)."""
        out = []
        for slot in self.slots:
            value = row.get(slot.name, slot.fixed)
            if slot.process is not None and value is not None:
                value = slot.process(value)
            out.append(value)
        return tuple(out)

    def batch(
        self,
        rows: Sequence[Sequence[Any]],
        names: Sequence[str],
        memo: Memo | None = None,
    ) -> list[tuple[Any, ...]]:
        """The driver's parameters for ``rows``: each a tuple of the values of ``names``, in
        that order (a bind not named takes the value the statement fixes).

        Built a column at a time: a batch's rows share most of their times and names, and
        ``memo`` processes each value once across the rows (and the statements) of a batch."""
        if not rows:
            return []
        memo = {} if memo is None else memo
        index = {name: i for i, name in enumerate(names)}
        found = list(zip(*rows, strict=True))
        columns: list[Sequence[Any]] = []
        for slot in self.slots:
            at = index.get(slot.name)
            values: Sequence[Any] = [slot.fixed] * len(rows) if at is None else found[at]
            columns.append(_processed(values, slot, memo) if slot.process else values)
        return list(zip(*columns, strict=True))

    async def run(self, on: Target, batch: Sequence[tuple[Any, ...]]) -> None:
        """Run once per row of ``batch`` (from :meth:`batch`: the driver's executemany)."""
        if not batch:
            return
        if isinstance(on, aiosqlite.Connection):
            with sqlite_errors(self.sql):
                await on.executemany(self.sql, batch)
        elif isinstance(on, AsyncConnection):
            await on.exec_driver_sql(self.sql, list(batch))
        else:
            with pg_errors(self.sql):
                await on.executemany(self.sql, batch)

    async def fetch(self, on: Target, row: Mapping[str, Any]) -> list[list[Any]]:
        """Run once and read back the returned columns, processed as SQLAlchemy would.

        Only the columns that have a processor are touched, and equal values in a column
        are processed once: rows of one incident share their renderings and times (the
        lists and dicts read back are shared, never changed)."""
        return await self.fetch_params(on, self.params(row))

    async def fetch_params(self, on: Target, params: Sequence[Any]) -> list[list[Any]]:
        """:meth:`fetch`, with the driver's parameters made already."""
        found: Iterable[Sequence[Any]]
        if isinstance(on, aiosqlite.Connection):
            with sqlite_errors(self.sql):
                found = await on.execute_fetchall(self.sql, params)
        elif isinstance(on, AsyncConnection):
            found = (await on.exec_driver_sql(self.sql, tuple(params))).all()
        else:
            with pg_errors(self.sql):
                found = await on.fetch(self.sql, *params)
        return self._processed_rows([list(r) for r in found])

    def fetch_packed(
        self,
        on: aiosqlite.Connection,
        row: Mapping[str, Any],
        first: Prepared,
        unpack: Callable[[list[list[Any]]], list[list[Any]]],
    ) -> Coroutine[Any, Any, list[list[Any]]]:
        """SQLite: run ``first`` (no rows back), then this statement, which returns one row:
        its rows packed in one JSON array (``json_group_array(json_array(…))``, their columns
        in the order of the processors), which ``unpack`` makes whole (a value packed once
        for the rows that share it). Both in one transaction, in one trip to aiosqlite's
        thread: what ``first`` changed stands only if it was read back.

        The same rows as a ``RETURNING`` would give, read back otherwise because of the GIL:
        the sqlite3 module lets it go and takes it back for every row it steps through, and
        that thread waits for it each time while the event loop runs Python (up to the
        switch interval, 5 ms). Fifty rows returned took 0.6 s per claim that way beside a
        busy Python thread, against 1.4 ms alone; one row and a few statements take it a few
        times.

        Queued to that thread at once, not at the first turn of the task that awaits it:
        a claim's task waited behind the senders its last claim woke (50 sends, about 2 ms
        of the event loop) before its statement even started, so the loop and the thread
        took turns instead of working side by side (sqlitethread.py ``GIL_SWITCH_S``).
        """
        before, params = first.params(row), self.params(row)

        def both(db: sqlite3.Connection) -> str:
            db.execute(first.sql, before)
            found = db.execute(self.sql, params).fetchone()
            return "[]" if found is None or found[0] is None else str(found[0])

        queued = submit(on, lambda db: transaction(db, both))

        async def read() -> list[list[Any]]:
            with sqlite_errors(first.sql):
                packed = await queued
            return self._processed_rows(unpack(json.loads(packed)))

        return read()

    def unpacked(
        self, packed: str | None, unpack: Callable[[list[list[Any]]], list[list[Any]]]
    ) -> list[list[Any]]:
        """The rows of this packed statement's one value (see :meth:`fetch_packed`)."""
        return self._processed_rows(unpack(json.loads(packed or "[]")))

    def _processed_rows(self, out: list[list[Any]]) -> list[list[Any]]:
        for i, process in self.processed:
            done: dict[Any, Any] = {}
            for values in out:
                value = values[i]
                if value is not None:
                    known = done.get(value, done)
                    if known is done:
                        known = done[value] = process(value)
                    values[i] = known
        return out


def _processed(values: Sequence[Any], slot: Slot, memo: Memo) -> list[Any]:
    """``values`` through the slot's processor; with ``shared``, each value once per memo."""
    process = slot.process
    if process is None:
        return list(values)
    if not slot.shared:
        return [None if value is None else process(value) for value in values]
    done = memo.setdefault(process, {})
    out = []
    for value in values:
        if value is not None:
            known = done.get(value, done)
            if known is done:
                known = done[value] = process(value)
            value = known
        out.append(value)
    return out


def _json_writer(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A JSON column's processor that also takes :class:`Encoded` documents."""
    sample = {"n": 1, "text": "\u200fآتش <b>\n", "none": None, "list": [True, 1.5]}
    try:
        same = process(sample) == dumps(sample)
    except (TypeError, ValueError):  # pragma: no cover - a serializer that refuses dicts
        same = False

    def write(value: Any) -> Any:
        if type(value) is Encoded:
            return str.__str__(value) if same else process(json.loads(value))
        return process(value)

    return write


def _text_of_time(value: datetime) -> str:
    if value.tzinfo is UTC:  # the usual case: "2026-03-20 23:30:05.000120+00:00" less its zone
        return value.isoformat(" ", "microseconds")[:-6]
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _time_of_text(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


_SAMPLE = datetime(2026, 3, 20, 23, 30, 5, 120, tzinfo=UTC)
_TIME_OUT = (_SAMPLE, _text_of_time)
_TIME_IN = (_text_of_time(_SAMPLE), _time_of_text)


def _faster(process: Processor, fast: tuple[Any, Callable[[Any], Any]]) -> Processor:
    """SQLite keeps aware times as text: the C ``isoformat``/``fromisoformat`` do what
    SQLAlchemy's processors do, ten times faster. Used only where both agree on a sample
    (the stored text is the same); any other processor is kept as it is."""
    sample, quick = fast
    if process is None:
        return None
    try:
        same = process(sample) == quick(sample)
    except (TypeError, ValueError, AttributeError):
        return process
    return quick if same else process


@contextlib.contextmanager
def sqlite_errors(sql: str) -> Iterator[None]:
    """A driver error leaves as SQLAlchemy's, like every other store error (driver_errors)."""
    try:
        yield
    except sqlite3.Error as exc:
        raise sa.exc.DBAPIError.instance(
            sql, None, exc, sqlite3.Error, hide_parameters=True
        ) from exc


def is_pg_error(exc: BaseException) -> bool:
    """An error the PostgreSQL server reported (the connection itself is still good)."""
    return isinstance(exc, asyncpg.PostgresError)


@contextlib.contextmanager
def pg_errors(sql: str) -> Iterator[None]:
    """asyncpg's errors leave as SQLAlchemy's (their SQLSTATE kept in ``orig``), like every
    other store error; any other failure (the connection lost, closed or confused) is
    reported as an invalidated connection."""
    try:
        yield
    except sa.exc.SQLAlchemyError:
        raise  # already one (a statement's, inside a transaction)
    except asyncpg.IntegrityConstraintViolationError as exc:  # SQLSTATE class 23
        # as SQLAlchemy's own asyncpg dialect raises it (an incident id drawn twice)
        raise sa.exc.IntegrityError(sql, None, exc, hide_parameters=True) from exc
    except Exception as exc:
        raise sa.exc.DBAPIError.instance(
            sql,
            None,
            exc,
            Exception,
            hide_parameters=True,
            connection_invalidated=not is_pg_error(exc),
        ) from exc


class PreparedCache:
    """Compiled statements of one engine, by key (the builder runs once per key)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._cache: dict[Any, Prepared] = {}

    def get(
        self,
        key: Any,
        build: Callable[[], sa.Executable],
        returning: Sequence[sa.ColumnElement[Any]] = (),
        columns: Sequence[str] | None = None,
    ) -> Prepared:
        return self.made(key, lambda: Prepared.compile(build(), self.dialect, returning, columns))

    def made(self, key: Any, make: Callable[[], Prepared]) -> Prepared:
        """The statement kept under ``key``, made by ``make`` the first time."""
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) > 256:  # keys are few (workers, busy-channel sets)
                self._cache.clear()
            found = self._cache[key] = make()
        return found


def names(values: Sequence[str], prefix: str) -> list[sa.BindParameter[str]]:
    """Fixed binds for a short list (an ``IN`` list compiled into the statement)."""
    return [sa.bindparam(f"{prefix}{i}", v, type_=sa.String) for i, v in enumerate(values)]
