"""`crisisd demo`: a scripted fire at Shahriar Steel, end to end, watched live.

Before the fire a staff member with no chat id connects to the Bale bot in two taps
(:mod:`.demo_cast`), and the fire's alert reaches them there.

Everything is real except the remote services: the sample playbooks and templates,
a throwaway SQLite store, the incident service, the dispatcher, the channels and the
escalation sweep; the channels talk to the in-process sandbox on 127.0.0.1 (any free
ports). The scenario clock runs ahead of the wall clock so that the ack window and the
delayed press statement pass in seconds; the service, the sweep and the dispatcher all
read that one clock. On a terminal a rich live view shows delivery per audience; off a
terminal the same story is printed as plain lines. The incident report comes last.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

import structlog
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from crisisd import redaction
from crisisd.channels.base import Channel
from crisisd.channels.registry import build_channels
from crisisd.cli.demo_cast import block_one, connect_newcomer, reached_on_bale
from crisisd.cli.demo_rollcall import roll_call_act
from crisisd.config import Config, load_config
from crisisd.delivery.dispatcher import Dispatcher, RetryPolicy
from crisisd.domain import IncidentReport
from crisisd.enrolment.directory import BoundLibrary
from crisisd.errors import CrisisError, ProblemsError
from crisisd.formats.timefmt import gregorian, jalali
from crisisd.incidents import IncidentService, tell_officer_of_failure
from crisisd.library.loader import load_library
from crisisd.library.model import Library
from crisisd.redaction import redact
from crisisd.reports.incident import incident_report, render_markdown
from crisisd.sandbox.runner import start_sandbox
from crisisd.scheduler.sweeper import sweep
from crisisd.store import MessageRow, Store
from crisisd.store.engine import normalize_url

__all__ = ["DemoFailed", "run_demo"]

FACTORY = "shahriar-steel"
INCIDENT = ("fire", "major")
DETAILS = "دود غلیظ در سالن نورد ۲؛ کارکنان در حال تخلیه به نقطهٔ تجمع شمالی هستند."
LOCATION = "سالن نورد ۲ · Rolling mill hall 2"
UPDATE = "آتش در سالن نورد ۲ مهار شد؛ مصدومی گزارش نشده است. Fire contained, no injuries."
FINAL = frozenset({"sent", "failed", "cancelled"})
STEP_TIMEOUT = 20.0  # seconds of real time for one step's messages to settle
TOTAL_TIMEOUT = 55.0


class DemoFailed(CrisisError):
    """A step of the scenario did not happen as scripted."""


class ScenarioClock:
    """Wall-clock time plus an offset the scenario moves forward (never back)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance_to(self, at: datetime) -> None:
        self.offset = max(self.offset, at - datetime.now(UTC))


class Display:
    """The live view (terminal) or plain lines (anything else), fed from the store."""

    def __init__(self, out: TextIO, lib: Library, fast: bool) -> None:
        self.out, self.lib, self.zone = out, lib, lib.config.zone
        isatty = getattr(out, "isatty", None)
        self.tty = bool(isatty and isatty())
        self.console = Console(
            file=out,
            force_terminal=self.tty,
            color_system="auto" if self.tty else None,
            width=None if self.tty else 120,
            soft_wrap=not self.tty,
        )
        self.steps: list[tuple[datetime, str]] = []
        self.messages: list[MessageRow] = []
        self.incident_id = ""
        self.live: Live | None = None
        self.period = 0.1 if fast else 0.3

    def step(self, at: datetime, text: str, counts: bool = False) -> None:
        """One scenario step; off a terminal a line (``counts``: and the totals so far)."""
        self.steps.append((at, text))
        if self.live is not None:
            self.live.update(self.render(), refresh=True)
            return
        when = f"{jalali(at, tz=self.zone)} · {gregorian(at, tz=self.zone)}"
        self.console.print(f"[{when}] {text}", markup=False, highlight=False)
        if counts:
            c = Counter(_bucket(m) for m in self.messages)
            self.console.print(
                f"    messages so far: {c['sent']} sent · {c['failed']} failed · "
                f"{c['pending']} pending · {c['cancelled']} cancelled"
            )

    def render(self) -> Group:
        table = self.table()
        log = Table(title="Scenario · سناریو", expand=False, show_lines=False)
        for head in ("زمان (شمسی)", "Time (Gregorian)", "Step"):
            log.add_column(head)
        for at, text in self.steps:
            log.add_row(jalali(at, tz=self.zone), gregorian(at, tz=self.zone), Text(text))
        return Group(table, log)

    def table(self) -> Table:
        table = Table(title=Text(f"Incident {self.incident_id} · delivery per audience"))
        for head in ("Audience", "sent", "failed", "pending", "cancelled", "acknowledged"):
            table.add_column(head, justify="left" if head == "Audience" else "right")
        pb = self.lib.playbooks.get(FACTORY)
        rows: dict[str, Counter[str]] = defaultdict(Counter)
        need: dict[str, set[str]] = defaultdict(set)
        acked: dict[str, set[str]] = defaultdict(set)
        for m in self.messages:
            rows[m.audience][_bucket(m)] += 1
            if m.ack_required:
                need[m.audience].add(m.recipient)
                if m.acked_at is not None:
                    acked[m.audience].add(m.recipient)
        for aid, c in rows.items():
            aud = pb.audiences.get(aid) if pb else None
            name = aud.name.en if aud and aud.name else aid
            ack = f"{len(acked[aid])}/{len(need[aid])}" if need[aid] else "—"
            counts = (str(c[k]) for k in ("sent", "failed", "pending", "cancelled"))
            table.add_row(Text(name), *counts, ack)
        return table

    async def follow(self, store: Store) -> None:
        """Redraw the live view from the store every ``period`` seconds."""
        while self.live is not None:
            if self.incident_id:
                self.messages = await store.messages_of(self.incident_id)
            self.live.update(self.render(), refresh=True)
            await asyncio.sleep(self.period)


def _bucket(m: MessageRow) -> str:
    return "pending" if m.status in ("pending", "sending") else m.status


def _settled(messages: list[MessageRow], now: datetime) -> bool:
    """Nothing in flight: every message is final, or a delayed step that is not due yet."""
    return all(
        m.status in FINAL or (m.status == "pending" and m.attempts == 0 and m.not_before > now)
        for m in messages
    )


class Scenario:
    """The script, one method per act; every act waits until its messages have settled."""

    def __init__(
        self, svc: IncidentService, d: Dispatcher, clock: ScenarioClock, view: Display, pause: float
    ) -> None:
        self.svc, self.d, self.clock, self.view, self.pause = svc, d, clock, view, pause
        self.lib, self.store = svc.lib, svc.store
        self.pb = self.lib.playbook(FACTORY)
        self.officer = self.pb.factory.officers[0]
        self.incident = ""

    def say(self, text: str, counts: bool = False) -> None:
        self.view.step(self.clock(), text, counts)

    def who(self, cid: str) -> str:
        c = self.lib.directory.contacts.get(cid)
        return f"{c.name.en} ({cid})" if c else cid

    async def settle(self, what: str) -> list[MessageRow]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STEP_TIMEOUT
        self.d.kick()
        while True:
            msgs = await self.store.messages_of(self.incident)
            if _settled(msgs, self.clock()):
                self.view.messages = msgs
                await asyncio.sleep(self.pause)
                return msgs
            if loop.time() > deadline:
                now = self.clock()
                busy = [
                    f"{m.recipient} on {m.channel}: {m.status}, {m.last_error or 'no answer yet'}"
                    for m in msgs
                    if m.status not in FINAL and m.not_before <= now
                ]
                raise DemoFailed(f"{what}: still in flight after {STEP_TIMEOUT:.0f}s: {busy[:5]}")
            await asyncio.sleep(0.05)

    async def run(self, blocked: str | None, channels: dict[str, Channel], sms_url: str) -> str:
        kind, severity = INCIDENT
        report = IncidentReport(
            FACTORY, kind, severity, self.officer, details=DETAILS, location=LOCATION, source="demo"
        )
        opened = await self.svc.open(report)
        self.incident = self.view.incident_id = opened.incident_id
        opened_at = (await self.svc.get(self.incident)).opened_at
        self.say(
            f"{self.who(self.officer)} reports a {severity} {kind} at {self.pb.factory.name.en}: "
            f"incident {self.incident}, {opened.messages} messages planned"
        )
        if blocked:
            self.say(f"{self.who(blocked)} has blocked the Bale bot: expect a failover to SMS")
        msgs = await self.settle("fan-out")
        due = [m for m in msgs if m.not_before <= self.clock()]
        sent = sum(m.status == "sent" for m in due)
        self.say(f"fan-out done: {sent} of {len(due)} due messages sent", counts=True)
        if blocked:
            if not any(m.recipient == blocked and m.sent_channel == "sms" for m in due):
                raise DemoFailed(f"{blocked}'s alert did not fall over from Bale to SMS")
            self.say(f"{self.who(blocked)}: Bale refused (bot blocked), delivered by SMS instead")
        await self.acknowledge(msgs, opened_at)
        await roll_call_act(self, channels, sms_url)  # cli/demo_rollcall.py
        await self.delayed_steps()
        self.clock.advance_to(self.clock() + timedelta(minutes=5))
        n = await self.svc.update(self.incident, UPDATE, self.officer)
        self.say(f"{self.who(self.officer)} sends update no. 1: {n} messages")
        await self.settle("update")
        self.say("update delivered", counts=True)
        self.clock.advance_to(self.clock() + timedelta(minutes=10))
        n = await self.svc.resolve(self.incident, self.officer)
        self.say(f"{self.who(self.officer)} gives the all-clear: {n} messages to everyone told")
        msgs = await self.settle("all-clear")
        if n < 1 or not any(m.purpose == "all_clear" and m.status == "sent" for m in msgs):
            raise DemoFailed("the all-clear reached nobody")
        bad = [
            f"{m.recipient}/{m.purpose}: {m.status} ({m.last_error or 'no reason'})"
            for m in msgs
            if m.status != "sent"
        ]
        if bad:
            raise DemoFailed("not every message was delivered: " + "; ".join(bad[:8]))
        acked = sum(1 for m in msgs if m.ack_required and m.acked_at is not None)
        self.say(f"done: {len(msgs)} messages, all sent; {acked} alert(s) acknowledged", True)
        return self.incident

    async def acknowledge(self, msgs: list[MessageRow], opened_at: datetime) -> None:
        """Two minutes in, all but one of the team acknowledge; the ack window then passes."""
        alerts = [m for m in msgs if m.ack_required and m.status == "sent"]
        team = list(dict.fromkeys(m.recipient for m in alerts))
        if len(team) < 2:
            raise DemoFailed("the demo needs an audience of two or more that must acknowledge")
        ackers, silent = team[:-1], team[-1]
        self.clock.advance_to(opened_at + timedelta(minutes=2))
        for cid in ackers:
            m = next(a for a in alerts if a.recipient == cid)
            await self.svc.acknowledge(self.incident, cid, m.sent_channel or m.channel, m.id)
            self.say(f"{self.who(cid)} acknowledges the alert on {m.sent_channel}")
        await asyncio.sleep(self.pause)
        deadline = max(a.ack_deadline or opened_at for a in alerts)
        self.clock.advance_to(deadline + timedelta(minutes=1))
        fired = await sweep(self.svc)
        if fired < 1:
            raise DemoFailed(f"the escalation did not fire for {silent}")
        target = alerts[0].escalate_to or "nobody else"
        self.say(
            f"escalation: {self.who(silent)} did not acknowledge in time — alert re-sent on "
            f"the next channel, {target} told"
        )
        msgs = await self.settle("escalation")
        sent = sum(m.purpose == "escalation" and m.status == "sent" for m in msgs)
        if not sent:
            raise DemoFailed("no escalation message was sent")
        self.say(f"escalation messages sent: {sent}", counts=True)

    async def delayed_steps(self) -> None:
        """Steps with ``after`` (the press holding statement) come due when their time does."""
        msgs = await self.store.messages_of(self.incident)
        later = [m for m in msgs if m.status == "pending" and m.not_before > self.clock()]
        if not later:
            return
        self.clock.advance_to(max(m.not_before for m in later) + timedelta(minutes=1))
        auds = ", ".join(sorted({m.audience for m in later}))
        self.say(f"delayed step due: {len(later)} message(s) to {auds}")
        await self.settle("delayed steps")
        self.say("delayed step sent", counts=True)


async def _demo(config: Config, lib: Library, view: Display, fast: bool) -> str:
    pause = 0.0 if fast else 1.2
    async with contextlib.AsyncExitStack() as stack:
        store = Store(normalize_url(config.store_url))
        await store.start()
        stack.push_async_callback(store.aclose)
        sandbox = await start_sandbox(config, base_port=0)
        stack.push_async_callback(sandbox.aclose)
        sandbox.seed(lib.directory, lib.playbooks)
        channels = build_channels(sandbox.point(config))
        for channel in channels.values():
            stack.push_async_callback(channel.aclose)
        blocked = block_one(lib, sandbox.botapi, FACTORY)
        clock = ScenarioClock()
        bound = await BoundLibrary.start(store, lambda: lib)  # the directory plus bindings
        svc = IncidentService(store, bound, clock=clock)

        async def on_final(msg: MessageRow, reason: str) -> None:
            await tell_officer_of_failure(svc, msg, reason)
            dispatcher.kick()

        dispatcher = Dispatcher(
            store,
            channels,
            bound.address_of,
            worker_id="demo",
            lease=timedelta(hours=6),
            clock=clock,
            policy=RetryPolicy(base=0.2, cap=2.0, max_attempts_per_channel=4),
            on_final_failure=on_final,
        )
        await dispatcher.start()
        stack.push_async_callback(dispatcher.drain, 5.0)
        svc.taker = dispatcher  # as the daemon does

        def says(text: str) -> None:
            view.step(clock(), text)

        newcomer = await connect_newcomer(
            stack, store, svc, bound, sandbox, dispatcher, FACTORY, says
        )
        if view.tty:
            view.live = stack.enter_context(
                Live(view.render(), console=view.console, auto_refresh=False, transient=False)
            )
            follower = asyncio.create_task(view.follow(store))
            stack.push_async_callback(_cancel, follower)
        async with asyncio.timeout(TOTAL_TIMEOUT):
            sms_url = sandbox.sms.url if sandbox.sms else ""  # the roll call replies by SMS
            incident = await Scenario(svc, dispatcher, clock, view, pause).run(
                blocked, channels, sms_url
            )
        view.messages = await store.messages_of(incident)
        if (reached := reached_on_bale(newcomer, view.messages)) is not None:
            says(reached)
        if view.live is not None:
            view.live.update(view.render(), refresh=True)
        doc = await incident_report(store, lib, incident)
        report = render_markdown(doc)
    if not view.tty:  # the report comes only now, with the live view gone
        view.console.print(view.table())
    view.out.write("\n" + report + ("" if report.endswith("\n") else "\n"))
    view.out.flush()
    return incident


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _quiet_logs() -> Callable[[], None]:
    """structlog at WARNING, to stderr (read late, so a live view can take it); undo after."""
    saved = structlog.get_config()
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            redaction.structlog_processor,
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=lambda *_: structlog.PrintLogger(sys.stderr),
        cache_logger_on_first_use=False,
    )
    return lambda: structlog.configure(**saved)


def run_demo(config_path: Path | None, *, fast: bool = False, out: TextIO = sys.stdout) -> int:
    """Run the scripted scenario; 0 when every step happened and every message was sent."""
    path = config_path or Path("config.yaml")
    try:  # without a config file anywhere, the defaults (which also use the sandbox)
        base = load_config(path) if config_path or path.exists() else Config()
    except ProblemsError as exc:
        out.write("".join(redact(p.format()) + "\n" for p in exc.problems))
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="crisisd-demo-"))
    restore = _quiet_logs()
    try:
        config = base.model_copy(
            update={
                "store_url": f"sqlite:///{tmp / 'demo.sqlite3'}",
                "sandbox": True,
                "sandbox_port": 0,
            }
        )
        lib = load_library(config)
        view = Display(out, lib, fast)
        incident = asyncio.run(_demo(config, lib, view, fast))
    except ProblemsError as exc:
        out.write("".join(redact(p.format()) + "\n" for p in exc.problems))
        return 1
    except (CrisisError, OSError, TimeoutError) as exc:
        kind = "timed out" if isinstance(exc, TimeoutError) else "failed"
        out.write(f"\ncrisisd demo {kind}: {redact(str(exc)) or type(exc).__name__}\n")
        return 1
    finally:
        restore()
        shutil.rmtree(tmp, ignore_errors=True)
    out.write(f"\ncrisisd demo: incident {incident} went through every step — exit 0\n")
    return 0
