"""PostgreSQL: a small open in one statement, so one round trip.

A small open was seven round trips on its lane (``BEGIN``, the incident, its audit entry,
its messages, its tasks, the messages it took read back, ``COMMIT``). Behind a backlog each
one waited for the event loop's turn (busy with the backlog's sends) and for a server busy
with the backlog's claims and records: on bench/core.py's probes the open itself was most
of the slowest alerts' time. Here the whole open is one statement (all of it is written,
or none), run alone on the open lane, so in a transaction of its own, or inside the pool's
transaction when another open holds the lane: data-modifying ``WITH`` queries
(https://www.postgresql.org/docs/current/queries-with.html#QUERIES-WITH-MODIFYING) insert
the incident (``ON CONFLICT DO NOTHING`` on its idempotency key), then, only when that wrote
a row, its audit entry, messages and tasks, each from arrays a column each (``unnest``);
the messages it took come back from their insert's ``RETURNING``.

The values are the very ones the statement-by-statement path writes: each insert's
parameters are made by its own prepared statement (prepared.py), then passed a column at a
time, each an array of the column's type without its length: an explicit cast to
``VARCHAR(n)`` would cut a longer text short, where the insert into the column refuses it
(as SQLAlchemy's own casts leave the length out, sqlalchemy issue #9511).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from crisisd.store.claims import CLAIMED
from crisisd.store.opening import Write
from crisisd.store.prepared import Prepared, PreparedCache, Processor
from crisisd.store.records import MessageRow
from crisisd.store.tables import metadata
from crisisd.store.taking import in_claim_order

_LENGTH = re.compile(r"\(\d+\)$")  # VARCHAR(64) -> VARCHAR


def one_statement(
    prepared: PreparedCache,
    incident: tuple[Prepared, tuple[Any, ...]],
    writes: Sequence[Write],
    took: bool,
) -> tuple[Prepared, list[Any]]:
    """The open as one statement and its parameters: ``incident`` (the incident's insert,
    which returns its id unless its idempotency key was used already) and ``writes`` (the
    audit entry's, messages' and tasks' inserts, with their rows), written only when the
    incident was. With ``took``, the messages written already claimed (their ``worker``
    set) come back, a row each after the incident's id; it returns no row when nothing was
    written (the key was used), one row with the id alone when nothing was taken."""
    writes = [(stmt, batch) for stmt, batch in writes if batch]
    key = ("open.one", incident[0].sql, tuple(stmt.sql for stmt, _ in writes), took)
    one = prepared.made(key, lambda: _statement(prepared, incident[0], writes, took))
    params = list(incident[1])
    for _, batch in writes:
        params.extend(list(column) for column in zip(*batch, strict=True))
    return one, params


def taken_rows(found: list[list[Any]]) -> list[MessageRow]:
    """The messages taken, in what :func:`one_statement`'s statement returned, most urgent
    first (as a claim hands them over)."""
    return in_claim_order([row[1:] for row in found if len(row) > 1 and row[1] is not None])


def _statement(
    prepared: PreparedCache, incident: Prepared, writes: Sequence[Write], took: bool
) -> Prepared:
    # Every name and type here is one of the store's own tables' (tables.py); every value
    # is a bound parameter.
    dialect = prepared.dialect
    quote = dialect.identifier_preparer.quote
    queries = [f"inc AS ({incident.sql})"]
    at = len(incident.slots) + 1  # the next parameter's number
    results: tuple[Processor, ...] = (None,)  # the incident's id
    last = "SELECT inc.id FROM inc"
    for i, (stmt, _) in enumerate(writes):
        table = metadata.tables[stmt.table]
        names = [slot.name for slot in stmt.slots]
        types = [_LENGTH.sub("", table.c[name].type.compile(dialect=dialect)) for name in names]
        arrays = ", ".join(f"${at + j}::{kind}[]" for j, kind in enumerate(types))
        at += len(names)
        alias = ", ".join(f"c{j}" for j in range(len(names)))
        into = f"{quote(table.name)} ({', '.join(quote(n) for n in names)})"
        rows = f"unnest({arrays}) AS u({alias})"
        insert = f"INSERT INTO {into} SELECT {alias} FROM inc CROSS JOIN {rows}"  # noqa: S608
        if took and table.name == "messages":  # a small open's one chunk of them
            back = ", ".join(quote(c) for c in (*(c.name for c in CLAIMED), "worker"))
            queries.append(f"taken AS ({insert} RETURNING {back})")
            columns = ", ".join(f"taken.{quote(c.name)}" for c in CLAIMED)
            last = f"SELECT inc.id, {columns} FROM inc LEFT JOIN taken ON taken.worker IS NOT NULL"  # noqa: S608
            results = (None, *Prepared.compile(sa.select(*CLAIMED), dialect, CLAIMED).results)
        else:
            queries.append(f"w{i} AS ({insert})")
    return Prepared(f"WITH {', '.join(queries)} {last}", (), results)
