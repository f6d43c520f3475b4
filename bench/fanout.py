"""Fan-out benchmark: one incident to 10,000 people over Bale, SMS and email, through real channels.

The real pipeline (IncidentService.open -> SQLite store -> Dispatcher -> the channels
``build_channels`` makes) talks over loopback to the sandbox fakes, which run in a process
of their own (``bench.sandbox_proc``) so they do not share this CPU. Measured in one run:

(a) crisisd messages/s from ``open`` returning to all recorded as sent (limits off);
(b) the loopback limit: bare aiohttp/aiosmtplib clients sending the same messages to the
    same fakes with the same concurrency; (c) the ratio of the two;
(d) ``open`` -> delivery per channel, from the fakes' own acceptance times;
(e) peak RSS of this process from its start to the fan-out's last message recorded as sent
    (imports, the library, open, the fan-out); the bench's own checks afterwards (every
    message row read back, the fakes' delivery lists, the raw client's requests) are
    printed apart as the whole process's peak;
(f) with Telegram's limits on (30/s, 1/s per chat): 429s counted by the fake and the
    rate achieved.

Prints a table (or one JSON object with --json). Run by hand; never part of the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import logging
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import aiosmtplib
import structlog

from crisisd.channels.base import OutboundMessage
from crisisd.channels.email import build_message
from crisisd.channels.registry import build_channels
from crisisd.channels.sms.gateway import localid_for, national_mobile
from crisisd.config import Config, EmailFrom, Messenger, Rate, Sms, SmsGateway
from crisisd.delivery.dispatcher import Dispatcher
from crisisd.domain import IncidentReport, channel_kind
from crisisd.incidents import IncidentService
from crisisd.library.loader import load_library
from crisisd.library.model import Library
from crisisd.sandbox.runner import SMS_KEYS, point_config, sandbox_token
from crisisd.store import MessageRow, Store
from crisisd.store.engine import normalize_url
from tests.minitree import make_tree

if TYPE_CHECKING:
    pass

ROOT = Path(__file__).resolve().parents[1]
CHANNELS = ("email", "sms", "bale")  # contact i is reachable only on CHANNELS[i % 3]
FAST = Rate(global_per_second=1e6, per_chat_per_second=1e6)
TELEGRAM = Rate(global_per_second=30.0, per_chat_per_second=1.0)


# -- the tree and the config ------------------------------------------------------------------


def contact_yaml(i: int, only: str) -> str:
    how = {
        "email": f"email: w{i}@example.com",
        "sms": f'phone: "0912{i:07d}"',
        "bale": f"chats: {{bale: {10_000 + i}}}",
    }[only]
    return f"  w{i}:\n    name: {{fa: کارگر {i}, en: Worker {i}}}\n    {how}\n"


def fanout_tree(root: Path, members: int, only: str | None = None) -> Config:
    """The mini tree plus ``members`` contacts, audience ``everyone``, severity ``minor``
    (one step: everyone on [bale, sms, email]) and ``probe`` (w0, w1, w2: one per channel)."""
    config = make_tree(root)
    d = root / "playbooks" / "directory.yaml"
    contacts = "".join(contact_yaml(i, only or CHANNELS[i % 3]) for i in range(members))
    d.write_text(d.read_text(encoding="utf-8") + contacts, encoding="utf-8")
    pb = root / "playbooks" / "mini.yaml"
    everyone = ", ".join(f"w{i}" for i in range(members))
    step = "steps:\n          - {audience: %s, template: alert, channels: [bale, sms, email]}\n"
    text = pb.read_text(encoding="utf-8")
    text = text.replace(
        "  management:\n",
        f"  everyone:\n    members: [{everyone}]\n  probe:\n    members: [w0, w1, w2]\n"
        "  management:\n",
        1,
    )
    text = text.replace(
        "      major:\n",
        f"      minor:\n        {step % 'everyone'}      probe:\n        {step % 'probe'}"
        "      major:\n",
        1,
    )
    pb.write_text(text, encoding="utf-8")
    return config


def bench_config(base: Config, rate: Rate) -> Config:
    """Messengers at ``rate``; SMS gateways and (with ``FAST``) email unpaced: the gateways'
    own limiters must not be what is measured."""
    fast = 1e6
    gateways = [
        SmsGateway(name="kavenegar", provider="kavenegar", sender="10008663", rate_per_second=fast),
        SmsGateway(name="ghasedak", provider="ghasedak", sender="30005088", rate_per_second=fast),
    ]
    return base.model_copy(
        update={
            "messengers": [
                Messenger(name="bale", base_url="https://tapi.bale.ai/bot", rate=rate),
                Messenger(name="telegram", rate=rate),
            ],
            "sms": Sms(gateways=gateways),
            "smtp": base.smtp.model_copy(
                update={"rate_per_second": fast if rate == FAST else base.smtp.rate_per_second}
            ),
        }
    )


# -- the sandbox in a child process -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Url:
    url: str


@dataclass(frozen=True, slots=True)
class RemoteSandbox:
    """Where the fakes in the child process listen."""

    host: str
    botapi_urls: dict[str, str]
    sms: _Url
    smtp_port: int
    control_url: str
    smtp: bool = True  # build_channels only asks whether there is one


async def _stop(proc: asyncio.subprocess.Process) -> None:
    """Close stdin (the child's cue to stop), then SIGTERM, then SIGKILL; each bounded."""
    if proc.stdin is not None:
        proc.stdin.close()
    for escalate in (proc.terminate, proc.kill):
        try:
            await asyncio.wait_for(proc.wait(), 5.0)
            return
        except TimeoutError:
            if proc.returncode is None:
                escalate()
    await asyncio.wait_for(proc.wait(), 5.0)


@asynccontextmanager
async def sandbox_child(config: Config, tmp: Path, enforce: bool) -> AsyncIterator[RemoteSandbox]:
    path = tmp / f"sandbox-{'limited' if enforce else 'open'}.json"
    path.write_text(config.model_dump_json(by_alias=True), encoding="utf-8")
    flag = "--enforce-limits" if enforce else "--no-enforce-limits"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.sandbox_proc", "--config", str(path), flag,
        "--max-seconds", "1800", cwd=ROOT, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 120.0)
        if not line:
            raise RuntimeError(f"the sandbox process exited ({await proc.wait()}) before ready")
        ready = json.loads(line)
        yield RemoteSandbox(
            ready["host"], ready["botapi_urls"], _Url(ready["sms_url"]), ready["smtp_port"],
            ready["control_url"],
        )  # fmt: skip
    finally:
        await _stop(proc)


async def control(remote: RemoteSandbox, path: str) -> Any:
    async with aiohttp.ClientSession() as http, http.get(remote.control_url + path) as resp:
        resp.raise_for_status()
        return await resp.json()


async def deliveries(remote: RemoteSandbox, since: int) -> list[tuple[int, str, str, float]]:
    items = (await control(remote, f"/deliveries?since={since}"))["items"]
    return [(int(i), str(c), str(to), float(at)) for i, c, to, at in items]


# -- the crisisd pipeline ---------------------------------------------------------------------


@dataclass(slots=True)
class Pipeline:
    store: Store
    service: IncidentService
    dispatcher: Dispatcher
    workers: dict[str, int]  # channel -> sends in flight at once (the raw run matches it)

    async def open(self, severity: str, key: str) -> tuple[str, int, float]:
        """Open an incident and wake the dispatcher; (id, messages, wall time accepted)."""
        report = IncidentReport("mini", "fire", severity, "officer.a", idempotency_key=key)
        opened = await self.service.open(report)
        accepted = time.time()
        self.dispatcher.kick()
        return opened.incident_id, opened.messages, accepted

    async def all_sent(self, total: int, deadline: float) -> None:
        """Wait (bounded) until ``total`` messages are sent, then until they are recorded."""
        loop = asyncio.get_running_loop()
        end = loop.time() + deadline
        while self.dispatcher.sent_count < total:
            if loop.time() > end:
                raise TimeoutError(f"only {self.dispatcher.sent_count}/{total} sent in {deadline}s")
            await asyncio.sleep(0.002)
        await self.dispatcher.flush()


@asynccontextmanager
async def pipeline(
    lib: Library, remote: RemoteSandbox, tmp: Path, *, unpaced: bool
) -> AsyncIterator[Pipeline]:
    store = Store(normalize_url(f"sqlite:///{tmp / 'fanout.sqlite3'}"))
    await store.start()
    # The fakes live in the child process: point the config at their addresses.
    channels = build_channels(
        point_config(
            lib.config,
            host=remote.host,
            botapi_urls=remote.botapi_urls,
            sms_url=remote.sms.url,
            smtp_port=remote.smtp_port,
        )
    )
    if unpaced:  # the config lifts email's pace too (smtp.rate_per_second); make sure of it
        assert channels["email"].limits.rate_per_second >= 1e6

    def address(msg: MessageRow, channel: str) -> str | None:
        return lib.directory.contacts[msg.recipient].address_for(channel)

    d = Dispatcher(store, channels, address)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(store.aclose)
        for ch in channels.values():
            stack.push_async_callback(ch.aclose)
        stack.push_async_callback(d.drain)
        await d.start()
        workers = {name: ch.limits.concurrency for name, ch in channels.items()}
        yield Pipeline(store, IncidentService(store, lambda: lib), d, workers)


def percentiles(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    p99 = values[max(0, int(len(values) * 0.99) - 1)]
    return {"p50_ms": round(statistics.median(values), 1), "p99_ms": round(p99, 1)}


def per_channel(items: list[tuple[int, str, str, float]], since: float) -> dict[str, Any]:
    """Per channel: first delivery and p50/p99 over recipients, ms after ``since``."""
    first: dict[tuple[str, str], float] = {}
    for _id, channel, to, at in items:  # a duplicate (at-least-once) counts once, first time
        first[(channel, to)] = min(at, first.get((channel, to), at))
    out: dict[str, Any] = {}
    for kind in ("chat", "sms", "email"):
        ms = [(at - since) * 1000 for (c, _to), at in first.items() if c == kind]
        if ms:
            first_ms, last_ms = round(min(ms), 1), round(max(ms), 1)
            out[kind] = {"n": len(ms), "first_ms": first_ms, **percentiles(ms), "last_ms": last_ms}
    return out


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@asynccontextmanager
async def cpu_busy(remote: RemoteSandbox) -> AsyncIterator[dict[str, float]]:
    """How busy each process was (CPU seconds / wall seconds, %) while the block ran."""
    busy: dict[str, float] = {}
    fakes = (await control(remote, "/stats"))["cpu_s"]
    wall, mine = time.perf_counter(), cpu_seconds()
    yield busy
    fakes = (await control(remote, "/stats"))["cpu_s"] - fakes
    wall, mine = time.perf_counter() - wall, cpu_seconds() - mine
    busy.update(bench=round(100 * mine / wall), sandbox=round(100 * fakes / wall))


async def fan_out(p: Pipeline, remote: RemoteSandbox, profile: Path | None) -> dict[str, Any]:
    """(a) and (d): one incident to every contact, open -> all recorded as sent."""
    since = (await control(remote, "/stats"))["inbox"]
    prof = cProfile.Profile() if profile else None
    t0 = time.perf_counter()
    if prof:
        prof.enable()
    incident, total, accepted = await p.open("minor", "fanout")
    t_open = time.perf_counter()
    async with cpu_busy(remote) as busy:
        await p.all_sent(total, deadline=60 + total / 20)
    elapsed = time.perf_counter() - t_open
    peak_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # before checks
    if prof and profile:
        prof.disable()
        prof.dump_stats(profile)
    rows = await p.store.messages_of(incident)
    sent = sum(1 for m in rows if m.status == "sent")
    items = await deliveries(remote, since)
    return {
        "incident": incident,
        "messages": total,
        "recorded_sent": sent,
        "delivered": len(items),
        "open_s": round(t_open - t0, 2),
        "seconds": round(elapsed, 2),
        "msgs_per_s": round(total / elapsed),
        "delivery": per_channel(items, accepted),
        "cpu_busy_pct": busy,
        "peak_rss_mb": peak_mb,
    }


async def probes(p: Pipeline, remote: RemoteSandbox, count: int) -> dict[str, Any]:
    """(d) on an idle pipeline: ``count`` incidents of three people (one per channel)."""
    samples: dict[str, list[float]] = {"chat": [], "sms": [], "email": []}
    loop = asyncio.get_running_loop()
    for i in range(count):
        since = (await control(remote, "/stats"))["inbox"]
        _incident, total, accepted = await p.open("probe", f"probe-{i}")
        end = loop.time() + 10
        items: list[tuple[int, str, str, float]] = []
        while len(items) < total and loop.time() < end:
            await asyncio.sleep(0.005)  # the fakes' timestamps are used, not this poll's
            items = await deliveries(remote, since)
        for kind, first in per_channel(items, accepted).items():
            samples[kind].append(first["first_ms"])
        await asyncio.sleep(0.02)
    return {kind: {"n": len(ms), **percentiles(ms)} for kind, ms in samples.items() if ms}


# -- the raw loopback limit -------------------------------------------------------------------


@dataclass(slots=True)
class RawLoad:
    """Ready-made requests: Bot API sendMessage forms (as PTB sends them), Kavenegar forms, mail."""

    remote: RemoteSandbox
    chat: list[dict[str, str]] = field(default_factory=list)
    sms: list[dict[str, str]] = field(default_factory=list)
    email: list[tuple[str, bytes]] = field(default_factory=list)

    def add(self, channel: str, address: str, m: MessageRow) -> None:
        r = m.rendering(channel_kind(channel))
        if channel == "sms":  # a localid of its own: the fake would answer a seen one from memory
            form = {"receptor": national_mobile(address), "message": r.text}
            self.sms.append(form | {"localid": localid_for("raw/" + m.key)})
        elif channel == "email":
            out = OutboundMessage(m.key, channel, address, r.text, m.lang, r.subject, r.html)
            mail = build_message(out, EmailFrom(address="crisisd@example.com"))
            self.email.append((address, mail.as_bytes(policy=mail.policy.clone(linesep="\r\n"))))
        else:
            preview = '{"is_disabled": true}'
            form = {"chat_id": address, "text": r.text, "parse_mode": "HTML"}
            self.chat.append(form | {"link_preview_options": preview})

    def __len__(self) -> int:
        return len(self.chat) + len(self.sms) + len(self.email)


def raw_load(lib: Library, rows: list[MessageRow], remote: RemoteSandbox) -> RawLoad:
    """The very messages crisisd sent, as bare requests to the same fakes."""
    load = RawLoad(remote)
    for m in rows:
        channel = m.sent_channel or m.channel
        address = lib.directory.contacts[m.recipient].address_for(channel)
        assert address is not None
        load.add(channel, address, m)
    return load


async def _post_all(http: aiohttp.ClientSession, url: str, forms: list[dict[str, str]]) -> int:
    ok = 0
    while forms:
        async with http.post(url, data=forms.pop()) as resp:
            await resp.read()
            ok += resp.status == 200
    return ok


async def _mail_all(conn: aiosmtplib.SMTP, mails: list[tuple[str, bytes]]) -> int:
    ok = 0
    while mails:
        to, data = mails.pop()
        refused, _reply = await conn.sendmail("crisisd@example.com", [to], data)
        ok += not refused
    await conn.quit()
    return ok


async def blast(load: RawLoad, workers: dict[str, int]) -> dict[str, Any]:
    """(b): every message at once, same concurrency as crisisd's workers, no pacing."""
    remote, total = load.remote, len(load)
    bot = f"{remote.botapi_urls['bale']}{sandbox_token('bale')}/sendMessage"
    kavenegar = f"{remote.sms.url}/v1/{SMS_KEYS['kavenegar']}/sms/send.json"
    conns = [
        aiosmtplib.SMTP(hostname=remote.host, port=remote.smtp_port)
        for _ in range(workers["email"])
    ]
    for conn in conns:  # persistent connections, opened before the clock starts
        await conn.connect()
    connector = aiohttp.TCPConnector(limit=workers["bale"] + workers["sms"])
    done: dict[str, float] = {}

    async def channel(name: str, jobs: list[Coroutine[Any, Any, int]]) -> int:
        accepted = sum(await asyncio.gather(*jobs))
        done[name] = round(time.perf_counter() - t0, 2)
        return accepted

    async with aiohttp.ClientSession(connector=connector) as http:
        t0 = time.perf_counter()
        ok = await asyncio.gather(
            channel("bale", [_post_all(http, bot, load.chat) for _ in range(workers["bale"])]),
            channel("sms", [_post_all(http, kavenegar, load.sms) for _ in range(workers["sms"])]),
            channel("email", [_mail_all(conn, load.email) for conn in conns]),
        )
        elapsed = time.perf_counter() - t0
    return {
        "messages": total,
        "accepted": sum(ok),
        "seconds": round(elapsed, 2),
        "msgs_per_s": round(total / elapsed),
        "channel_done_s": done,
    }


# -- the runs ---------------------------------------------------------------------------------


async def unlimited(
    tmp: Path, recipients: int, probe_count: int, profile: Path | None
) -> dict[str, Any]:
    lib = load_library(bench_config(fanout_tree(tmp / "tree", recipients), FAST))
    async with sandbox_child(lib.config, tmp, enforce=False) as remote:
        async with pipeline(lib, remote, tmp, unpaced=True) as p:
            crisisd = await fan_out(p, remote, profile)
            crisisd["probes"] = await probes(p, remote, probe_count)
            rows = await p.store.messages_of(crisisd["incident"])
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        crisisd["process_peak_rss_mb"] = round(rss / 1024)  # with the bench's checks
        load = raw_load(lib, [m for m in rows if m.status == "sent"], remote)
        async with cpu_busy(remote) as busy:
            raw = await blast(load, p.workers)
        raw["cpu_busy_pct"] = busy
        crisisd["sandbox_peak_rss_mb"] = (await control(remote, "/stats"))["peak_rss_mb"]
    ratio = round(100 * crisisd["msgs_per_s"] / raw["msgs_per_s"], 1)
    return {"crisisd": crisisd, "raw": raw, "ratio_pct": ratio}


async def limited(tmp: Path, recipients: int) -> dict[str, Any]:
    """(f): Bale only, Telegram's limits in the fake and in the config."""
    lib = load_library(bench_config(fanout_tree(tmp / "tree", recipients, "bale"), TELEGRAM))
    async with sandbox_child(lib.config, tmp, enforce=True) as remote:
        async with pipeline(lib, remote, tmp, unpaced=False) as p:
            _incident, total, _accepted = await p.open("minor", "limited")
            t0 = time.perf_counter()
            await p.all_sent(total, deadline=60 + total / 10)
            elapsed = time.perf_counter() - t0
        stats = (await control(remote, "/stats"))["botapi"]["bale"]
    rate = total / elapsed
    return {
        "messages": total,
        "seconds": round(elapsed, 2),
        "msgs_per_s": round(rate, 2),
        "pct_of_30": round(100 * rate / TELEGRAM.global_per_second, 1),
        "violations": stats["violations"],
        "violations_chat": stats["violations_chat"],
        "violations_global": stats["violations_global"],
    }


# -- output -----------------------------------------------------------------------------------


NAMES = (("chat", "bale"), ("sms", "sms"), ("email", "email"))


def table(r: dict[str, Any]) -> list[tuple[str, str, str]]:
    c, raw, lim = r["unlimited"]["crisisd"], r["unlimited"]["raw"], r["limited"]
    ends = ", ".join(f"{n} {c['delivery'][k]['last_ms'] / 1000:.1f}" for k, n in NAMES)
    raw_ends = ", ".join(f"{n} {s}" for n, s in raw["channel_done_s"].items())
    cpu = [f"{x['bench']} % / {x['sandbox']} %" for x in (c["cpu_busy_pct"], raw["cpu_busy_pct"])]
    a = f"{c['msgs_per_s']} msg/s in {c['seconds']} s (last delivery s: {ends})"
    b = f"{raw['msgs_per_s']} msg/s in {raw['seconds']} s (done s: {raw_ends})"
    rows = [
        (f"(a) crisisd open -> all recorded sent, {c['messages']} msgs", a, ""),
        ("    open() itself: plan + commit", f"{c['open_s']} s", ""),
        (f"(b) raw loopback, {raw['messages']} msgs", b, ""),
        ("(c) crisisd / raw", f"{r['unlimited']['ratio_pct']} %", ">= 80 %"),
        ("    CPU busy, this process / sandbox process", f"(a) {cpu[0]}; (b) {cpu[1]}", ""),
    ]
    for k, n in NAMES:
        pr = c["probes"][k]
        name = f"(d) open -> first {n} delivery, p50 / p99 of {pr['n']} incidents"
        rows.append((name, f"{pr['p50_ms']} / {pr['p99_ms']} ms", ""))
    for k, n in NAMES:
        d = c["delivery"][k]
        name = f"(d) fan-out {n}: first / p50 / p99 of {d['n']} recipients"
        rows.append((name, f"{d['first_ms']} / {d['p50_ms']} / {d['p99_ms']} ms", ""))
    rss = (
        f"{c['peak_rss_mb']} MB (with the bench's checks after it {c['process_peak_rss_mb']} MB;"
        f" sandbox process {c['sandbox_peak_rss_mb']} MB)"
    )
    rate = f"{lim['msgs_per_s']}/s = {lim['pct_of_30']} % in {lim['seconds']} s"
    return [
        *rows,
        ("(e) peak RSS, crisisd process, start -> all sent", rss, "< 150 MB"),
        (f"(f) limits on, {lim['messages']} Bale msgs: 429s", str(lim["violations"]), "0"),
        ("(f) achieved rate vs 30/s", rate, ">= 90 %"),
    ]


def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipients", type=int, default=10_000)
    ap.add_argument("--limited-recipients", type=int, default=600)
    ap.add_argument("--probes", type=int, default=50, help="small incidents for open -> first send")
    ap.add_argument("--quick", action="store_true", help="2,000 / 150 recipients, 20 probes")
    ap.add_argument("--profile", type=Path, help="cProfile the crisisd fan-out into this file")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.recipients, args.limited_recipients, args.probes = 2_000, 150, 20
    if args.recipients < 3 or args.limited_recipients < 1 or args.probes < 1:
        ap.error("need at least 3 recipients (one per channel), 1 limited recipient, 1 probe")
    with tempfile.TemporaryDirectory(prefix="crisisd-fanout-") as tmp:
        (Path(tmp) / "open").mkdir()
        (Path(tmp) / "limited").mkdir()
        result = {
            "unlimited": asyncio.run(
                unlimited(Path(tmp) / "open", args.recipients, args.probes, args.profile)
            ),
            "limited": asyncio.run(limited(Path(tmp) / "limited", args.limited_recipients)),
        }
    if args.json:
        print(json.dumps({"fanout": result}))
        return
    rows = table(result)
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    print(" | ".join(h.ljust(w) for h, w in zip(("measurement", "value", "target"), widths, strict=True)))  # fmt: skip
    for row in rows:
        print(" | ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
