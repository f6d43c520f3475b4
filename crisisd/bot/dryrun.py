"""What an action would send, planned without storing anything, for the officer's preview.

The open preview is :func:`crisisd.planning.preview.preview_open`. Update, all-clear and
takeover are planned by the same functions :class:`~crisisd.incidents.IncidentService`
stores, so the preview is what ``update`` / ``resolve`` / ``takeover`` will send
(:mod:`crisisd.planning.statements`).
"""

from __future__ import annotations

from datetime import datetime

from crisisd.domain import (
    DETAILS_LIMIT,
    LOCATION_LIMIT,
    Casualties,
    IncidentFacts,
    Plan,
    UpdateTexts,
)
from crisisd.incidents import IncidentService
from crisisd.library.model import Library
from crisisd.planning import statements
from crisisd.planning.planner import plan_open
from crisisd.store import IncidentRow, MessageRow
from crisisd.templates import clean_user_text

Targets = list[tuple[str, str, tuple[str, ...]]]


def open_plan(
    lib: Library,
    *,
    factory: str,
    incident_type: str,
    severity: str,
    details: str,
    reporter: str,
    drill: bool,
    casualties: Casualties = Casualties.UNKNOWN,
    casualties_count: int | None = None,
    location: str = "",
    drill_audiences: tuple[str, ...] | None,
    now: datetime,
) -> Plan:
    """What opening this report would store (the drill audiences included)."""
    facts = IncidentFacts(
        id="PREVIEW",
        factory=factory,
        incident_type=incident_type,
        severity=severity,
        reporter=reporter,
        opened_at=now,
        details=clean_user_text(details, DETAILS_LIMIT),
        location=clean_user_text(location, LOCATION_LIMIT),
        casualties=casualties,
        casualties_count=casualties_count,
        drill=drill,
        drill_audiences=drill_audiences,
    )
    return plan_open(lib, facts)


def update_plan(
    service: IncidentService,
    row: IncidentRow,
    msgs: list[MessageRow],
    details: str | UpdateTexts,
    now: datetime,
    send_now: bool = False,
) -> Plan:
    """The next update statement, as ``IncidentService.update`` would store it."""
    facts = service.facts_of(row)
    plan, _after = statements.update_plan(service.lib, facts, details, now, msgs, send_now=send_now)
    return plan


def resolve_plan(
    service: IncidentService, row: IncidentRow, msgs: list[MessageRow], now: datetime
) -> Plan:
    """The all-clear to everyone who was told, as ``IncidentService.resolve`` would store it."""
    return statements.all_clear_plan(service.lib, service.facts_of(row), msgs, now)


def takeover_plan(
    service: IncidentService, row: IncidentRow, msgs: list[MessageRow], now: datetime
) -> tuple[Plan, int]:
    """The referral to the external audiences, and how many of their messages are cancelled."""
    plan = statements.takeover_plan(service.lib, service.facts_of(row), now)
    return plan, statements.pending_press(service.lib.playbook(row.factory), msgs)
