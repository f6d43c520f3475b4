"""Reload off the event loop: the loop's longest stall while 100 playbooks reload during a fan-out.

A generated province (fictional: 100 factory playbooks, 10,000 contacts) is held in memory
the way a running daemon holds its library. Meanwhile a real fan-out runs on the same loop
(``bench.fanout``'s pipeline: IncidentService -> SQLite -> Dispatcher -> channels, to the
sandbox fakes in another process), and a probe sleeps 5 ms at a time, recording how late it
wakes. Each round measures, for the same length of time:

- floor: the fan-out alone (what the loop's lag is anyway);
- thread: the reload in a worker thread with the collector as Python leaves it (before);
- daemon: the daemon's reload — loaded and checked in a child process, put together on
  the loop in slices (``library/isolated.py``), the collector paused meanwhile and the
  heap frozen at start and after (``library/offloop.py``): what ``crisisd run`` does on
  SIGHUP.

Also printed: the one full collection the daemon defers to an idle outbox (``tidy``), and
the messages the fan-out sent during the rounds (so a stalled fan-out would show).
Medians over rounds; run by hand or by ``make bench``; never part of the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import structlog

from bench.fanout import FAST, bench_config, fanout_tree, pipeline, sandbox_child
from bench.provincegen import Province
from crisisd.config import Config, load_config
from crisisd.library.isolated import load_isolated
from crisisd.library.loader import load_library
from crisisd.library.model import Library
from crisisd.library.offloop import HeapCare

TARGET_MS = 50.0
HOWS = ("floor", "thread", "daemon")


async def probe(stop: asyncio.Event) -> float:
    """The longest overshoot, in ms, of a 5 ms sleep until ``stop`` is set."""
    worst = 0.0
    while not stop.is_set():
        start = time.perf_counter()
        await asyncio.sleep(0.005)
        worst = max(worst, (time.perf_counter() - start - 0.005) * 1000)
    return worst


class Round:
    """One measurement; holds the province library as the daemon would."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.held = self.load()
        self.heap = HeapCare()

    def load(self) -> Library:
        return load_library(load_config(self.config))

    async def run(self, how: str, seconds: float) -> tuple[float, float]:
        if how == "thread":
            gc.unfreeze()  # the daemon before: nothing frozen
        else:
            self.heap.settle()  # as at READY
        stop = asyncio.Event()
        task = asyncio.create_task(probe(stop))
        await asyncio.sleep(0.02)  # the probe is sleeping when the load starts
        start = time.perf_counter()
        if how == "thread":
            self.held = await asyncio.to_thread(self.load)
        elif how == "daemon":
            new = await self.heap.load(lambda: load_isolated(self.config, Config()))
            self.heap.replaced(self.held)
            self.held = new
        took = time.perf_counter() - start
        await asyncio.sleep(max(0.5, seconds - took))  # collections that follow count too
        stop.set()
        return await task, took


async def rounds(tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    province = Province(tmp / "province", args.contacts, args.playbooks).build()
    r = Round(province)
    lib = load_library(bench_config(fanout_tree(tmp / "tree", args.recipients), FAST))
    got: dict[str, list[tuple[float, float]]] = {how: [] for how in HOWS}
    async with (
        sandbox_child(lib.config, tmp, enforce=False) as remote,
        pipeline(lib, remote, tmp, unpaced=True) as p,
    ):
        total, sent, idle_rounds = 0, 0, 0
        for run in range(args.runs):
            for how in HOWS:
                # a fresh incident each round (opened before the probe starts: planning a
                # big incident runs on the loop), so every round measures during a fan-out
                total += (await p.open("minor", f"reload-{how}-{run}"))[1]
                await asyncio.sleep(0.5)
                before = p.dispatcher.sent_count
                got[how].append(await r.run(how, args.seconds))
                sent += p.dispatcher.sent_count - before
                idle_rounds += p.dispatcher.in_hand == 0
        t0 = time.perf_counter()
        r.heap.dirty = True
        r.heap.tidy()
        tidy_ms = (time.perf_counter() - t0) * 1000
    return {
        how: {
            "stall_ms": round(statistics.median(s for s, _ in runs), 1),
            "worst_ms": round(max(s for s, _ in runs), 1),
            "load_s": round(statistics.median(t for _, t in runs), 2),
        }
        for how, runs in got.items()
    } | {
        "fanout": {"messages": total, "sent_during": sent, "idle_rounds": idle_rounds},
        "tidy_ms": round(tidy_ms, 1),
    }


def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--contacts", type=int, default=10_000)
    ap.add_argument("--playbooks", type=int, default=100)
    ap.add_argument("--recipients", type=int, default=3_000, help="each round's fan-out")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=6.0, help="each measurement's length")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="crisisd-reload-") as tmp:
        result = asyncio.run(rounds(Path(tmp), args))
    if args.json:
        print(json.dumps({"reload": result, "target_stall_ms": TARGET_MS}))
        return
    f = result["fanout"]
    print(
        f"reload of {args.playbooks} playbooks, {args.contacts} contacts, each round during a "
        f"fan-out ({f['messages']} messages opened, {f['sent_during']} sent during the "
        f"measurements; rounds that ended with nothing in hand: {f['idle_rounds']}); "
        f"median of {args.runs}"
    )
    names = {
        "floor": "fan-out alone (floor)",
        "thread": "reload in a thread (before)",
        "daemon": "the daemon's reload",
    }
    print(f"{'how':<30}{'longest stall':>15}{'worst':>10}{'load time':>12}")
    for how in HOWS:
        row = result[how]
        print(
            f"{names[how]:<30}{row['stall_ms']:>12.1f} ms{row['worst_ms']:>7.1f} ms"
            f"{row['load_s']:>10.2f} s"
        )
    print(f"{'deferred full collection':<30}{result['tidy_ms']:>12.1f} ms  (idle outbox only)")
    verdict = "met" if result["daemon"]["worst_ms"] < TARGET_MS else "MISSED"
    print(f"target: longest stall < {TARGET_MS:.0f} ms during a fan-out — {verdict}")


if __name__ == "__main__":
    main()
