"""Time to tell a whole factory, with the providers' published limits on, against their floor.

A factory of ``--people`` (2,000) is told of an incident, each person reachable on one of
Bale, SMS and email (a third each, as in bench/fanout.py), through the real pipeline
(IncidentService.open -> SQLite store -> Dispatcher -> the channels) and the sandbox fakes
in a process of their own, with the limits a production config has:

* Bale: 30 messages/s per bot and 1 per chat (Telegram's published limits, which Bale
  follows); the fake enforces them and counts every message that breaks them (a 429);
* SMS: Kavenegar at crisisd's default 5 requests/s per gateway (Kavenegar publishes no
  number; its 451 "too many calls" counts calls), 200 numbers per ``sendarray`` request
  (its documented maximum);
* email: the shipped ``smtp.rate_per_second`` (100/s, a relay on the same network).

The floor is what those limits allow when every channel runs at its limit from the first
moment: per channel ``(requests - 1) / rate`` (requests: one per Bale or email message, one
per 200 SMS), and for the factory the slowest channel. Printed beside crisisd's time from
``open`` returning to the last delivery the fakes accepted.

Then SMS alone: ``--sms`` numbers in bulk requests, and ``--one-by-one`` numbers sent one
request each (Kavenegar without a sender line, for which crisisd cannot use sendarray),
both at 5 requests/s: each rate beside the rate its limit allows.

Medians of ``--runs`` runs (3); a table, or one JSON object with ``--json``. Run by hand or
with ``make bench``; never part of the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import structlog

from bench.fanout import (
    TELEGRAM,
    control,
    deliveries,
    fanout_tree,
    per_channel,
    pipeline,
    sandbox_child,
)
from bench.tally import Figure, emit, figure, ratio_figure
from crisisd.channels.sms.kavenegar import SENDARRAY_MAX
from crisisd.config import Config, Messenger, Sms, SmsGateway
from crisisd.library.loader import load_library

SMS_RATE = 5.0  # requests/s per gateway: crisisd's default (SmsGateway.rate_per_second)
KINDS = (("chat", "bale"), ("sms", "sms"), ("email", "email"))


def factory_config(base: Config, *, bulk: bool) -> Config:
    """Production limits: Bale and Telegram at 30/s and 1/s per chat, one Kavenegar gateway
    at 5 requests/s (with a sender line: sendarray; without: one request per SMS)."""
    gateway = SmsGateway(
        name="kavenegar",
        provider="kavenegar",
        sender="10008663" if bulk else None,
        rate_per_second=SMS_RATE,
    )
    messengers = [
        Messenger(name="bale", base_url="https://tapi.bale.ai/bot", rate=TELEGRAM),
        Messenger(name="telegram", rate=TELEGRAM),
    ]
    return base.model_copy(update={"messengers": messengers, "sms": Sms(gateways=[gateway])})


def floors(counts: dict[str, int], config: Config, bulk: int) -> dict[str, float]:
    """Seconds the limits allow per channel kind, when each sends at its limit from t=0."""
    rates = {"chat": TELEGRAM.global_per_second, "sms": SMS_RATE}
    rates["email"] = config.smtp.rate_per_second
    requests = dict(counts)
    if "sms" in requests:
        requests["sms"] = math.ceil(requests["sms"] / bulk)
    return {k: max(0, n - 1) / rates[k] for k, n in requests.items() if n}


async def tell(tmp: Path, people: int, only: str | None, bulk: bool) -> dict[str, Any]:
    """Open one incident to ``people`` (on every channel, or ``only`` one) and time it."""
    config = factory_config(fanout_tree(tmp / "tree", people, only), bulk=bulk)
    lib = load_library(config)
    async with sandbox_child(lib.config, tmp, enforce=True) as remote:
        async with pipeline(lib, remote, tmp, unpaced=False) as p:
            since = (await control(remote, "/stats"))["inbox"]
            _incident, total, accepted = await p.open("minor", f"tell-{only}-{bulk}")
            t0 = time.perf_counter()
            await p.all_sent(total, deadline=120 + total / SMS_RATE)
            elapsed = time.perf_counter() - t0
        stats = await control(remote, "/stats")
        items = await deliveries(remote, since)
    delivery = per_channel(items, accepted)
    counts = {kind: d["n"] for kind, d in delivery.items()}
    floor = floors(counts, lib.config, SENDARRAY_MAX if bulk else 1)
    last = {kind: d["last_ms"] / 1000 for kind, d in delivery.items()}
    return {
        "messages": total,
        "seconds": round(max(last.values(), default=elapsed), 3),
        "recorded_s": round(elapsed, 3),
        "floor_s": round(max(floor.values(), default=0.0), 3),
        "last_s": last,
        "floor_by_channel_s": {k: round(v, 3) for k, v in floor.items()},
        "counts": counts,
        "sms_requests": stats["sms_requests"].get("kavenegar", 0),
        "bale_429s": stats["botapi"].get("bale", {}).get("violations", 0),
        "bale_429s_global": stats["botapi"].get("bale", {}).get("violations_global", 0),
        "bale_429s_chat": stats["botapi"].get("bale", {}).get("violations_chat", 0),
    }


def one_run(people: int, sms: int, one_by_one: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="crisisd-tell-") as tmp:
        for name, count, only, bulk in (
            ("factory", people, None, True),
            ("sms_bulk", sms, "sms", True),
            ("sms_one_by_one", one_by_one, "sms", False),
        ):
            (Path(tmp) / name).mkdir()
            out[name] = asyncio.run(tell(Path(tmp) / name, count, only, bulk))
    for name in ("sms_bulk", "sms_one_by_one"):
        r = out[name]
        r["msgs_per_s"] = round(r["messages"] / r["seconds"], 2) if r["seconds"] else 0.0
        floor = r["floor_s"]
        r["floor_msgs_per_s"] = round(r["messages"] / floor, 2) if floor else 0.0
    return out


def figures(runs: list[dict[str, Any]], people: int) -> list[Figure]:
    def col(*path: str) -> list[float]:
        out = []
        for r in runs:
            v: Any = r
            for p in path:
                v = v[p]
            out.append(float(v))
        return out

    f, sms, one = runs[0]["factory"], runs[0]["sms_bulk"], runs[0]["sms_one_by_one"]
    split = ", ".join(f"{name} {f['counts'].get(kind, 0)}" for kind, name in KINDS)
    out = [
        figure(
            f"tell {people:,} people (Bale + SMS + email): open -> last delivery",
            col("factory", "seconds"),
            "s",
            raw=col("factory", "floor_s"),
            note=f"raw: the floor the limits allow; people by channel: {split}",
        ),
        ratio_figure(
            "factory: crisisd seconds / floor seconds",
            col("factory", "seconds"),
            col("factory", "floor_s"),
            1.2,
            lower_is_better=True,
        ),
    ]
    for kind, name in KINDS:
        if kind in f["last_s"]:
            out.append(
                figure(
                    f"factory: last {name} delivery",
                    col("factory", "last_s", kind),
                    "s",
                    raw=col("factory", "floor_by_channel_s", kind),
                )
            )
    out += [
        figure(
            "factory: Bale messages over the limit (429)",
            col("factory", "bale_429s"),
            "",
            target="0",
            check=lambda v, _raw: v == 0,
            note="each is retried after its retry_after: the time above includes those waits; "
            f"per 1 s window / per chat: {col('factory', 'bale_429s_global')} / "
            f"{col('factory', 'bale_429s_chat')}",
        ),
        figure(
            f"SMS alone, {sms['messages']:,} numbers in bulk requests",
            col("sms_bulk", "msgs_per_s"),
            "msg/s",
            raw=col("sms_bulk", "floor_msgs_per_s"),
            note=f"{SENDARRAY_MAX} numbers a request at {SMS_RATE:g} requests/s; "
            f"{int(statistics.median(col('sms_bulk', 'sms_requests')))} requests",
        ),
        figure(
            f"SMS alone, {one['messages']:,} numbers one request each",
            col("sms_one_by_one", "msgs_per_s"),
            "msg/s",
            raw=col("sms_one_by_one", "floor_msgs_per_s"),
        ),
        ratio_figure(
            "SMS: bulk rate / one-by-one rate",
            col("sms_bulk", "msgs_per_s"),
            col("sms_one_by_one", "msgs_per_s"),
            10.0,
            note=f"{people:,} people by SMS one by one at {SMS_RATE:g}/s would take "
            f"{people / SMS_RATE:.0f} s",
        ),
    ]
    return out


def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    logging.basicConfig(level=logging.ERROR)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=2_000)
    ap.add_argument("--sms", type=int, default=2_000, help="numbers in the bulk SMS run")
    ap.add_argument("--one-by-one", type=int, default=100, help="numbers sent one by one")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if min(args.people, args.sms, args.one_by_one) < 3 or args.runs < 1:
        ap.error("need at least 3 people (one per channel), 3 numbers and 1 run")
    runs = [one_run(args.people, args.sms, args.one_by_one) for _ in range(args.runs)]
    emit("tell a factory", figures(runs, args.people), runs, args.json)


if __name__ == "__main__":
    main()
