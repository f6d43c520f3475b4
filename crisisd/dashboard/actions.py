"""Actions from the dashboard: report (or drill) with the same preview → confirm as the
bot, update, resolve, take over. Each goes through the incident service; a form without
its CSRF token, or a role that may not, is refused (403, audited)."""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

from crisisd.dashboard.auth import csrf_ok
from crisisd.dashboard.frame import BASE, lang_of, need, render, see_other
from crisisd.dashboard.state import STATE, Who
from crisisd.domain import Casualties, IncidentReport
from crisisd.errors import InvalidReportError
from crisisd.library.model import Library
from crisisd.planning.preview import describe_plan, preview_open
from crisisd.store.board import OPEN


async def _form(request: web.Request, who: Who) -> Any:
    form = await request.post()
    if not csrf_ok(who, form.get("csrf")):
        await request.app[STATE].refuse(who, "dashboard.csrf", None, path=request.path)
        raise web.HTTPForbidden(text="the form's CSRF token is missing or wrong; reload the page")
    return form


def _scenarios(lib: Library, who: Who, lang: str) -> list[tuple[str, str]]:
    out = []
    for fid, pb in sorted(lib.playbooks.items()):
        if not (who.may("open", fid) or who.may("drill", fid)):
            continue
        for tid, itype in pb.incidents.items():
            for sev in itype.severities:
                label = f"{pb.factory.name.get(lang)} / {itype.name.get(lang)} / {sev}"
                out.append((f"{fid}/{tid}/{sev}", label))
    return out


def _report(request: web.Request, who: Who, form: Any) -> IncidentReport:
    """The report the form describes, once the caller's role allows it there."""
    lib = request.app[STATE].lib
    factory, _, rest = str(form.get("scenario", "")).partition("/")
    itype, _, severity = rest.partition("/")
    drill = bool(form.get("drill")) or not who.may("open")
    if not who.may("drill" if drill else "open", factory):
        raise web.HTTPForbidden(text=f"your role may not {'drill' if drill else 'report'} here")
    pb = lib.playbook(factory)
    officer = who.contact if who.contact in pb.factory.officers else pb.factory.officers[0]
    return IncidentReport(
        factory=factory,
        incident_type=itype,
        severity=severity,
        reporter=officer or pb.factory.officers[0],
        details=str(form.get("details", ""))[:1000],
        location=str(form.get("location", ""))[:200],
        casualties=Casualties.UNKNOWN,
        drill=drill,
        source=f"dashboard:{who.actor}"[:64],
    )


async def trigger_form(request: web.Request) -> web.Response:
    who = need(request)
    lib, lang = request.app[STATE].lib, lang_of(request)
    scenarios = _scenarios(lib, who, lang)
    if not scenarios:
        await request.app[STATE].refuse(who, "dashboard.trigger", None)
        raise web.HTTPForbidden(text="your role may not report incidents or drills")
    form = {"details": "", "location": "", "drill": not who.may("open")}
    return render(request, "trigger.html", scenarios=scenarios, chosen="", form=form, preview="")


async def trigger_preview(request: web.Request) -> web.Response:
    who = need(request)
    form = await _form(request, who)
    state, lang = request.app[STATE], lang_of(request)
    report = state.ctx.service.check_report(await _allowed(request, who, form))
    plan = preview_open(
        state.lib,
        report.factory,
        report.incident_type,
        report.severity,
        report.details,
        report.location,
        report.drill,
        state.now(),
        reporter=report.reporter,
    )
    shown = {"details": report.details, "location": report.location, "drill": report.drill}
    return render(
        request,
        "trigger.html",
        scenarios=_scenarios(state.lib, who, lang),
        chosen=f"{report.factory}/{report.incident_type}/{report.severity}",
        form=shown,
        preview=describe_plan(state.lib, plan),
        key=secrets.token_urlsafe(16),
    )


async def _allowed(request: web.Request, who: Who, form: Any) -> IncidentReport:
    try:
        return _report(request, who, form)
    except web.HTTPForbidden:
        await request.app[STATE].refuse(
            who, "dashboard.trigger", None, scenario=str(form.get("scenario", ""))
        )
        raise


async def trigger_confirm(request: web.Request) -> web.StreamResponse:
    who = need(request)
    form = await _form(request, who)
    state = request.app[STATE]
    report = await _allowed(request, who, form)
    key = str(form.get("key", ""))[:64]
    if key:  # a double click on Confirm opens one incident
        from dataclasses import replace

        report = replace(report, idempotency_key=f"dashboard:{who.actor}:{key}"[:200])
    opened = await state.ctx.service.open(report)
    if opened.created:
        state.ctx.kick()
    kind = "drills" if report.drill else "incidents"
    return see_other(f"{BASE}/{kind}/{opened.incident_id}")


async def act(request: web.Request) -> web.StreamResponse:
    """update, resolve or takeover on one incident."""
    who = need(request)
    action = request.match_info["action"]
    form = await _form(request, who)
    state = request.app[STATE]
    service = state.ctx.service
    row = await service.get(request.match_info["id"])
    if not who.may(action, row.factory):
        await state.refuse(who, f"dashboard.{action}", row.id, factory=row.factory)
        raise web.HTTPForbidden(text=f"your role may not {action} {row.id}")
    if row.status not in OPEN:
        raise InvalidReportError(f"incident {row.id} is already {row.status}")
    # officers act as themselves (the service checks they are officers there); province
    # staff as province:<id>, which the service accepts once the dashboard has checked
    actor = who.actor if who.role == "officer" else f"province:{who.actor}"
    if action == "update":
        details = str(form.get("details", "")).strip()
        if not details:
            raise InvalidReportError("write what changed before sending an update")
        planned = await service.update(row.id, details[:1000], actor)
    elif action == "resolve":
        planned = await service.resolve(row.id, actor)
    else:
        planned, _ = await service.takeover(row.id, actor)
    if planned:
        state.ctx.kick()
    return see_other(f"{BASE}/incidents/{row.id}")


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_get("/trigger", trigger_form)
    r.add_post("/trigger/preview", trigger_preview)
    r.add_post("/trigger/confirm", trigger_confirm)
    r.add_post(r"/incidents/{id:[A-Za-z0-9-]{1,16}}/{action:update|resolve|takeover}", act)
