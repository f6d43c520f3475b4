"""Core benchmark: planner -> store -> dispatcher -> no-op channel, against a bare driver loop.

Each run measures, in one process, one after the other:

* crisisd: messages/s from the commit of ``--messages`` messages to all recorded as sent;
* the raw limit: a bare aiosqlite (asyncpg) outbox loop over the same number of messages
  (bench/rawloop.py: insert, claim 50 with UPDATE … RETURNING, mark sent, an audit row
  each), batched and one statement per message;
* latency: p50/p99 from ``open`` to the first send of a high-priority incident, with an
  empty outbox and then with ``--messages`` lower-priority messages queued on the same
  channel (paced at ``--pace`` messages/s so that the backlog stays queued).

Prints a table of medians over ``--runs`` runs (or one JSON object with ``--json``).
Run by hand or with ``make bench``; never part of the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from bench.rawloop import pg_loop, sqlite_loop
from bench.tally import Figure, emit, figure, peak_rss_mb, ratio_figure
from crisisd.channels.base import ChannelLimits, OutboundMessage, SendResult, Sent
from crisisd.config import Config
from crisisd.delivery.dispatcher import Dispatcher
from crisisd.domain import IncidentReport
from crisisd.formats.workweek import warm_public_holidays
from crisisd.incidents import IncidentService
from crisisd.library.loader import load_library
from crisisd.store import MessageRow, Store
from crisisd.store.engine import normalize_url
from crisisd.store.sqlitethread import share_the_gil
from tests.minitree import make_tree


class NoOp:
    """A channel that accepts everything at once, noting when each incident was first sent."""

    kind = "chat"

    def __init__(self, name: str, rate: float = 1e9) -> None:
        self.name = name
        self.limits = ChannelLimits(max_length=4096, rate_per_second=rate, concurrency=16)
        self.first: dict[str, float] = {}

    async def send(self, msg: OutboundMessage) -> SendResult:
        self.first.setdefault(msg.incident_id, time.perf_counter())
        return Sent("x")

    async def aclose(self) -> None:
        return None


def big_tree(root: Path, members: int) -> Config:
    """The mini tree plus ``members`` staff on Bale, told by severity ``minor`` of a fire."""
    config = make_tree(root)
    contacts = "".join(
        f"  s{i}:\n    name: {{fa: کارگر {i}, en: Worker {i}}}\n    chats: {{bale: {10_000 + i}}}\n"
        for i in range(members)
    )
    d = root / "playbooks" / "directory.yaml"
    d.write_text(d.read_text(encoding="utf-8") + contacts, encoding="utf-8")
    pb = root / "playbooks" / "mini.yaml"
    text = pb.read_text(encoding="utf-8")
    members_list = ", ".join(f"s{i}" for i in range(members))
    text = text.replace(
        "  management:\n", f"  staff:\n    members: [{members_list}]\n  management:\n", 1
    )
    text = text.replace(
        "      major:\n",
        "      minor:\n        steps:\n          - {audience: staff, template: alert, channels: [bale]}\n      major:\n",
        1,
    )
    pb.write_text(text, encoding="utf-8")
    return config


async def drain_all(d: Dispatcher, total: int) -> None:
    while d.sent_count < total:  # a store query here would compete with the dispatcher
        await asyncio.sleep(0.005)
    await d.flush()  # recorded-as-sent, not just sent


class Core:
    """One store, one library, and dispatchers started over no-op channels."""

    def __init__(self, url: str, tmp: Path, contacts: int) -> None:
        self.lib = load_library(big_tree(tmp, contacts))
        if self.lib.config.calendar.public_holidays:  # as `crisisd run` does while it loads
            warm_public_holidays(datetime.now(UTC).year)
        share_the_gil()  # as the daemon does (the bare loops below run with it too)
        self.contacts = contacts
        self.store = Store(url)
        self.service = IncidentService(self.store, lambda: self.lib)

    def dispatcher(self, pace: float = 1e9) -> tuple[Dispatcher, NoOp]:
        bale = NoOp("bale", pace)
        channels = {"bale": bale, "sms": NoOp("sms"), "email": NoOp("email")}

        def address(msg: MessageRow, channel: str) -> str:
            return msg.recipient

        d = Dispatcher(
            self.store,
            channels,  # type: ignore[arg-type]
            address,
            batch=int(os.environ.get("BENCH_BATCH", "50")),
            lease=timedelta(minutes=5),
            # the daemon's clock: the backlog (minor) has no delayed step, and a probe's
            # press statement, due in ten minutes, is not sent (two sends a probe, on Bale)
        )
        return d, bale

    async def backlog(self, tag: str, count: int) -> int:
        """Queue ``count`` low-priority messages: incidents of ``contacts`` recipients each."""
        total = 0
        for i in range(max(1, count // self.contacts)):
            report = IncidentReport(
                "mini", "fire", "minor", "officer.a", idempotency_key=f"{tag}{i}"
            )
            total += (await self.service.open(report)).messages
        return total

    async def throughput(self, messages: int) -> dict[str, float]:
        t0 = time.perf_counter()
        queued = await self.backlog("throughput", messages)
        t_commit = time.perf_counter()
        d, _ = self.dispatcher()
        await d.start()
        await drain_all(d, queued)
        t_done = time.perf_counter()
        await d.drain()
        return {"plan_commit_s": t_commit - t0, "msgs_per_s": queued / (t_done - t_commit)}

    async def latency(self, tag: str, probes: int, backlog: int, pace: float) -> dict[str, float]:
        """ms from ``open`` to the first send of a major incident (priority above the backlog)."""
        queued = await self.backlog(f"{tag}-backlog", backlog) if backlog else 0
        d, bale = self.dispatcher(pace)
        await d.start()
        self.service.taker = d  # as the daemon does (store/taking.py)
        ms = []
        for i in range(probes):
            await asyncio.sleep(0.02)
            start = time.perf_counter()
            report = IncidentReport(
                "mini", "fire", "major", "officer.a", idempotency_key=f"{tag}{i}"
            )
            opened = await self.service.open(report)
            d.kick()
            while opened.incident_id not in bale.first:
                await asyncio.sleep(0.0005)
            ms.append((bale.first[opened.incident_id] - start) * 1000)
        left = queued - (d.sent_count - 2 * len(ms))  # each probe sends two on Bale
        await d.drain()
        ms.sort()
        return {
            "p50_ms": statistics.median(ms),
            "p99_ms": ms[max(0, int(len(ms) * 0.99) - 1)],
            "backlog_left": left,
        }


async def one_run(url: str, args: argparse.Namespace, run: int) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="crisisd-core-"))
    if url.startswith("postgresql"):
        from tests.conftest import _reset_pg

        await _reset_pg(url)
    else:
        url = normalize_url(f"sqlite:///{tmp}/core.sqlite3")
    core = Core(url, tmp, args.contacts)
    await core.store.start()
    # As the daemon does once it is ready (library/offloop.py HeapCare.settle): what is
    # alive after the start, the loaded library above all, is frozen, and the collections
    # the dispatcher's allocations trigger do not scan it again and again.
    gc.freeze()
    try:
        crisisd = await core.throughput(args.messages)
        empty = await core.latency(f"r{run}e", args.probes, 0, args.pace)
        loaded = await core.latency(
            f"r{run}l", args.probes, args.messages + args.headroom, args.pace
        )
    finally:
        await core.store.aclose()
        gc.unfreeze()  # the next run starts as this one did
    if url.startswith("postgresql"):
        raw = await pg_loop(url, args.messages)
        raw_each = {"msgs_per_s": 0.0}
    else:
        raw = await sqlite_loop(tmp / "raw.sqlite3", args.messages)
        raw_each = await sqlite_loop(tmp / "raw-each.sqlite3", args.messages, per_message=True)
    return {
        "crisisd": crisisd,
        "raw": raw,
        "raw_per_message": raw_each,
        "empty": empty,
        "loaded": loaded,
        "peak_rss_mb": peak_rss_mb(),
    }


def figures(backend: str, runs: list[dict[str, Any]], messages: int) -> list[Figure]:
    def col(*path: str) -> list[float]:
        out = []
        for r in runs:
            v: Any = r
            for p in path:
                v = v[p]
            out.append(float(v))
        return out

    out = [
        figure(
            f"{backend}: commit -> recorded sent, {messages:,} msgs",
            col("crisisd", "msgs_per_s"),
            "msg/s",
            raw=col("raw", "msgs_per_s"),
        ),
        ratio_figure(
            f"{backend}: crisisd / bare loop (batched statements)",
            col("crisisd", "msgs_per_s"),
            col("raw", "msgs_per_s"),
            0.5,
        ),
    ]
    if backend == "sqlite":
        out.append(
            ratio_figure(
                "sqlite: crisisd / bare loop (a statement per message)",
                col("crisisd", "msgs_per_s"),
                col("raw_per_message", "msgs_per_s"),
                0.5,
                note="the bare loop written the plain way: one UPDATE and one INSERT per message",
            )
        )
    out += [
        figure(f"{backend}: plan + commit {messages:,} msgs", col("crisisd", "plan_commit_s"), "s"),
        figure(f"{backend}: open -> first send p99, empty outbox", col("empty", "p99_ms"), "ms"),
        figure(
            f"{backend}: open -> first send p99, backlog queued",
            col("loaded", "p99_ms"),
            "ms",
            note=f"fewest backlog messages still queued at the last probe: "
            f"{int(min(col('loaded', 'backlog_left'))):,}",
        ),
        ratio_figure(
            f"{backend}: p99 loaded / p99 empty",
            col("loaded", "p99_ms"),
            col("empty", "p99_ms"),
            1.5,
            lower_is_better=True,
        ),
        figure(f"{backend}: peak RSS", col("peak_rss_mb"), "MB"),
    ]
    return out


def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--contacts", type=int, default=1_000, help="recipients per incident")
    ap.add_argument("--probes", type=int, default=100)
    ap.add_argument("--pace", type=float, default=1000.0, help="Bale msgs/s in the latency runs")
    ap.add_argument("--headroom", type=int, default=8_000, help="backlog beyond --messages")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--pg", default=os.environ.get("CRISISD_TEST_PG_URL"))
    args = ap.parse_args()
    backends = ["sqlite"] + ([normalize_url(args.pg)] if args.pg else [])
    all_figures: list[Figure] = []
    all_runs: dict[str, list[dict[str, Any]]] = {}
    for backend in backends:
        name = "postgresql" if backend.startswith("postgresql") else "sqlite"
        runs = [asyncio.run(one_run(backend, args, i)) for i in range(args.runs)]
        all_runs[name] = runs
        all_figures += figures(name, runs, args.messages)
    emit("core", all_figures, [all_runs], args.json, count=args.runs)


if __name__ == "__main__":
    main()
