"""The pages: province overview, incidents, one incident, one drill, reachability; and
the live fragments their script refreshes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from crisisd.dashboard import views
from crisisd.dashboard.frame import lang_of, need, render
from crisisd.dashboard.state import STATE, Who
from crisisd.enrolment.reach import OK, PersonReach, people, reach_report
from crisisd.reports.drill import drill_score, previous_drill
from crisisd.store import IncidentRow
from crisisd.store.board import OPEN, RECORD_TYPE

MESSAGES_PER_PAGE = 100


def _page(request: web.Request, key: str = "page") -> int:
    try:
        return max(1, min(int(request.query.get(key, "1")), 100_000))
    except ValueError:
        raise web.HTTPBadRequest(text=f"{key} is a page number from 1") from None


async def overview(request: web.Request) -> web.Response:
    who = need(request)
    view = await views.overview(request.app[STATE], who, lang_of(request), _page(request))
    return render(request, "overview.html", view=view)


async def overview_live(request: web.Request) -> web.Response:
    """The open-incidents table alone, for the overview's live refresh."""
    who = need(request)
    state, lang = request.app[STATE], lang_of(request)
    opened = [s.value for s in OPEN]
    view = await views.incident_page(state, who, lang, _page(request), opened, drill=False)
    return render(
        request,
        "_open.html",
        lines=view.lines,
        page=view.page,
        pages=view.pages,
        pager_extra="",
        total=view.total,
    )


async def incidents(request: web.Request) -> web.Response:
    who = need(request)
    status = request.query.get("status", "open")
    statuses = [s.value for s in OPEN] if status == "open" else None
    view = await views.incident_page(
        request.app[STATE], who, lang_of(request), _page(request), statuses
    )
    return render(request, "incidents.html", view=view, status="open" if statuses else "all")


async def _visible(request: web.Request, who: Who) -> IncidentRow:
    """The incident named in the path, when the caller's role covers its factory."""
    state = request.app[STATE]
    row = await state.ctx.service.get(request.match_info["id"])
    if row.incident_type == RECORD_TYPE:
        raise web.HTTPNotFound(text=f"no incident '{row.id}'")
    if not who.sees(row.factory):
        await state.refuse(who, "dashboard.read", row.id, factory=row.factory)
        raise web.HTTPForbidden(text=f"{row.id} belongs to a factory you do not cover")
    return row


async def _incident_context(request: web.Request, row: IncidentRow, page: int) -> dict[str, Any]:
    state, lang = request.app[STATE], lang_of(request)
    store, lib = state.ctx.store, state.lib
    msgs = await store.messages_of(row.id)
    factory, type_name, _ = views.names(lib, row, lang)
    now = state.now()
    end = row.closed_at or now
    detail = views.IncidentDetail(row, factory, type_name, views.series(msgs, row.opened_at, end))
    detail.sent = views.sent_texts(msgs, (page - 1) * MESSAGES_PER_PAGE, MESSAGES_PER_PAGE)
    trail = await store.audit_of(row.id)
    timeline = [_event(e) for e in trail if e.action != "message.sent"][-200:]
    names = {cid: c.name.get(lang) for cid, c in lib.directory.contacts.items()}
    return {
        "d": detail,
        "timeline": timeline,
        "people": names,
        "total_messages": len(msgs),
        "msg_page": page,
        "msg_pages": max(1, -(-len(msgs) // MESSAGES_PER_PAGE)),
        "now": now,
        "headcount": await views.headcount_of(state, row),
    }


@dataclass(frozen=True, slots=True)
class _Event:
    at: Any
    action: str
    actor: str
    note: str


def _event(entry: Any) -> _Event:
    detail = entry.detail or {}
    note = detail.get("details") or detail.get("reason") or detail.get("what") or ""
    return _Event(entry.at, entry.action, entry.actor, str(note)[:300])


async def incident(request: web.Request) -> web.Response:
    who = need(request)
    row = await _visible(request, who)
    context = await _incident_context(request, row, _page(request, "mpage"))
    tasks = await request.app[STATE].reads.tasks_of(row.id)
    return render(request, "incident.html", tasks=tasks, **context)


async def incident_live(request: web.Request) -> web.Response:
    who = need(request)
    row = await _visible(request, who)
    context = await _incident_context(request, row, 1)
    return render(request, "_incident_live.html", **context)


async def drill(request: web.Request) -> web.Response:
    who = need(request)
    row = await _visible(request, who)
    if not row.drill:
        raise web.HTTPFound(f"/dashboard/incidents/{row.id}")
    state = request.app[STATE]
    store, lib = state.ctx.store, state.lib
    score = await drill_score(store, lib, row.id, await previous_drill(store, row.factory, row.id))
    return render(request, "drill.html", s=score)


@dataclass(frozen=True, slots=True)
class _Group:
    title: str
    people: list[PersonReach]

    @property
    def total(self) -> int:
        return len(self.people)

    @property
    def ok(self) -> int:
        return sum(1 for p in self.people if p.state == OK)

    @property
    def pct(self) -> float | None:
        return 100.0 * self.ok / self.total if self.total else None


async def contacts(request: web.Request) -> web.Response:
    who = need(request)
    state, lang = request.app[STATE], lang_of(request)
    lib = state.lib
    mine = [f for f in sorted(lib.playbooks) if who.sees(f)]
    factory = request.query.get("factory") or (mine[0] if mine else None)
    if factory is not None and factory not in mine:
        await state.refuse(who, "dashboard.contacts", None, factory=factory)
        raise web.HTTPForbidden(text=f"you do not cover {factory}")
    groups: list[_Group] = []
    if factory is not None:
        pb = lib.playbook(factory)
        rows = await reach_report(state.ctx.store, lib, people(lib, factory), state.now())
        by_id = {p.contact: p for p in rows}
        for name, aud in pb.audiences.items():
            title = aud.name.get(lang) if aud.name else name
            groups.append(_Group(title, [by_id[m] for m in aud.members if m in by_id]))
    names = [(f, lib.playbooks[f].factory.name.get(lang)) for f in mine]
    return render(request, "contacts.html", groups=groups, factory=factory, factories=names)


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_get("/", overview)
    r.add_get("/live/overview", overview_live)
    r.add_get("/incidents", incidents)
    r.add_get(r"/incidents/{id:[A-Za-z0-9-]{1,16}}", incident)
    r.add_get(r"/live/incidents/{id:[A-Za-z0-9-]{1,16}}", incident_live)
    r.add_get(r"/drills/{id:[A-Za-z0-9-]{1,16}}", drill)
    r.add_get("/contacts", contacts)
