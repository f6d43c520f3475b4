"""The incident service: open, update, resolve, take over, acknowledge, cancel.

Triggers (bot, API, CLI, drill scheduler) only build an IncidentReport and call
here. Every action plans through the planner and commits through the store in one
transaction *before* the caller hears "accepted".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import structlog

from crisisd.domain import (
    DETAILS_LIMIT,
    LOCATION_LIMIT,
    Casualties,
    IncidentFacts,
    IncidentReport,
    IncidentStatus,
    Plan,
    Purpose,
    UpdateTexts,
    count_problem,
    new_incident_id,
)
from crisisd.errors import (
    IncidentIdTaken,
    InvalidReportError,
    NotFoundError,
    PermissionDeniedError,
    UnknownIncidentError,
)
from crisisd.library.model import Library
from crisisd.metrics import Metrics
from crisisd.planning.planner import plan_notice, plan_open
from crisisd.planning.statements import (
    all_clear_plan,
    external_audiences,
    takeover_plan,
    update_plan,
)
from crisisd.problems import did_you_mean
from crisisd.store import AckResult, AuditEntry, IncidentRow, MessageRow, Store, TaskRow
from crisisd.store.taking import Taker
from crisisd.templates import clean_user_text

log = structlog.get_logger("crisisd.incidents")


@dataclass(frozen=True, slots=True)
class TaskDone:
    """A follow-up task marked done; ``new`` is False when it had been done already."""

    task: TaskRow
    new: bool


@dataclass(frozen=True, slots=True)
class Opened:
    incident_id: str
    created: bool  # False: the idempotency key matched an earlier incident
    messages: int
    unreachable: tuple[tuple[str, str], ...]


def _now() -> datetime:
    return datetime.now(UTC)


class IncidentService:
    """Everything a trigger may do to an incident, each as one store transaction."""

    def __init__(
        self, store: Store, library: Callable[[], Library], clock: Callable[[], datetime] = _now
    ) -> None:
        self.store = store
        self._library = library
        self.clock = clock
        self.ack_link: Callable[[str], str] | None = None  # signed links for email and SMS
        self.metrics: Metrics | None = None  # counted here, whatever the front door
        self.taker: Taker | None = None  # the daemon's dispatcher (store/taking.py)

    @property
    def lib(self) -> Library:
        return self._library()

    def check_report(self, report: IncidentReport) -> IncidentReport:
        """Validate a report against the playbooks; clean user text. Raises on bad input."""
        lib = self.lib
        pb = lib.playbook(report.factory)
        if report.incident_type not in pb.incidents:
            raise InvalidReportError(
                f"unknown incident type '{report.incident_type}' at {report.factory} — "
                + did_you_mean(report.incident_type, pb.incidents)
            )
        sevs = pb.incidents[report.incident_type].severities
        if report.severity not in sevs:
            raise InvalidReportError(
                f"unknown severity '{report.severity}' for {report.incident_type} — "
                + did_you_mean(report.severity, sevs)
            )
        if report.reporter not in pb.factory.officers:
            raise PermissionDeniedError(
                f"'{report.reporter}' is not an officer of {report.factory}; only its officers "
                "may report incidents there"
            )
        if report.drill_audiences is not None:
            unknown = [a for a in report.drill_audiences if a not in pb.audiences]
            if unknown:
                raise InvalidReportError(f"unknown drill audience(s): {', '.join(unknown)}")
        problem = count_problem(report.casualties, report.casualties_count)
        if problem is not None:
            raise InvalidReportError(problem)
        return replace(
            report,
            details=clean_user_text(report.details, DETAILS_LIMIT),
            location=clean_user_text(report.location, LOCATION_LIMIT),
        )

    async def open(self, report: IncidentReport) -> Opened:
        """Open an incident; when this returns, it and all its messages are committed."""
        report = self.check_report(report)
        lib = self.lib
        for _ in range(8):
            facts = IncidentFacts(
                id=new_incident_id(),
                factory=report.factory,
                incident_type=report.incident_type,
                severity=report.severity,
                reporter=report.reporter,
                opened_at=self.clock(),
                details=report.details,
                location=report.location,
                casualties=report.casualties,
                casualties_count=report.casualties_count,
                drill=report.drill,
                drill_audiences=report.drill_audiences,
            )
            plan = plan_open(lib, facts, self.ack_link)
            entry = AuditEntry(
                facts.id,
                facts.opened_at,
                report.reporter,
                "incident.opened",
                report.source,
                {
                    "type": report.incident_type,
                    "severity": report.severity,
                    "drill": report.drill,
                    "messages": len(plan.messages),
                    "details": report.details,
                    "location": report.location,
                    "casualties": report.casualties.value,
                    "casualties_count": report.casualties_count,
                },
            )
            try:
                incident_id, created = await self.store.open_incident(
                    facts,
                    plan,
                    entry,
                    source=report.source,
                    idempotency_key=report.idempotency_key,
                    drill_window_end=facts.opened_at + self._drill_window(report)
                    if report.drill
                    else None,
                    take=None if self.taker is None else self.taker.taking(),
                )
            except IncidentIdTaken:
                continue  # the random id was taken: draw another
            if created and self.metrics is not None:
                self.metrics.incidents.labels(report.factory, str(report.drill).lower()).inc()
            log.info(
                "incident.opened" if created else "incident.duplicate",
                incident_id=incident_id,
                factory=report.factory,
                drill=report.drill,
                messages=len(plan.messages),
            )
            return Opened(
                incident_id, created, len(plan.messages) if created else 0, plan.unreachable
            )
        raise InvalidReportError("could not allocate an incident id; try again")

    async def get(self, incident_id: str) -> IncidentRow:
        row = await self.store.get_incident(incident_id.strip().upper())
        if row is None:
            raise UnknownIncidentError(f"no incident '{incident_id}' — check the id (e.g. KMT-479)")
        return row

    def facts_of(self, row: IncidentRow) -> IncidentFacts:
        return IncidentFacts(
            id=row.id,
            factory=row.factory,
            incident_type=row.incident_type,
            severity=row.severity,
            reporter=row.reporter,
            opened_at=row.opened_at,
            details=row.details,
            location=row.location,
            casualties=Casualties(row.casualties),
            drill=row.drill,
            status=IncidentStatus(row.status),
            update_number=row.update_number,
            update_details=row.update_details,
            drill_audiences=tuple(row.drill_audiences) if row.drill_audiences else None,
        )

    def _actor_may(self, row: IncidentRow, actor: str) -> None:
        # api: an integration's token, province: staff signed in to the dashboard; each front
        # door has checked its caller's scope before calling here
        if actor in ("crisisd", "scheduler") or actor.startswith(("api:", "province:")):
            return
        if actor not in self.lib.playbook(row.factory).factory.officers:
            raise PermissionDeniedError(f"'{actor}' is not an officer of {row.factory}")

    async def _open_row(self, incident_id: str, actor: str) -> IncidentRow:
        row = await self.get(incident_id)
        self._actor_may(row, actor)
        if row.status in (IncidentStatus.RESOLVED, IncidentStatus.CANCELLED):
            raise InvalidReportError(f"incident {row.id} is already {row.status}")
        return row

    def _drill_window(self, report: IncidentReport) -> timedelta:
        if report.drill_window is not None:
            return report.drill_window
        pb = self.lib.playbook(report.factory)
        return pb.drill_report_after(report.incident_type, report.severity)

    async def update(
        self,
        incident_id: str,
        details: str | UpdateTexts,
        actor: str,
        *,
        send_now: bool = False,
    ) -> int:
        """Send the approved update statement; press gets the referral after a takeover.

        An audience whose first statement is not due yet gets the update right after it,
        unless ``send_now``.
        """
        row = await self._open_row(incident_id, actor)
        now = self.clock()
        msgs = await self.store.messages_of(row.id)
        plan, after = update_plan(
            self.lib, self.facts_of(row), details, now, msgs, send_now=send_now
        )
        every = timedelta(seconds=row.update_every_s) if row.update_every_s else None
        changes = {
            "update_number": after.update_number,
            "update_details": after.update_details,
            "next_update_at": now + every if every else None,
        }
        detail = {
            "number": after.update_number,
            "details": after.update_details,
            "texts": details.groups if isinstance(details, UpdateTexts) else None,
            "messages": len(plan.messages),
        }
        entry = AuditEntry(row.id, now, actor, "incident.updated", None, detail)
        await self.store.add_plan(row.id, plan, [entry], now, changes=changes)
        return len(plan.messages)

    async def resolve(self, incident_id: str, actor: str) -> int:
        """The all-clear to everyone who was told; pending alerts are cancelled."""
        row = await self._open_row(incident_id, actor)
        lib, now = self.lib, self.clock()
        msgs = await self.store.messages_of(row.id)
        plan = all_clear_plan(lib, self.facts_of(row), msgs, now)
        entry = AuditEntry(
            row.id, now, actor, "incident.resolved", None, {"messages": len(plan.messages)}
        )
        await self.store.add_plan(
            row.id,
            plan,
            [entry],
            now,
            changes={
                "status": IncidentStatus.RESOLVED.value,
                "closed_at": now,
                "next_update_at": None,
            },
            cancel={
                "purposes": [
                    Purpose.ALERT.value,
                    Purpose.UPDATE.value,
                    Purpose.ESCALATION.value,
                    Purpose.ROLL_CALL.value,  # nobody is asked after the all-clear
                ]
            },
        )
        return len(plan.messages)

    async def takeover(self, incident_id: str, actor: str) -> tuple[int, int]:
        """Provincial crisis HQ took over: pending press messages stop, press gets the referral."""
        row = await self._open_row(incident_id, actor)
        lib, now = self.lib, self.clock()
        external = external_audiences(lib.playbook(row.factory))
        plan = takeover_plan(lib, self.facts_of(row), now)
        entry = AuditEntry(
            row.id, now, actor, "incident.taken_over", None, {"messages": len(plan.messages)}
        )
        cancelled = await self.store.add_plan(
            row.id,
            plan,
            [entry],
            now,
            changes={"status": IncidentStatus.TAKEN_OVER.value},
            cancel={"audiences": external, "purposes": [Purpose.ALERT.value, Purpose.UPDATE.value]},
        )
        return len(plan.messages), cancelled

    async def cancel(self, incident_id: str, actor: str, reason: str = "") -> int:
        """Withdraw an incident reported by mistake: nothing pending goes out."""
        row = await self._open_row(incident_id, actor)
        now = self.clock()
        entry = AuditEntry(
            row.id, now, actor, "incident.cancelled", None, {"reason": clean_user_text(reason, 500)}
        )
        return await self.store.add_plan(
            row.id,
            Plan(),
            [entry],
            now,
            changes={
                "status": IncidentStatus.CANCELLED.value,
                "closed_at": now,
                "next_update_at": None,
            },
            cancel={},
        )

    async def complete_task(self, task_id: int, actor: str) -> TaskDone:
        """Mark a follow-up task done: it leaves the officer's list and is not reminded again.
        Only an officer of the incident's factory (or the API) may; doing it twice is harmless."""
        task = await self.store.task(task_id)
        if task is None:
            raise NotFoundError(f"no follow-up task {task_id} — /tasks lists the open ones")
        row = await self.get(task.incident_id)
        self._actor_may(row, actor)
        if task.done_at is not None:
            return TaskDone(task, new=False)
        now = self.clock()
        detail = {"task_id": task.id, "title": task.title_en, "due_at": task.due_at.isoformat()}
        entry = AuditEntry(row.id, now, actor, "task.done", None, detail)
        new = await self.store.complete_task(task.id, now, entry)
        done = task if not new else replace(task, done_at=now)
        log.info("task.done" if new else "task.done_already", incident_id=row.id, task_id=task.id)
        return TaskDone(done, new)

    async def acknowledge(
        self, incident_id: str, recipient: str, via: str, message_id: int | None = None
    ) -> AckResult:
        row = await self.get(incident_id)
        result = await self.store.acknowledge(row.id, recipient, via, self.clock(), message_id)
        if result.new and self.metrics is not None:
            self.metrics.acks.labels(via).inc()
        log.info(
            "ack.recorded" if result.new else "ack.repeated",
            incident_id=row.id,
            recipient=recipient,
            via=via,
        )
        return result

    async def acknowledge_code(self, code: str, via: str, presser: str | None = None) -> AckResult:
        """Ack from a button (callback code). ``presser``: only the recipient may press it."""
        msg = await self.store.message_by_ack_code(code)
        if msg is None:
            raise UnknownIncidentError("this acknowledgement button is not known")
        if presser is not None and presser != msg.recipient:
            raise PermissionDeniedError("only the person this alert was sent to can acknowledge it")
        return await self.acknowledge(msg.incident_id, msg.recipient, via, msg.id)


FAILURE_TEXT = {
    "fa": "پیام حادثه {id} به {name} ({audience}) از هیچ راهی نرسید: {reason}",
    "en": "Incident {id}: the message to {name} ({audience}) could not be delivered on any "
    "channel: {reason}",
}


async def tell_officer_of_failure(service: IncidentService, msg: MessageRow, reason: str) -> None:
    """A recipient unreachable on every channel: the reporting officer hears of it."""
    if msg.purpose == Purpose.NOTICE.value:
        return  # a notice that failed is logged, never noticed again (no loops)
    row = await service.store.get_incident(msg.incident_id)
    if row is None:
        return
    lib = service.lib
    person = lib.directory.contacts.get(msg.recipient)
    pb = lib.playbooks.get(row.factory)
    aud = pb.audiences.get(msg.audience) if pb else None
    texts = {
        lang: FAILURE_TEXT[lang].format(
            id=row.id,
            name=person.name.get(lang) if person else msg.recipient,
            audience=aud.name.get(lang) if aud and aud.name else msg.audience,
            reason=reason[:200],
        )
        for lang in ("fa", "en")
    }
    now = service.clock()
    plan = plan_notice(lib, service.facts_of(row), texts, f"failed-{msg.id}", now)
    entry = AuditEntry(
        row.id, now, "crisisd", "delivery.failed", None, {"message_id": msg.id, "reason": reason}
    )
    await service.store.add_plan(row.id, plan, [entry], now)
