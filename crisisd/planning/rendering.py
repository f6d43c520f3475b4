"""Build a plan for a hypothetical incident, as `crisisd render` and the bot's preview show it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from crisisd.domain import Casualties, IncidentFacts, Plan
from crisisd.errors import InvalidReportError
from crisisd.planning.planner import plan_open
from crisisd.planning.sources import Sources
from crisisd.problems import did_you_mean


def preview_open(
    lib: Sources,
    factory: str,
    incident_type: str,
    severity: str,
    details: str,
    location: str,
    drill: bool,
    opened_at: datetime,
    lang: str | None = None,
    reporter: str | None = None,
) -> Plan:
    """The plan an incident would produce, without storing anything."""
    pb = lib.playbook(factory)
    if incident_type not in pb.incidents:
        raise InvalidReportError(
            f"unknown incident type '{incident_type}' for {factory} — "
            + did_you_mean(incident_type, pb.incidents)
        )
    if severity not in pb.incidents[incident_type].severities:
        raise InvalidReportError(
            f"unknown severity '{severity}' for {incident_type} — "
            + did_you_mean(severity, pb.incidents[incident_type].severities)
        )
    facts = IncidentFacts(
        id="PREVIEW",
        factory=factory,
        incident_type=incident_type,
        severity=severity,
        reporter=reporter or pb.factory.officers[0],
        opened_at=opened_at,
        details=details,
        location=location,
        casualties=Casualties.UNKNOWN,
        drill=drill,
    )
    if lang is None:
        return plan_open(lib, facts)
    forced = lib.directory.model_copy(
        update={
            "contacts": {
                cid: c.model_copy(update={"lang": lang})
                for cid, c in lib.directory.contacts.items()
            }
        }
    )
    return plan_open(replace(lib, directory=forced), facts)
