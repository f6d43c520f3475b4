"""Core benchmark: planner -> store -> dispatcher -> no-op channel, on SQLite and PostgreSQL.

Prints a table (or one JSON object with --json): messages/s from commit to recorded-as-sent,
p50/p99 from `open` to the first send of a high-priority incident while the backlog is queued,
and peak RSS. Run by hand or with `make bench`; never part of the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from crisisd.channels.base import ChannelLimits, OutboundMessage, SendResult, Sent
from crisisd.config import Config
from crisisd.dispatch import Dispatcher
from crisisd.domain import IncidentReport
from crisisd.incidents import IncidentService
from crisisd.library import load_library
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


async def run(url: str, members: int, probes: int) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp())
    lib = load_library(big_tree(tmp, members))
    store = Store(url)
    await store.start()
    svc = IncidentService(store, lambda: lib)
    bale = NoOp("bale")
    channels = {"bale": bale, "sms": NoOp("sms"), "email": NoOp("email")}

    def address(msg: MessageRow, channel: str) -> str:
        return msg.recipient

    t_plan = time.perf_counter()
    backlog = await svc.open(
        IncidentReport("mini", "fire", "minor", "officer.a", idempotency_key="backlog")
    )
    t_commit = time.perf_counter()
    d = Dispatcher(store, channels, address, batch=500, lease=timedelta(minutes=5))  # type: ignore[arg-type]
    await d.start()
    latencies = []
    for i in range(probes):
        await asyncio.sleep(0.05)
        t0 = time.perf_counter()
        opened = await svc.open(
            IncidentReport("mini", "fire", "major", "officer.a", idempotency_key=f"p{i}")
        )
        d.kick()
        while opened.incident_id not in bale.first:
            await asyncio.sleep(0.0005)
        latencies.append((bale.first[opened.incident_id] - t0) * 1000)
    while (await store.queue_depth()).get("pending", 0) or (await store.queue_depth()).get(
        "sending", 0
    ):
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    t_done = time.perf_counter()
    await d.drain()
    total = members + probes * 2
    await store.aclose()
    latencies.sort()
    return {
        "backend": url.split("+")[0],
        "messages": total,
        "plan_and_commit_s": round(t_commit - t_plan, 2),
        "msgs_per_s": round(total / (t_done - t_commit)),
        "first_send_p50_ms": round(statistics.median(latencies), 1),
        "first_send_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 1),
        "backlog_id": backlog.incident_id,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--probes", type=int, default=50)
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
        rows.append(asyncio.run(run(url, args.messages, args.probes)))
    if args.json:
        print(json.dumps({"core": rows}))
        return
    cols = [
        "backend",
        "messages",
        "plan_and_commit_s",
        "msgs_per_s",
        "first_send_p50_ms",
        "first_send_p99_ms",
        "peak_rss_mb",
    ]
    print(" | ".join(cols))
    for row in rows:
        print(" | ".join(str(row[c]) for c in cols))
    print(
        "targets: >= 3000 msgs/s on SQLite, p99 <= 50 ms to first high-priority send, RSS <= 150 MB"
    )


if __name__ == "__main__":
    main()
