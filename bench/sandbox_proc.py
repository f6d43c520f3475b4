"""The sandbox fakes in a process of their own, for benchmarks that must not share a CPU with them.

``python -m bench.sandbox_proc --config FILE`` starts every fake the config (a
``Config`` as JSON) needs, makes every chat id of its directory a known user, prints
one ready line to stdout and serves until stdin closes, SIGTERM, or ``--max-seconds``::

    {"host": …, "botapi_urls": {…}, "sms_url": …, "smtp_port": …, "inbox_url": …,
     "control_url": …}

The control app at ``control_url`` answers ``GET /stats`` (Bot API stats with the
flood-control violations, SMS requests, SMTP transactions, the inbox size, this
process's peak RSS and CPU seconds) and ``GET /deliveries?since=ID`` (``[id, channel,
to, at]`` of every inbox item after ``since``, ``at`` being the fake's wall clock when
it accepted the message).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import resource
import signal
import sys
from pathlib import Path

import structlog
from aiohttp import web

from crisisd.config import Config
from crisisd.library.loader import load_library
from crisisd.sandbox.runner import Sandbox, start_sandbox

SANDBOX = web.AppKey("sandbox", Sandbox)


async def _stats(request: web.Request) -> web.Response:
    sb = request.app[SANDBOX]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return web.json_response(
        {
            "botapi": {name: state.stats.as_dict() for name, state in sb.botapi.items()},
            "sms_requests": dict(sb.sms.state.requests) if sb.sms else {},
            "sms_sent": len(sb.sms.state.sent) if sb.sms else 0,
            "smtp_received": len(sb.smtp.received) if sb.smtp else 0,
            "inbox": len(sb.inbox),
            "peak_rss_mb": round(usage.ru_maxrss / 1024),
            "cpu_s": usage.ru_utime + usage.ru_stime,
        }
    )


async def _deliveries(request: web.Request) -> web.Response:
    since = int(request.query.get("since", "0"))
    items = [[d.id, d.channel, d.to, d.at] for d in request.app[SANDBOX].inbox if d.id > since]
    return web.json_response({"items": items})


async def _stdin_closed() -> None:
    """Return when the parent closes our stdin (or dies, which closes it too)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while await reader.read(4096):
        pass


async def serve(config: Config, base_port: int, enforce_limits: bool, max_seconds: float) -> None:
    directory = load_library(config).directory
    sb = await start_sandbox(config, base_port=base_port, enforce_limits=enforce_limits)
    runner: web.AppRunner | None = None
    try:
        sb.seed(directory)
        app = web.Application()
        app[SANDBOX] = sb
        app.router.add_get("/stats", _stats)
        app.router.add_get("/deliveries", _deliveries)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, sb.host, 0).start()
        control_port = int(runner.addresses[0][1])
        ready = {
            "host": sb.host,
            "botapi_urls": sb.botapi_urls,
            "sms_url": sb.sms.url if sb.sms else "",
            "smtp_port": sb.smtp_port,
            "inbox_url": sb.inbox_url,
            "control_url": f"http://{sb.host}:{control_port}",
        }
        print(json.dumps(ready), flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(_stdin_closed())]
        _done, pending = await asyncio.wait(
            waiters, timeout=max_seconds, return_when=asyncio.FIRST_COMPLETED
        )
        for task in pending:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    finally:
        if runner is not None:
            await runner.cleanup()
        await sb.aclose()


def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    logging.basicConfig(level=logging.WARNING)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, required=True, help="a crisisd Config as JSON")
    ap.add_argument("--base-port", type=int, default=0, help="0: any free ports")
    ap.add_argument("--enforce-limits", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--max-seconds", type=float, default=3600.0, help="stop by itself after this")
    args = ap.parse_args()
    config = Config.model_validate_json(args.config.read_text(encoding="utf-8"))
    asyncio.run(serve(config, args.base_port, args.enforce_limits, args.max_seconds))


if __name__ == "__main__":
    main()
