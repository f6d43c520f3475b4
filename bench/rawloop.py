"""The raw limit of an outbox on this machine: a bare loop with the driver, no crisisd.

Insert ``n`` messages in one transaction, then until none is left: claim 50 with
``UPDATE … WHERE id IN (SELECT … ORDER BY priority, not_before LIMIT 50) RETURNING``, "send"
them (nothing), mark them sent and write one audit row each, in one transaction. This is the
floor crisisd's core is measured against (bench/core.py runs both in the same process, one
after the other, on the same machine and load).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosqlite

BATCH = 50
TEXT = "‏<b>کارخانه کوچک: آتش‌سوزی</b>\n۷ آذر ۱۴۰۵، ۱۰:۳۰\nآتش در انبار مواد اولیه"

SQLITE_SCHEMA = """
CREATE TABLE m (id INTEGER PRIMARY KEY, status TEXT NOT NULL, priority INTEGER NOT NULL,
  not_before TEXT NOT NULL, lease_until TEXT, worker TEXT, channel TEXT NOT NULL,
  recipient TEXT NOT NULL, body TEXT NOT NULL, sent_at TEXT);
CREATE INDEX ix_m_due ON m (status, priority, not_before);
CREATE TABLE a (id INTEGER PRIMARY KEY, message_id INTEGER NOT NULL, at TEXT NOT NULL,
  detail TEXT NOT NULL);
"""
CLAIM = (
    "UPDATE m SET status='sending', worker=?, lease_until=? WHERE id IN "
    "(SELECT id FROM m WHERE status='pending' AND not_before<=? "
    "ORDER BY priority, not_before LIMIT 50) RETURNING id, recipient, body"
)
MARK = "UPDATE m SET status='sent', sent_at=?, worker=NULL, lease_until=NULL WHERE id=?"
AUDIT = "INSERT INTO a (message_id, at, detail) VALUES (?, ?, ?)"


async def sqlite_loop(path: Path, n: int, per_message: bool = False) -> dict[str, float]:
    """Messages/s of the bare aiosqlite loop from the insert's commit to the last one sent.

    ``per_message``: one UPDATE and one INSERT statement per message (as a loop is first
    written) instead of one ``executemany`` of each per batch.
    """
    now = datetime.now(UTC).replace(tzinfo=None)
    async with aiosqlite.connect(path, isolation_level=None) as db:
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.executescript(SQLITE_SCHEMA)
        t0 = time.perf_counter()
        await db.execute("BEGIN IMMEDIATE")
        rows = [("pending", 10, now.isoformat(), "bale", f"s{i}", TEXT) for i in range(n)]
        await db.executemany(
            "INSERT INTO m (status, priority, not_before, channel, recipient, body) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        await db.execute("COMMIT")
        t1 = time.perf_counter()
        sent = 0
        while True:
            at = datetime.now(UTC).replace(tzinfo=None).isoformat()
            lease = (datetime.now(UTC) + timedelta(minutes=5)).replace(tzinfo=None).isoformat()
            await db.execute("BEGIN IMMEDIATE")
            got = list(await (await db.execute(CLAIM, ("w1", lease, at))).fetchall())
            await db.execute("COMMIT")
            if not got:
                break
            marks = [(at, r[0]) for r in got]
            trail = [(r[0], at, json.dumps({"recipient": r[1], "text": r[2]})) for r in got]
            await db.execute("BEGIN IMMEDIATE")
            if per_message:
                for mark, entry in zip(marks, trail, strict=True):
                    await db.execute(MARK, mark)
                    await db.execute(AUDIT, entry)
            else:
                await db.executemany(MARK, marks)
                await db.executemany(AUDIT, trail)
            await db.execute("COMMIT")
            sent += len(got)
        t2 = time.perf_counter()
    assert sent == n, (sent, n)
    return {"insert_s": round(t1 - t0, 3), "msgs_per_s": round(n / (t2 - t1))}


PG_SCHEMA = """
DROP TABLE IF EXISTS raw_m; DROP TABLE IF EXISTS raw_a;
CREATE TABLE raw_m (id BIGSERIAL PRIMARY KEY, status TEXT NOT NULL, priority INTEGER NOT NULL,
  not_before TIMESTAMP NOT NULL, lease_until TIMESTAMP, worker TEXT, channel TEXT NOT NULL,
  recipient TEXT NOT NULL, body TEXT NOT NULL, sent_at TIMESTAMP);
CREATE INDEX ix_raw_m_due ON raw_m (status, priority, not_before);
CREATE TABLE raw_a (id BIGSERIAL PRIMARY KEY, message_id BIGINT NOT NULL, at TIMESTAMP NOT NULL,
  detail JSON NOT NULL);
"""
PG_CLAIM = (
    "UPDATE raw_m SET status='sending', worker=$1, lease_until=$2 WHERE id IN "
    "(SELECT id FROM raw_m WHERE status='pending' AND not_before<=$3 "
    "ORDER BY priority, not_before LIMIT 50 FOR UPDATE SKIP LOCKED) "
    "RETURNING id, recipient, body"
)


async def pg_loop(url: str, n: int) -> dict[str, float]:
    """The same loop with bare asyncpg (tables raw_m and raw_a, dropped afterwards)."""
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(PG_SCHEMA)
        now = datetime.now(UTC).replace(tzinfo=None)
        t0 = time.perf_counter()
        await conn.copy_records_to_table(
            "raw_m",
            records=[("pending", 10, now, "bale", f"s{i}", TEXT) for i in range(n)],
            columns=["status", "priority", "not_before", "channel", "recipient", "body"],
        )
        t1 = time.perf_counter()
        sent = 0
        while True:
            at = datetime.now(UTC).replace(tzinfo=None)
            got = await conn.fetch(PG_CLAIM, "w1", at + timedelta(minutes=5), at)
            if not got:
                break
            async with conn.transaction():
                await conn.executemany(
                    "UPDATE raw_m SET status='sent', sent_at=$1, worker=NULL, lease_until=NULL "
                    "WHERE id=$2",
                    [(at, r["id"]) for r in got],
                )
                await conn.executemany(
                    "INSERT INTO raw_a (message_id, at, detail) VALUES ($1, $2, $3)",
                    [
                        (r["id"], at, json.dumps({"recipient": r["recipient"], "text": r["body"]}))
                        for r in got
                    ],
                )
            sent += len(got)
        t2 = time.perf_counter()
        await conn.execute("DROP TABLE raw_m; DROP TABLE raw_a")
    finally:
        await conn.close()
    assert sent == n, (sent, n)
    return {"insert_s": round(t1 - t0, 3), "msgs_per_s": round(n / (t2 - t1))}
