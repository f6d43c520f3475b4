"""Roll-call benchmark: 5,000 staff asked "are you safe?" on the sandbox, and their answers.

The real pipeline (IncidentService.open -> SQLite store -> Dispatcher -> the channels
``build_channels`` makes) talks over loopback to the sandbox fakes in a process of their own
(``bench.sandbox_proc``), as in bench/fanout.py. Measured in one run:

(a) open -> every question handed to the channels (recorded as sent), beside (b) the raw
    loopback rate: bare aiohttp/aiosmtplib clients sending the same questions to the same
    fakes with the same concurrency;
(c) inbound answers processed per second: every person's SMS reply ("۱" or "۲ …") put in
    the fake Kavenegar's inbox, then read through its receive API and recorded by the
    roll call (parse, match the number, store with its audit entry, escalate the calls
    for help), beside (d) the raw loopback rate of reading the same replies with a bare
    client from the same receive API, and (e) the roll call's own rate without HTTP.

Prints a table (or one JSON object with --json). Run by hand; never part of the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import structlog
from pydantic import SecretStr

from bench.fanout import FAST, bench_config, blast, pipeline, raw_load, sandbox_child
from crisisd.channels.sms import SmsChannel
from crisisd.channels.sms.gateway import HttpGateway
from crisisd.channels.sms.inbound import Received, receive
from crisisd.config import Config, SmsGateway
from crisisd.domain import Purpose
from crisisd.library.loader import load_library
from crisisd.rollcall.service import Incoming, RollCalls
from crisisd.sandbox.runner import SMS_KEYS
from tests.minitree import make_tree

CHANNELS = ("email", "sms", "bale")


def rollcall_tree(root: Path, members: int) -> Config:
    """The mini tree plus ``members`` staff, each with a phone and one first channel, asked
    in severity ``minor`` (a roll call only, on [bale, email, sms])."""
    config = make_tree(root)
    d = root / "playbooks" / "directory.yaml"
    lines = []
    for i in range(members):
        how = {
            "email": f"email: w{i}@example.com",
            "sms": "",
            "bale": f"chats: {{bale: {10_000 + i}}}",
        }
        extra = how[CHANNELS[i % 3]]
        lines.append(
            f"  w{i}:\n    name: {{fa: کارگر {i}, en: Worker {i}}}\n"
            f'    phone: "0912{i:07d}"\n' + (f"    {extra}\n" if extra else "")
        )
    d.write_text(d.read_text(encoding="utf-8") + "".join(lines), encoding="utf-8")
    pb = root / "playbooks" / "mini.yaml"
    everyone = ", ".join(f"w{i}" for i in range(members))
    text = pb.read_text(encoding="utf-8")
    text = text.replace(
        "  management:\n", f"  staff:\n    members: [{everyone}]\n  management:\n", 1
    )
    step = "          - {roll_call: staff, channels: [bale, email, sms], within: 10m}\n"
    text = text.replace("      major:\n", f"      minor:\n        steps:\n{step}      major:\n", 1)
    pb.write_text(text, encoding="utf-8")
    return config


async def put_replies(sms_url: str, members: int) -> None:
    """Every person's reply in the fake's inbox (not timed); one in ten needs help."""
    url = f"{sms_url}/_control/inbound/kavenegar"
    async with aiohttp.ClientSession() as http:
        for start in range(0, members, 200):
            jobs = []
            for i in range(start, min(members, start + 200)):
                text = "۲ سالن ۳" if i % 10 == 0 else "۱"
                jobs.append(http.post(url, json={"from": f"0912{i:07d}", "text": text}))
            for resp in await asyncio.gather(*jobs):
                resp.raise_for_status()
                resp.release()


async def raw_inbox(sms_url: str) -> int:
    """Read the inbox empty with a bare client: the loopback limit of (c)."""
    url = f"{sms_url}/v1/{SMS_KEYS['kavenegar']}/sms/receive.json"
    read = 0
    async with aiohttp.ClientSession() as http:
        while True:
            async with http.get(url, params={"linenumber": "10008663", "isread": "0"}) as resp:
                entries = (await resp.json())["entries"]
            read += len(entries)
            if len(entries) < 100:
                return read


async def run(tmp: Path, members: int) -> dict[str, Any]:
    lib = load_library(bench_config(rollcall_tree(tmp / "tree", members), FAST))
    out: dict[str, Any] = {"members": members}
    async with (
        sandbox_child(lib.config, tmp, enforce=False) as remote,
        pipeline(lib, remote, tmp, unpaced=True) as p,
    ):
        t0 = time.perf_counter()
        incident, total, _accepted = await p.open("minor", "rollcall")
        t_open = time.perf_counter()
        await p.all_sent(total, deadline=60 + total / 20)
        elapsed = time.perf_counter() - t0
        rows = await p.store.messages_of(incident)
        asked = [m for m in rows if m.purpose is Purpose.ROLL_CALL and m.status == "sent"]
        out["ask"] = {
            "questions": len(asked),
            "open_s": round(t_open - t0, 2),
            "seconds": round(elapsed, 2),
            "per_s": round(len(asked) / elapsed),
        }
        raw = await blast(raw_load(lib, asked, remote), p.workers)
        out["ask_raw"] = {"seconds": raw["seconds"], "per_s": raw["msgs_per_s"]}
        out["answer"] = await _answers(p.service, remote.sms.url, members)
        await put_replies(remote.sms.url, members)
        t = time.perf_counter()
        read = await raw_inbox(remote.sms.url)
        out["answer_raw"] = {"read": read, "per_s": round(read / (time.perf_counter() - t))}
        count = (await RollCalls(p.service).headcount(incident)).total
        out["headcount"] = {
            "safe": count.safe,
            "help": count.help,
            "no_answer": count.no_answer,
        }
        out["direct"] = await _direct(p.service, members)
    return out


async def _answers(service: Any, sms_url: str, members: int) -> dict[str, Any]:

    await put_replies(sms_url, members)
    cfg = SmsGateway(
        name="kavenegar",
        provider="kavenegar",
        sender="10008663",
        api_key=SecretStr(SMS_KEYS["kavenegar"]),
        rate_per_second=1e6,
    )
    channel = SmsChannel([cfg], base_urls={"kavenegar": sms_url})
    calls = RollCalls(service)
    done = 0
    t0 = time.perf_counter()
    try:
        gw = channel.gateways[0]
        assert isinstance(gw, HttpGateway)
        while True:
            inbox = await receive(gw)
            page = [
                Incoming(g.sender, g.text, "sms:kavenegar", gw.name, g.id) for g in inbox.received
            ]
            done += len(await calls.answer_many(page))
            if not inbox.received:
                break
    finally:
        await channel.aclose()
    elapsed = time.perf_counter() - t0
    return {"answers": done, "seconds": round(elapsed, 2), "per_s": round(done / elapsed)}


async def _direct(service: Any, members: int) -> dict[str, Any]:
    """(e) the same answers straight to the roll call (a second time: recorded again)."""
    calls = RollCalls(service)
    replies = [Received("bench", f"direct-{i}", f"+98912{i:07d}", "۱") for i in range(members)]
    t0 = time.perf_counter()
    for r in replies:
        await calls.answer_sms(r.sender, r.text, "sms:bench", r.gateway, r.id)
    elapsed = time.perf_counter() - t0
    return {"answers": members, "per_s": round(members / elapsed)}


def table(r: dict[str, Any]) -> list[tuple[str, str]]:
    a, ar, c, cr, d = r["ask"], r["ask_raw"], r["answer"], r["answer_raw"], r["direct"]
    return [
        (
            f"(a) open -> {a['questions']} questions handed to channels",
            f"{a['seconds']} s, {a['per_s']} msg/s (open() {a['open_s']} s)",
        ),
        ("(b) raw loopback, the same questions", f"{ar['seconds']} s, {ar['per_s']} msg/s"),
        (
            f"(c) inbound answers processed (receive API -> recorded), {c['answers']}",
            f"{c['seconds']} s, {c['per_s']} answers/s",
        ),
        ("(d) raw loopback, reading the same replies", f"{cr['per_s']} replies/s"),
        ("(e) the roll call alone (no HTTP), per answer", f"{d['per_s']} answers/s"),
        ("    headcount after", json.dumps(r["headcount"])),
    ]


def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=5_000)
    ap.add_argument("--quick", action="store_true", help="600 staff")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    members = 600 if args.quick else args.members
    with tempfile.TemporaryDirectory(prefix="crisisd-rollcall-") as tmp:
        result = asyncio.run(run(Path(tmp), members))
    if args.json:
        print(json.dumps({"rollcall": result}))
        return
    rows = table(result)
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k.ljust(width)} | {v}")


if __name__ == "__main__":
    main()
