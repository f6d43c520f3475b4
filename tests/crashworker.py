"""A daemon-like process for the crash test: open incidents once, then drain the outbox.

Run as ``python -m tests.crashworker TREE STORE_URL OUT_FILE INCIDENTS``.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from crisisd.channels.console import ConsoleChannel
from crisisd.delivery.dispatcher import Dispatcher
from crisisd.domain import IncidentReport
from crisisd.incidents import IncidentService
from crisisd.library.loader import load_library
from crisisd.store import MessageRow, Store
from tests.minitree import make_tree

SHIFT = timedelta(hours=1)  # makes the delayed press step due at once


async def main(tree: Path, url: str, out: Path, count: int) -> None:
    library = load_library(make_tree(tree))
    store = Store(url)
    await store.start()
    svc = IncidentService(store, lambda: library)
    for i in range(count):  # idempotent: a restart re-opens nothing
        await svc.open(
            IncidentReport(
                "mini", "fire", "major", "officer.a", details=f"#{i}", idempotency_key=f"crash-{i}"
            )
        )
    print("opened", flush=True)
    channels = {n: ConsoleChannel(n, out) for n in ("bale", "sms", "email")}

    def address(msg: MessageRow, channel: str) -> str:
        return f"{msg.recipient}@{channel}"

    d = Dispatcher(
        store,
        dict(channels),
        address,
        lease=timedelta(seconds=2),
        batch=50,
        clock=lambda: datetime.now(UTC) + SHIFT,
    )
    await d.start()
    while True:
        depth = await store.queue_depth()
        if depth.get("pending", 0) == 0 and depth.get("sending", 0) == 0:
            break
        await asyncio.sleep(0.1)
    await d.drain()
    await store.aclose()
    print("done", flush=True)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])))
