"""Reload off the event loop: the loop's longest stall while the library is loaded again.

A generated province (fictional: 100 factory playbooks, 10,000 contacts) is loaded the way
`crisisd run` reloads on SIGHUP (``asyncio.to_thread(load_library)``) while a probe task
sleeps 5 ms at a time and records how late it wakes. Printed beside the same probe with
nothing to do (the floor) and beside loading on the loop itself (what a reload cost before).

Limit: nothing is sent meanwhile. With a fan-out running, the thread measured 176–232 ms on
branch `shell` (over the 50 ms target); that branch's child-process loader held ~30 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from bench.provincegen import Province
from crisisd.config import load_config
from crisisd.library.loader import load_library

TARGET_MS = 50.0


async def probe(stop: asyncio.Event) -> float:
    """The longest overshoot, in ms, of a 5 ms sleep until ``stop`` is set."""
    worst = 0.0
    while not stop.is_set():
        start = time.perf_counter()
        await asyncio.sleep(0.005)
        worst = max(worst, (time.perf_counter() - start - 0.005) * 1000)
    return worst


async def measure(config_path: Path, how: str) -> tuple[float, float]:
    stop = asyncio.Event()
    task = asyncio.create_task(probe(stop))
    await asyncio.sleep(0.02)  # the probe is sleeping when the load starts
    start = time.perf_counter()
    if how == "thread":
        await asyncio.to_thread(lambda: load_library(load_config(config_path)))
    elif how == "loop":
        load_library(load_config(config_path))
        await asyncio.sleep(0.01)  # let the probe wake and see how late it is
    else:
        await asyncio.sleep(2.0)
    took = time.perf_counter() - start
    stop.set()
    return await task, took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--contacts", type=int, default=10_000)
    ap.add_argument("--playbooks", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows: dict[str, list[tuple[float, float]]] = {"idle": [], "thread": [], "loop": []}
    with tempfile.TemporaryDirectory(prefix="crisisd-reload-") as tmp:
        config = Province(Path(tmp), args.contacts, args.playbooks).build()
        for _ in range(args.runs):
            for how in rows:
                rows[how].append(asyncio.run(measure(config, how)))
    table = {
        how: {
            "stall_ms": statistics.median(s for s, _ in runs),
            "load_s": statistics.median(t for _, t in runs),
        }
        for how, runs in rows.items()
    }
    if args.json:
        print(json.dumps({"reload": table, "target_stall_ms": TARGET_MS}))
        return
    print(f"reload of {args.playbooks} playbooks, {args.contacts} contacts (median of {args.runs})")
    print(f"{'how':<28}{'longest loop stall':>20}{'load time':>12}")
    names = {
        "idle": "probe alone (floor)",
        "thread": "reload in a worker thread",
        "loop": "reload on the loop (before)",
    }
    for how, row in table.items():
        print(f"{names[how]:<28}{row['stall_ms']:>17.1f} ms{row['load_s']:>10.2f} s")
    verdict = "met" if table["thread"]["stall_ms"] < TARGET_MS else "MISSED"
    print(f"target: stall < {TARGET_MS:.0f} ms in a thread, no fan-out running — {verdict}")


if __name__ == "__main__":
    main()
