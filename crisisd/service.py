"""The daemon: wires store, channels, dispatcher, scheduler, API (and bots) in one exit stack.

SIGTERM/SIGINT drain (in-flight sends finish or their claims are released); SIGHUP reloads
config, playbooks and templates and keeps the last good set when anything is wrong. Every
background task runs under one :class:`~crisisd.supervision.Supervisor`; a critical part
that keeps dying stops the daemon with a non-zero exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from crisisd import redaction, sdnotify
from crisisd.api.acklinks import AckSigner
from crisisd.channels.base import Channel
from crisisd.channels.chatmoves import follow_moves
from crisisd.channels.registry import build_channels
from crisisd.config import Config
from crisisd.context import DaemonContext
from crisisd.delivery.admins import tell_admins
from crisisd.delivery.dispatcher import Dispatcher
from crisisd.delivery.health import StoreProbe, merge
from crisisd.delivery.outage import tell_of_outage
from crisisd.enrolment.directory import BoundLibrary
from crisisd.enrolment.watch import ReachWatch
from crisisd.errors import CrisisError, ProblemsError
from crisisd.formats.workweek import warm_public_holidays
from crisisd.incidents import IncidentService, tell_officer_of_failure
from crisisd.library.isolated import load_isolated
from crisisd.library.model import Library
from crisisd.library.offloop import HeapCare
from crisisd.metrics import Metrics
from crisisd.redaction import redact
from crisisd.sandbox.runner import Sandbox, sandbox_token
from crisisd.scheduler.gatewaywatch import GatewayWatch
from crisisd.scheduler.gauges import GAUGE_SECONDS, OutboxWatch
from crisisd.scheduler.jobs import Scheduler
from crisisd.scheduler.receipts import ReceiptPoller
from crisisd.scheduler.rollcall import RollCallJobs
from crisisd.store import MessageRow, Store
from crisisd.store.engine import normalize_url
from crisisd.store.leadership import SCHEDULER, Leadership
from crisisd.store.sqlitethread import share_the_gil
from crisisd.store.workerlock import WorkerLock, worker_id_for
from crisisd.supervision import Supervisor

log = structlog.get_logger("crisisd.service")

TIDY_EVERY = 60.0  # seconds between looks for an idle moment to collect replaced libraries


class PartFailedError(CrisisError):
    """A critical part of the daemon kept dying; the daemon stopped (systemd restarts it)."""


class Daemon:
    """One running crisisd. ``run`` returns when a stop signal has been handled."""

    def __init__(
        self,
        config_path: Path | None,
        config: Config,
        library: Library,
        *,
        supervisor: Supervisor | None = None,
        lease: timedelta | None = None,
    ) -> None:
        self.config_path = config_path
        self.config = config
        self._library = library
        self.stopping = asyncio.Event()
        self.ready = asyncio.Event()
        self.metrics = Metrics()
        self.supervisor = supervisor or Supervisor()
        self.supervisor.metrics = self.metrics
        self.supervisor.on_fatal = self._fatal
        self.failure: tuple[str, str] | None = None
        self.lease = lease or timedelta(seconds=config.cluster.claim_lease_seconds)
        self.worker = worker_id_for(config_path)
        self._reload_wanted = asyncio.Event()
        self.heap = HeapCare()
        self.channels: dict[str, Channel] = {}
        self.addresses: dict[str, str] = {}
        self._webhooks: dict[str, Callable[[web.Request], Awaitable[web.StreamResponse]]] = {}
        self.bound: BoundLibrary | None = None  # the library with the bindings applied

    def library(self) -> Library:
        return self._library if self.bound is None else self.bound()

    async def run(self) -> None:
        share_the_gil()  # the store's thread works beside the event loop (store/sqlitethread.py)
        async with contextlib.AsyncExitStack() as stack:
            # the collector paused meanwhile: starting makes ~100,000 objects (a province's
            # sandbox) and few cycles, and what it leaves is collected when idle (offloop.py)
            await self.heap.load(partial(self._start, stack))
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stopping.set)
            loop.add_signal_handler(signal.SIGHUP, self.request_reload)
            stack.callback(self._remove_signals, loop)
            self.supervisor.spawn("reload", self._reload_loop)
            self.heap.settle()  # what is alive now is not scanned by later collections
            stack.callback(self.heap.release)
            sdnotify.notify("READY=1")
            interval = sdnotify.watchdog_interval()
            if interval:
                pings = partial(sdnotify.watchdog, interval)
                self.supervisor.spawn("watchdog", pings, critical=True)
            self.ready.set()
            log.info("daemon.ready", **self.addresses)
            if not os.environ.get("NOTIFY_SOCKET"):
                _banner(self.addresses)
            await self.stopping.wait()
            sdnotify.notify("STOPPING=1")
            log.info("daemon.stopping")
        log.info("daemon.stopped")
        if self.failure is not None:
            part, cause = self.failure
            raise PartFailedError(f"{part} kept failing ({cause}); stopped so systemd restarts")

    def _fatal(self, part: str, cause: str) -> None:
        """A critical part is out of restarts: stop cleanly, then exit non-zero."""
        if self.failure is None:
            self.failure = (part, cause)
        self.stopping.set()

    @staticmethod
    def _remove_signals(loop: asyncio.AbstractEventLoop) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)

    async def _start(self, stack: contextlib.AsyncExitStack) -> None:
        config = self.config
        base = config.source.parent if config.source else Path.cwd()
        self.store = Store(normalize_url(config.store_url, base))
        await self.store.start()
        stack.push_async_callback(self.store.aclose)
        self._store_health = StoreProbe(self.store, self.worker)  # /healthz: takes writes?
        self.bound = bound = await BoundLibrary.start(self.store, lambda: self._library)
        # closed after everything else has drained: what is left (reload, watchdog) is stopped
        stack.push_async_callback(self.supervisor.aclose)
        sandbox = None
        if config.sandbox:
            from crisisd.sandbox.runner import start_sandbox

            sandbox = await start_sandbox(config, base_port=config.sandbox_port)
            sandbox.seed(self._library.directory, self._library.playbooks)
            stack.push_async_callback(sandbox.aclose)
            self.sandbox = sandbox
            self.addresses.update({k.replace(" ", "_"): v for k, v in sandbox.addresses().items()})
        self.channels = build_channels(sandbox.point(config) if sandbox is not None else config)
        for channel in self.channels.values():
            stack.push_async_callback(channel.aclose)
        self.service = IncidentService(self.store, self.library)
        self.service.metrics = self.metrics
        await follow_moves(self.store, self.channels, self.service.clock)  # groups upgraded
        secret = (
            config.api.ack_secret.get_secret_value()
            if config.api.ack_secret
            else await self.store.setting("ack_secret")
        )
        redaction.register(secret)
        self.signer = AckSigner(secret.encode())
        public = config.api.public_url or f"http://{config.api.bind}:{config.api.port}"
        if config.api.public_url is None and not config.sandbox:
            log.warning(
                "api.no_public_url",
                hint="ack links in email and SMS point at the bind address; set api.public_url",
            )
        self.service.ack_link = lambda key: self.signer.url(public, key)
        worker = self.worker
        lock = WorkerLock(self.store.engine, worker)
        await lock.acquire()  # before anything is released or claimed
        stack.push_async_callback(lock.release)
        # a dropped connection takes a PostgreSQL lock with it: taken again at once
        self.supervisor.spawn("workerlock", partial(lock.keep, partial(self._fatal, "workerlock")))
        lease_s = config.cluster.leader_lease_seconds
        self.leadership = Leadership.for_engine(self.store.engine, worker, lease_s, self.metrics)
        self.dispatcher = Dispatcher(
            self.store,
            self.channels,
            self._address,
            on_final_failure=self._final_failure,
            on_channel_down=self._channel_down,
            metrics=self.metrics,
            worker_id=worker,
            lease=self.lease,
            supervisor=self.supervisor,
        )
        self.ctx = DaemonContext(
            store=self.store,
            service=self.service,
            metrics=self.metrics,
            library=self.library,
            health=self.health,
            kick=self.dispatcher.kick,
            ack_url=self.service.ack_link,
            supervisor=self.supervisor,
        )
        await self.dispatcher.start()
        stack.push_async_callback(self.dispatcher.drain)
        self.service.taker = self.dispatcher  # an open's first messages: straight to it
        self.scheduler = Scheduler(
            self.ctx, drill_reporter=self._drill_report, leadership=self.leadership
        )
        self.leadership.role(SCHEDULER, gained=self.scheduler.lead)
        self.scheduler.start()
        watch = GatewayWatch(self.ctx, self.channels, self._tell_admins)
        self.scheduler.every("gateways", watch.check, config.schedule.check_seconds)
        reach = ReachWatch(
            self.store, bound, lambda: self._library, self.service.clock, self.ctx.kick
        )
        self.scheduler.every("reach", reach.check, config.schedule.check_seconds, leader_only=False)
        gauges = OutboxWatch(self.store.engine, self.metrics)
        self.scheduler.every("gauges", gauges.refresh, GAUGE_SECONDS, leader_only=False)
        roll = RollCallJobs(self.ctx, self.channels)  # roll calls: re-asks, inbound SMS
        self.scheduler.every("rollcall", roll.sweep, config.schedule.sweep_seconds)
        if roll.inboxes:
            self.scheduler.every("inbound-sms", roll.poll_inbox, config.schedule.sweep_seconds)
        poller = ReceiptPoller.for_channels(self.channels, self.store, config, self.service.clock)
        if poller is not None:
            poller.kick = self.dispatcher.kick
            self.scheduler.every("receipts", poller.poll, config.schedule.receipts_seconds)
        stack.callback(self.scheduler.shutdown)
        await self._start_api(stack)
        await self._start_bots(stack, sandbox)
        # last in, first out: at a stop the leader-only work ends and the leases are given
        # back first, so another daemon takes over while this one drains
        self.leadership.start(self.supervisor)
        stack.push_async_callback(self.leadership.aclose)

    async def _start_bots(self, stack: contextlib.AsyncExitStack, sandbox: Sandbox | None) -> None:
        """The officers' bot on every messenger that has it (closed before the dispatcher)."""
        entries = []
        for m in self.config.messengers:
            if not m.officers_bot:
                continue
            if sandbox is not None:
                entries.append((m, sandbox.botapi_urls[m.name], sandbox_token(m.name)))
            elif m.token is not None:
                entries.append((m, m.base_url, m.token.get_secret_value()))
        if not entries:
            return
        # PTB and httpx (~11 MB resident) are loaded only for a bot that runs: the outbox
        # sends through its own client (channels/botapi.py)
        from crisisd.bot import BotSettings, start_bots

        settings = BotSettings()
        if self.config.bots.mode == "webhook" and not self.config.sandbox:
            settings = BotSettings(webhook_url=self.config.api.public_url)
        bots = await start_bots(
            self.ctx, entries, settings, pacers=self.dispatcher.pacers, leadership=self.leadership
        )
        stack.push_async_callback(bots.aclose)
        self._webhooks = dict(bots.webhook_handlers())

    async def _start_api(self, stack: contextlib.AsyncExitStack) -> None:
        from crisisd.api.app import create_api_app, start_api
        from crisisd.dashboard.app import mount_dashboard

        api = self.config.api
        # tokens are read on every request, so a reload can add or revoke one
        app = create_api_app(
            self.ctx,
            tokens=lambda: self._library.config.api.tokens,
            signer=self.signer,
            max_body_bytes=api.max_body_bytes,
        )
        # webhook mode: Telegram/Bale POST here (Bale: + /<secret>, having no secret_token);
        # the handlers exist once the bots have started
        app.router.add_post("/telegram-webhook/{messenger}", self._webhook)
        app.router.add_post("/telegram-webhook/{messenger}/{secret}", self._webhook)
        board = await mount_dashboard(app, self.ctx)  # /dashboard/ and /cap/ on this port
        runner = await start_api(app, api.bind, api.port)
        stack.push_async_callback(runner.cleanup)
        host, port = runner.addresses[0][:2]
        self.addresses["api"] = f"http://{host}:{port}"
        self.addresses.update(
            board.addresses(self.addresses["api"], api.public_url) if board else {}
        )

    async def _webhook(self, request: web.Request) -> web.StreamResponse:
        handler = self._webhooks.get(request.match_info["messenger"])
        if handler is None:
            raise web.HTTPNotFound(text="no bot listens here")
        return await handler(request)

    def _address(self, msg: MessageRow, channel: str) -> str | None:
        contact = self.library().directory.contacts.get(msg.recipient)
        return None if contact is None else contact.address_for(channel)

    async def _final_failure(self, msg: MessageRow, reason: str) -> None:
        try:
            await tell_officer_of_failure(self.service, msg, reason)
        except CrisisError as exc:
            log.warning("notice.failed", error=redact(str(exc)))
        self.dispatcher.kick()

    async def _channel_down(self, channel: str, reason: str) -> None:
        try:
            await tell_of_outage(self.service, channel, reason)
        except CrisisError as exc:
            log.warning("notice.failed", error=redact(str(exc)))
        self.dispatcher.kick()

    async def _drill_report(self, row: Any) -> None:
        from crisisd.scheduler.drillnotice import send_drill_report

        await send_drill_report(self.ctx, row)

    async def health(self) -> dict[str, Any]:
        """What /healthz shows: ``ok`` is false while anything is ``down`` (part: cause)."""
        store = await self._store_health()
        delivery = await self.dispatcher.health()
        return merge(self.supervisor.faults(), store, delivery, self.channels)

    # -- reload -------------------------------------------------------------------------------

    def request_reload(self) -> None:
        """SIGHUP: reload soon. Requests that come during a reload merge into one more."""
        self._reload_wanted.set()

    @property
    def reload_pending(self) -> bool:
        """A reload was asked for and has not started yet."""
        return self._reload_wanted.is_set()

    async def _reload_loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._reload_wanted.wait(), TIDY_EVERY)
            except TimeoutError:
                if self.dispatcher.in_hand == 0:
                    self.heap.tidy()  # the old libraries' cycles, while nothing is sending
                continue
            self._reload_wanted.clear()
            await self.reload()

    async def _load(self) -> tuple[Library, bool]:
        """Loaded in a child process; True when settings that need a restart changed."""
        library = await load_isolated(self.config_path, self.config)
        if library.config.calendar.public_holidays:  # a new year's, here, off the loop
            await asyncio.to_thread(warm_public_holidays, datetime.now(UTC).year)
        later = {"playbooks", "templates"}
        config = library.config
        changed = config.model_dump(exclude=later) != self.config.model_dump(exclude=later)
        return library, changed

    async def reload(self) -> bool:
        """Load config, playbooks and templates again; keep the last good set on any error."""
        log.info("reload.started")
        try:
            # parsing and checks in a child process, the collector paused: the loop keeps
            # serving meanwhile (library/isolated.py and offloop.py say why both)
            library, changed = await self.heap.load(self._load)
        except ProblemsError as exc:
            self.metrics.reloads.labels("rejected").inc()
            problems = [redact(p.format()) for p in exc.problems]
            log.error("reload.rejected", problems=problems[:50], count=len(problems))
            await self._tell_admins(
                "crisisd: reload rejected, the last good playbooks stay in force:\n"
                + "\n".join(problems[:10])
            )
            return False
        except CrisisError as exc:
            self.metrics.reloads.labels("rejected").inc()
            log.error("reload.rejected", error=redact(str(exc)))
            return False
        if self.stopping.is_set():
            return False  # the daemon is shutting down: nothing to apply the set to
        if changed:
            log.warning(
                "reload.config_changed",
                hint="store, channel and API settings apply after a restart",
            )
        self.heap.replaced(self._library)
        self._library = library
        self.scheduler.load_drills(library)
        if getattr(self, "sandbox", None) is not None:
            self.sandbox.seed(library.directory, library.playbooks)
        self.metrics.reloads.labels("ok").inc()
        log.info("reload.ok", factories=sorted(library.playbooks))
        return True

    async def _tell_admins(self, text: str) -> None:
        await tell_admins(self._library, self.channels, text)


def _banner(addresses: dict[str, str]) -> None:
    """Where to look, for a person who just typed `make run`."""
    lines = ["", "crisisd is running. Where to look:"]
    lines += [f"  {name.replace('_', ' '):<18} {url}" for name, url in addresses.items()]
    if "api" in addresses:
        lines.append(f"  {'health':<18} {addresses['api']}/healthz")
    lines += ["Stop with Ctrl-C.", ""]
    print("\n".join(lines), file=sys.stderr, flush=True)  # a greeting, not a log line
