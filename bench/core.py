"""Core benchmark: planner -> store -> dispatcher -> no-op channel, on SQLite and PostgreSQL.

Prints a table (or one JSON object with --json): messages/s from commit to recorded-as-sent,
p50/p99 from `open` to the first send of a high-priority incident while the backlog is queued,
and peak RSS. Run by hand or with `make bench`; never part of the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog

from crisisd.channels.base import ChannelLimits, OutboundMessage, SendResult, Sent
from crisisd.config import Config
from crisisd.delivery.dispatcher import Dispatcher
from crisisd.domain import IncidentReport
from crisisd.incidents import IncidentService
from crisisd.library.loader import load_library
from crisisd.store import MessageRow, Store
from crisisd.store.engine import normalize_url
from tests.minitree import TEMPLATES, make_tree


class NoOp:
    kind = "chat"

    def __init__(self, name: str) -> None:
        self.name = name
        self.limits = ChannelLimits(max_length=4096, rate_per_second=1e9, concurrency=16)
        self.first: dict[str, float] = {}

    async def send(self, msg: OutboundMessage) -> SendResult:
        self.first.setdefault(msg.incident_id, time.perf_counter())
        return Sent("x")

    async def aclose(self) -> None:
        return None


def big_tree(root: Path, members: int) -> Config:
    config = make_tree(root)
    contacts = "".join(
        f"  s{i}:\n    name: {{fa: کارگر {i}, en: Worker {i}}}\n    chats: {{bale: {10_000 + i}}}\n"
        for i in range(members)
    )
    d = root / "playbooks" / "directory.yaml"
    d.write_text(d.read_text(encoding="utf-8") + contacts, encoding="utf-8")
    pb = root / "playbooks" / "mini.yaml"
    text = pb.read_text(encoding="utf-8")
    text = text.replace(
        "  management:\n",
        "  staff:\n    members: ["
        + ", ".join(f"s{i}" for i in range(members))
        + "]\n  management:\n",
        1,
    )
    text = text.replace(
        "      major:\n",
        "      minor:\n        steps:\n          - {audience: staff, template: alert, channels: [bale]}\n      major:\n",
        1,
    )
    pb.write_text(text, encoding="utf-8")
    assert TEMPLATES
    return config


def rss_mb() -> float:
    """Current resident set size (Linux), in MB."""
    with Path("/proc/self/statm").open() as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


async def drain_all(d: Dispatcher, total: int) -> None:
    while d.sent_count < total:  # a store query here would compete with the dispatcher
        await asyncio.sleep(0.005)
    await d.flush()  # recorded-as-sent, not just sent


async def run(
    url: str, contacts: int, messages: int, probes: int, outbox: int
) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp())
    lib = load_library(big_tree(tmp, contacts))
    rss_loaded = rss_mb()
    store = Store(url)
    await store.start()
    svc = IncidentService(store, lambda: lib)
    bale = NoOp("bale")
    channels = {"bale": bale, "sms": NoOp("sms"), "email": NoOp("email")}

    def address(msg: MessageRow, channel: str) -> str:
        return msg.recipient

    def dispatcher() -> Dispatcher:
        return Dispatcher(
            store,
            channels,  # type: ignore[arg-type]
            address,
            batch=int(os.environ.get("BENCH_BATCH", "50")),
            lease=timedelta(minutes=5),
            clock=lambda: datetime.now(UTC) + timedelta(hours=1),  # delayed steps due at once
        )

    async def backlog(tag: str, count: int) -> None:
        """Queue ``count`` low-priority messages: incidents of ``contacts`` recipients each."""
        for i in range(max(1, count // contacts)):
            report = IncidentReport(
                "mini", "fire", "minor", "officer.a", idempotency_key=f"{tag}{i}"
            )
            await svc.open(report)

    # 1. throughput: from the commit of 10,000 messages to all recorded as sent
    t0 = time.perf_counter()
    await backlog("throughput", messages)
    t_commit = time.perf_counter()
    d = dispatcher()
    await d.start()
    await drain_all(d, messages)
    t_done = time.perf_counter()
    await d.drain()

    # 2. latency: open -> first send of a high-priority incident, backlog queued behind it
    # three times the backlog, so that 10,000 are still queued when the last probe is sent
    await backlog("latency", 3 * messages)
    d = dispatcher()
    await d.start()
    latencies = []
    for i in range(probes):
        await asyncio.sleep(0.01)
        start = time.perf_counter()
        opened = await svc.open(
            IncidentReport("mini", "fire", "major", "officer.a", idempotency_key=f"p{i}")
        )
        d.kick()
        while opened.incident_id not in bale.first:
            await asyncio.sleep(0.0005)
        latencies.append((bale.first[opened.incident_id] - start) * 1000)
    queued_at_end = 3 * messages - d.sent_count
    await drain_all(d, 3 * messages + probes * 3)
    await d.drain()

    # 3. memory: `outbox` messages waiting in the store while the dispatcher works them off
    await backlog("rss", outbox)
    rss_queued = rss_mb()
    d = dispatcher()
    await d.start()
    await drain_all(d, outbox)
    await d.drain()
    await store.aclose()
    latencies.sort()
    return {
        "backend": url.split("+")[0],
        "messages": messages,
        "plan_commit_s": round(t_commit - t0, 2),
        "msgs_per_s": round(messages / (t_done - t_commit)),
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)], 1),
        "backlog_left": queued_at_end,
        "rss_loaded_mb": round(rss_loaded),
        "rss_100k_queued_mb": round(rss_queued),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--contacts", type=int, default=1_000, help="recipients per incident")
    ap.add_argument("--probes", type=int, default=100)
    ap.add_argument("--outbox", type=int, default=100_000)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--pg", default=os.environ.get("CRISISD_TEST_PG_URL"))
    args = ap.parse_args()
    urls = [normalize_url(f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3")]
    if args.pg:
        urls.append(normalize_url(args.pg))
    rows = []
    for url in urls:
        if url.startswith("postgresql"):
            from tests.conftest import _reset_pg

            asyncio.run(_reset_pg(url))
        rows.append(asyncio.run(run(url, args.contacts, args.messages, args.probes, args.outbox)))
    if args.json:
        print(json.dumps({"core": rows}))
        return
    cols = list(rows[0])
    print(" | ".join(cols))
    for row in rows:
        print(" | ".join(str(row[c]) for c in cols))
    print(
        "targets: >= 3000 msgs/s on SQLite, p99 <= 50 ms to first high-priority send, RSS <= 150 MB"
    )


if __name__ == "__main__":
    main()
