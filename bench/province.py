"""A province-sized directory: load, open a province-wide incident, fan it out.

bench/provincegen.py writes a fictional province (``--contacts`` people, ``--playbooks``
playbooks, one of them the governor's office working group telling everyone of an
earthquake). Each measurement runs in a fresh child process, so its RSS is its own:

* load: ``load_library`` (parsing, models, every check and test render) — time, peak RSS;
* open: the earthquake incident to every contact committed to a SQLite store — time;
* fan-out: the dispatcher working the whole outbox off to no-op channels — RSS sampled
  every 50 ms while it runs, and messages/s.

Each figure is printed beside its target; medians of ``--runs``. Never part of the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from bench.provincegen import HQ, ROOT, Province
from bench.tally import Figure, emit, figure, peak_rss_mb, rss_mb


def child_load(config: Path) -> dict[str, float]:
    from crisisd.config import load_config
    from crisisd.library.loader import load_library

    t0 = time.perf_counter()
    lib = load_library(load_config(config))
    seconds = time.perf_counter() - t0
    return {
        "load_s": seconds,
        "contacts": len(lib.directory.contacts),
        "playbooks": len(lib.playbooks),
        "peak_rss_mb": peak_rss_mb(),
    }


async def child_open(config: Path) -> dict[str, float]:
    from bench.core import NoOp
    from crisisd.config import load_config
    from crisisd.delivery.dispatcher import Dispatcher
    from crisisd.domain import IncidentReport
    from crisisd.incidents import IncidentService
    from crisisd.library.loader import load_library
    from crisisd.store import MessageRow, Store
    from crisisd.store.engine import normalize_url

    lib = load_library(load_config(config))
    loaded = rss_mb()
    store = Store(normalize_url(f"sqlite:///{config.parent / 'province.sqlite3'}"))
    await store.start()
    service = IncidentService(store, lambda: lib)
    report = IncidentReport(HQ, "earthquake", "major", f"{HQ}.officer", details="زلزلهٔ ۵٫۲ ریشتری")
    t0 = time.perf_counter()
    opened = await service.open(report)
    open_s = time.perf_counter() - t0
    after_open = rss_mb()
    channels = {name: NoOp(name) for name in ("bale", "telegram", "sms", "email")}

    def address(msg: MessageRow, channel: str) -> str:
        return msg.recipient

    d = Dispatcher(
        store,
        channels,  # type: ignore[arg-type]
        address,
        lease=timedelta(minutes=5),
        clock=lambda: datetime.now(UTC) + timedelta(hours=1),
    )
    peak = [rss_mb()]

    async def sample() -> None:
        while True:
            peak[0] = max(peak[0], rss_mb())
            await asyncio.sleep(0.05)

    sampler = asyncio.create_task(sample())
    t1 = time.perf_counter()
    await d.start()
    while d.sent_count < opened.messages:
        await asyncio.sleep(0.05)
    await d.flush()
    fanout_s = time.perf_counter() - t1
    sampler.cancel()
    await d.drain()
    await store.aclose()
    return {
        "messages": opened.messages,
        "open_s": open_s,
        "rss_loaded_mb": loaded,
        "rss_after_open_mb": after_open,
        "fanout_msgs_per_s": opened.messages / fanout_s,
        "fanout_peak_rss_mb": peak[0],
        "process_peak_rss_mb": peak_rss_mb(),
    }


def in_child(what: str, config: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.province", "--child", what, "--config", str(config)],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=1800,
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def figures(runs: list[dict[str, Any]], contacts: int, playbooks: int) -> list[Figure]:
    def col(part: str, key: str) -> list[float]:
        return [float(r[part][key]) for r in runs]

    n = int(runs[0]["open"]["messages"])

    def below(limit: float) -> Callable[[float, float | None], bool]:
        return lambda value, _raw: value < limit

    return [
        figure(f"load {contacts:,} contacts + {playbooks} playbooks (checks incl.)",
               col("load", "load_s"), "s", target="< 10 s", check=below(10)),
        figure("  peak RSS of that load", col("load", "peak_rss_mb"), "MB",
               target="< 300 MB", check=below(300)),
        figure(f"open a {n:,}-recipient incident -> committed", col("open", "open_s"), "s",
               target="< 10 s", check=below(10)),
        figure(f"fan-out of {n:,} messages: peak RSS", col("open", "fanout_peak_rss_mb"), "MB",
               target="< 300 MB", check=below(300),
               note="the process holds the loaded province too: RSS after loading it "
               f"{statistics.median(col('open', 'rss_loaded_mb')):.0f} MB, after the open "
               f"{statistics.median(col('open', 'rss_after_open_mb')):.0f} MB"),
        figure("  fan-out to no-op channels", col("open", "fanout_msgs_per_s"), "msg/s"),
    ]  # fmt: skip


def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--contacts", type=int, default=100_000)
    ap.add_argument("--playbooks", type=int, default=50)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child", choices=["load", "open"], help=argparse.SUPPRESS)
    ap.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        result = (
            child_load(args.config)
            if args.child == "load"
            else asyncio.run(child_open(args.config))
        )
        print(json.dumps(result))
        return
    runs = []
    with tempfile.TemporaryDirectory(prefix="crisisd-province-") as tmp:
        config = Province(Path(tmp), args.contacts, args.playbooks).build()
        for _ in range(args.runs):
            (Path(tmp) / "province.sqlite3").unlink(missing_ok=True)
            runs.append({"load": in_child("load", config), "open": in_child("open", config)})
    emit("province", figures(runs, args.contacts, args.playbooks), runs, args.json)


if __name__ == "__main__":
    main()
