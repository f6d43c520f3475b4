"""Previews: the plan a hypothetical incident would produce (`crisisd render`, the bot's
preview) and a human-readable description of what each audience would receive."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import datetime

from crisisd.domain import Casualties, IncidentFacts, Plan, PlannedMessage, channel_kind
from crisisd.errors import InvalidReportError
from crisisd.formats.timefmt import duration_words
from crisisd.planning.planner import plan_open
from crisisd.planning.sources import Sources
from crisisd.problems import did_you_mean


def describe_plan(lib: Sources, plan: Plan, channel: str | None = None) -> str:
    """Every step's audience, channels and exact texts, with SMS parts and template approval."""
    by_step: dict[tuple[int, str], list[PlannedMessage]] = defaultdict(list)
    for msg in plan.messages:
        by_step[(msg.step, msg.audience)].append(msg)
    out: list[str] = []
    for (step, audience), msgs in sorted(by_step.items()):
        first = msgs[0]
        delay = first.not_before - msgs[0].not_before
        head = (
            f"== step {step + 1}: {audience} · {len(msgs)} recipient(s) · priority {first.priority}"
        )
        if first.sink_for:
            head += (
                f" · DRILL SINK for '{first.sink_for}' (external audiences get nothing in a drill)"
            )
        if first.ack_required and first.ack_deadline:
            within = first.ack_deadline - first.not_before
            head += f" · ack within {duration_words(within, 'en')}"
            if first.escalate_to:
                head += f", then escalate to {first.escalate_to}"
        if first.not_before > min(m.not_before for m in plan.messages) or delay:
            wait = first.not_before - min(m.not_before for m in plan.messages)
            head += f" · sent after {duration_words(wait, 'en')}"
        out.append(head)
        shown: set[tuple[str, str]] = set()
        for msg in msgs:
            who = lib.directory.contacts[msg.recipient].name.get(msg.lang)
            if not msg.channels:
                out.append(
                    f"  ! {msg.recipient} ({who}) is reachable on none of this step's channels"
                )
                continue
            route = " → ".join(msg.channels)
            out.append(f"  - {msg.recipient} ({who}, {msg.lang}): {route}")
            for ch in msg.channels:
                if channel and ch != channel:
                    continue
                kind = channel_kind(ch)
                if (kind, msg.lang) in shown:
                    continue
                shown.add((kind, msg.lang))
                out.append(_rendering(lib, msg, ch))
        out.append("")
    for task in plan.tasks:
        out.append(f"task: {task.title_en} — due {task.due_at.isoformat(timespec='minutes')}")
    if plan.next_update_at:
        out.append(f"next update due: {plan.next_update_at.isoformat(timespec='minutes')}")
    return "\n".join(out).rstrip() + "\n"


def _rendering(lib: Sources, msg: PlannedMessage, channel: str) -> str:
    r = msg.rendering_for(channel)
    ref = lib.templates.by_rel(r.template)
    approval = lib.approvals.describe(ref) if ref else "unknown template"
    meta = f"template {r.template} ({approval}), sha256 {r.sha256[:12]}…"
    if r.kind == "sms":
        meta += f", {r.sms_parts} SMS part(s)"
    if r.truncated:
        meta += ", TRUNCATED to fit"
    lines = [f"    [{channel} as {msg.lang}] {meta}"]
    if r.subject is not None:
        lines.append(f"    Subject: {r.subject}")
    lines.extend(f"    | {line}" for line in r.text.splitlines())
    return "\n".join(lines)


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
