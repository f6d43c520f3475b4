"""When a drill's window closes, its score goes to the officer and to management."""

from __future__ import annotations

from crisisd.context import DaemonContext
from crisisd.planning.planner import plan_notice
from crisisd.reports.drill import drill_score, previous_drill
from crisisd.reports.drill_text import render_drill_text
from crisisd.store import AuditEntry, IncidentRow

MANAGEMENT = "management"


async def send_drill_report(ctx: DaemonContext, row: IncidentRow) -> None:
    """Score the drill, compare with the factory's previous one, and tell the people in charge."""
    lib = ctx.library()
    previous = await previous_drill(ctx.store, row.factory, row.id)
    score = await drill_score(ctx.store, lib, row.id, previous)
    texts = {lang: render_drill_text(score, lang) for lang in ("fa", "en")}
    pb = lib.playbook(row.factory)
    people = [row.reporter]
    if MANAGEMENT in pb.audiences:
        people.extend(pb.audiences[MANAGEMENT].members)
    now = ctx.service.clock()
    plan = plan_notice(
        lib, ctx.service.facts_of(row), texts, "drill-report", now, people, html=True
    )
    entry = AuditEntry(row.id, now, "crisisd", "drill.reported", None, {"to": people})
    await ctx.store.add_plan(row.id, plan, [entry], now)
    ctx.kick()
