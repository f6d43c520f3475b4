"""Scheduled work (APScheduler 3.x AsyncIOScheduler in the daemon's time zone).

- drills from each playbook's cron, started at a random moment inside their window, never
  twice for one slot (the slot is claimed in the store, so restarts and several instances
  agree);
- the escalation sweep;
- reminders to the officer that the next press update is due;
- follow-up task reminders on the Iranian working week;
- drill scores when a drill's window closes.

Every job runs through :meth:`Scheduler.supervised`: a failure is logged with its cause and
counted, and a periodic job that fails shows as down (``/healthz``) until it next succeeds.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from crisisd.context import DaemonContext
from crisisd.domain import IncidentReport
from crisisd.formats.crontab import parse_cron
from crisisd.formats.timefmt import clock, duration_words, local_date
from crisisd.library.model import Library
from crisisd.planning.planner import plan_notice
from crisisd.scheduler.sweeper import sweep
from crisisd.store import AuditEntry, IncidentRow
from crisisd.store.leadership import SCHEDULER, Leadership
from crisisd.store.leases import LeaseLost, fenced
from crisisd.supervision import describe

log = structlog.get_logger("crisisd.scheduler.jobs")

# A new leader starts the drills whose slot came this recently and that nobody started
# (a drill a few minutes late beats a drill missed because its leader died).
CATCH_UP = timedelta(minutes=10)
DrillReporter = Callable[[IncidentRow], Awaitable[None]]
Job = Callable[..., Coroutine[Any, Any, None]]
UPDATE_TEXT = {
    "fa": "یادآوری: مهلت به‌روزرسانی بعدی برای رسانه‌ها دربارهٔ حادثهٔ {id} تا {left} دیگر "
    "(ساعت {at}) است. با /update بفرستید.",
    "en": "Reminder: the next press update on incident {id} is due in {left} (at {at}). "
    "Send it with /update.",
}
TASK_TEXT = {
    "fa": "یادآوری کار پیگیری حادثهٔ {id}: «{title}» — مهلت: {due}. اگر انجام شده، در /tasks "
    "علامتش بزنید.",
    "en": "Follow-up for incident {id}: “{title}” — due {due}. Done? Mark it in /tasks.",
}


class Scheduler:
    """Owns the APScheduler instance; ``load_drills`` is called again on every reload."""

    def __init__(
        self,
        ctx: DaemonContext,
        *,
        drill_reporter: DrillReporter | None = None,
        leadership: Leadership | None = None,
    ) -> None:
        self.ctx = ctx
        # None: this scheduler alone does the work (tests, tools); else only while it leads
        self.leadership = leadership
        config = ctx.library().config
        sweep_every = config.schedule.sweep_seconds
        check_every = config.schedule.check_seconds
        self.remind_ahead = timedelta(minutes=config.schedule.remind_minutes_before)
        self.drill_reporter = drill_reporter
        zone = config.zone
        self.aps = AsyncIOScheduler(
            timezone=zone,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 120},
        )
        self.every("sweep", self.sweep, sweep_every)
        self.every("checks", self.checks, check_every)

    def start(self) -> None:
        self.aps.start()
        self.load_drills(self.ctx.library())

    def shutdown(self) -> None:
        self.aps.shutdown(wait=False)

    def every(
        self,
        name: str,
        func: Callable[[], Awaitable[object]],
        seconds: float,
        *,
        leader_only: bool = True,
    ) -> None:
        """Run ``func`` every ``seconds`` as the supervised job ``scheduler.<name>``;
        ``leader_only``: only on the daemon that holds the scheduler's lease."""
        job = self.supervised(name, func, leader_only=leader_only)
        self.aps.add_job(job, "interval", seconds=seconds, id=name)

    def supervised(
        self,
        name: str,
        func: Callable[..., Awaitable[object]],
        *,
        standing: bool = True,
        leader_only: bool = True,
    ) -> Job:
        """``func`` as a job the supervisor knows as ``scheduler.<name>``: a failure is logged
        (its cause, no traceback) and counted. ``standing``: the job runs every few seconds,
        so a failure shows as down until its next run succeeds; drills run days apart and
        are only counted. APScheduler itself never sees the exception.

        ``leader_only``: skipped unless this daemon leads the scheduler role, and run fenced:
        each of its store writes checks, in its own transaction, that the lease is still
        this daemon's (:mod:`crisisd.store.leases`), so a deposed leader writes nothing."""
        part = f"scheduler.{name}"
        supervisor = self.ctx.supervisor

        async def job(*args: Any) -> None:
            fence = None
            if leader_only and self.leadership is not None:
                fence = self.leadership.fence(SCHEDULER)
                if fence is None:
                    return  # another daemon leads: it does this work
            try:
                with fenced(fence):
                    await func(*args)
            except LeaseLost as exc:
                log.warning("scheduler.fenced", job=part, cause=str(exc))
            except (Exception, asyncio.CancelledError) as exc:  # recorded; the next run comes
                me = asyncio.current_task()
                if isinstance(exc, asyncio.CancelledError) and (me is None or me.cancelling()):
                    raise  # asked to stop (the daemon is stopping), not a failure
                cause = describe(exc)  # e.g. a driver's stray cancellation on a dropped link
                log.error("scheduler.job_failed", job=part, cause=cause)
                supervisor.report(part, cause, standing=standing)
            else:
                if standing:
                    supervisor.recovered(part)

        return job

    # -- drills -----------------------------------------------------------------------------

    def load_drills(self, lib: Library, catch_up: timedelta = timedelta(0)) -> int:
        """(Re)schedule every playbook's drills; returns how many are scheduled.

        A drill whose window is open right now (the daemon restarted inside it) gets its
        start scheduled again: the start time is derived from the slot, so it is the same
        moment as before, and the drill's idempotency key makes a second start harmless.
        ``catch_up``: also a drill whose slot came this recently (a daemon that has just
        become the leader starts what the previous one may not have: the key again makes
        sure a drill the previous leader did start is not started twice).
        """
        for job in self.aps.get_jobs():
            # pending starts too: a reload may have removed or reordered the drills; the
            # current ones are scheduled again below (same moment, same idempotency key)
            if job.id.startswith(("drill:", "drill-start:")):
                job.remove()
        count = 0
        now = datetime.now(lib.config.zone)
        for factory, pb in lib.playbooks.items():
            for index, drill in enumerate(pb.drills):
                trigger = parse_cron(drill.cron, lib.config.zone)
                self.aps.add_job(
                    self.supervised("drill", self.drill_slot, standing=False),
                    trigger,
                    args=[factory, index],
                    id=f"drill:{factory}:{index}",
                    misfire_grace_time=max(60, int(drill.window.total_seconds())),
                )
                count += 1
                back = max(drill.window, catch_up)
                current = _last_fire(trigger, now - back, now) if back else None
                if current is not None:
                    self._schedule_start(factory, index, current, drill.window)
        log.info("scheduler.drills_loaded", drills=count)
        return count

    async def drill_slot(self, factory: str, index: int) -> None:
        """A drill's cron fired: claim the slot once, then start inside its window."""
        lib = self.ctx.library()
        pb = lib.playbooks.get(factory)
        if pb is None or index >= len(pb.drills):
            return
        drill = pb.drills[index]
        now = datetime.now(lib.config.zone)
        # the slot is the fire time this run belongs to, even when it fires late
        fired = parse_cron(drill.cron, lib.config.zone).get_next_fire_time(
            None, now - max(drill.window, timedelta(minutes=1))
        )
        slot = min(fired, now) if fired is not None else now
        slot = slot.replace(second=0, microsecond=0)
        key = f"drill-slot:{factory}:{index}:{slot.isoformat()}"
        if not await self.ctx.store.claim_once(key, slot.isoformat()):
            log.info("drill.slot_taken", factory=factory, slot=slot.isoformat())
            return
        self._schedule_start(factory, index, slot, drill.window)

    async def lead(self) -> None:
        """This daemon has just become the scheduler's leader (a leadership hook): drills
        whose slot came while nobody led (a leader died, the database was away) start now."""
        lease = self.leadership.seconds if self.leadership is not None else 0.0
        catch_up = max(CATCH_UP, timedelta(seconds=4 * lease))
        self.load_drills(self.ctx.library(), catch_up=catch_up)

    def _schedule_start(self, factory: str, index: int, slot: datetime, window: timedelta) -> None:
        """Start at a moment inside the window that depends only on the slot (random-looking,
        unannounced, but the same after a restart)."""
        digest = hashlib.sha256(f"{factory}:{index}:{slot.isoformat()}".encode()).digest()
        offset = int.from_bytes(digest[:8], "big") / 2**64 * window.total_seconds()
        start = max(slot + timedelta(seconds=offset), datetime.now(slot.tzinfo))
        self.aps.add_job(
            self.supervised("drill-start", self.start_drill, standing=False),
            DateTrigger(run_date=start),
            args=[factory, index, slot.isoformat()],
            id=f"drill-start:{factory}:{index}:{slot.isoformat()}",
            replace_existing=True,
            misfire_grace_time=int(window.total_seconds()) + 60,
        )
        log.info("drill.scheduled", factory=factory, start=start.isoformat())

    async def start_drill(self, factory: str, index: int, slot: str) -> str | None:
        lib = self.ctx.library()
        pb = lib.playbook(factory)
        drill = pb.drills[index]
        report = IncidentReport(
            factory=factory,
            incident_type=drill.incident_type,
            severity=drill.severity,
            reporter=pb.factory.officers[0],
            details="",
            drill=True,
            source="scheduler",
            idempotency_key=f"drill:{factory}:{index}:{slot}",
            drill_audiences=tuple(drill.audiences) if drill.audiences else None,
            drill_window=drill.report_after,
        )
        opened = await self.ctx.service.open(report)
        if not opened.created:  # started before a restart, or by another instance
            log.info("drill.already_started", factory=factory, incident_id=opened.incident_id)
            return opened.incident_id
        self.ctx.metrics.drills.labels(factory).inc()
        self.ctx.kick()
        log.info("drill.started", factory=factory, incident_id=opened.incident_id)
        return opened.incident_id

    # -- periodic work ------------------------------------------------------------------------

    async def sweep(self) -> None:
        fired = await sweep(self.ctx.service)
        if fired:
            self.ctx.metrics.escalations.inc(fired)
            self.ctx.kick()

    async def checks(self) -> None:
        await self.update_reminders()
        await self.task_reminders()
        await self.drill_reports()

    async def update_reminders(self) -> None:
        now = self.ctx.service.clock()
        for row in await self.ctx.store.updates_due(now + self.remind_ahead):
            due = row.next_update_at
            if due is None or not await self.ctx.store.claim_once(
                f"remind:{row.id}:{due.isoformat()}"
            ):
                continue
            left = max(timedelta(0), due - now)
            texts = {
                lang: UPDATE_TEXT[lang].format(
                    id=row.id, left=duration_words(left, lang) or "0", at=clock(due, lang)
                )
                for lang in ("fa", "en")
            }
            await self._notice(row, texts, f"update-{due.isoformat()}", now)

    async def task_reminders(self) -> None:
        svc, lib = self.ctx.service, self.ctx.library()
        now = svc.clock()
        if not lib.calendar.is_working_day(now.astimezone(lib.config.zone).date()):
            return  # reminders wait for a working day
        horizon = lib.calendar.add_working_days(now.astimezone(lib.config.zone), 1)
        for task in await self.ctx.store.tasks_due(horizon, now - timedelta(hours=20)):
            row = await self.ctx.store.get_incident(task.incident_id)
            if row is None or row.drill:
                continue
            texts = {
                "fa": TASK_TEXT["fa"].format(
                    id=row.id, title=task.title_fa, due=local_date(task.due_at, "fa")
                ),
                "en": TASK_TEXT["en"].format(
                    id=row.id, title=task.title_en, due=local_date(task.due_at, "en")
                ),
            }
            await self._notice(row, texts, f"task-{task.id}-{now.date().isoformat()}", now)
            await self.ctx.store.mark_task(task.id, reminded=now)

    async def drill_reports(self) -> None:
        if self.drill_reporter is None:
            return
        for row in await self.ctx.store.drills_to_report(self.ctx.service.clock()):
            try:
                await self.drill_reporter(row)
            except Exception:
                log.exception("drill.report_failed", incident_id=row.id)
                continue
            await self.ctx.store.mark_reported(row.id)

    async def _notice(
        self, row: IncidentRow, texts: dict[str, str], tag: str, now: datetime
    ) -> None:
        svc = self.ctx.service
        plan = plan_notice(svc.lib, svc.facts_of(row), texts, tag, now)
        entry = AuditEntry(row.id, now, "crisisd", "reminder.sent", None, {"tag": tag})
        await self.ctx.store.add_plan(row.id, plan, [entry], now)
        self.ctx.kick()


def _last_fire(trigger: Any, since: datetime, now: datetime) -> datetime | None:
    """The latest fire time in ``[since, now]`` (an earlier missed slot is superseded)."""
    last = None
    at = trigger.get_next_fire_time(None, since)
    while at is not None and at <= now:
        last = at
        at = trigger.get_next_fire_time(at, at + timedelta(seconds=1))
    return last
