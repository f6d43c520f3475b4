"""What each page shows, read from the store and the library: plain data for templates."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from crisisd.dashboard.state import BoardState, Who
from crisisd.domain import IncidentStatus, channel_kind
from crisisd.enrolment.reach import BLOCKED, OK, people, reach_report
from crisisd.formats.crontab import parse_cron
from crisisd.library.model import Library
from crisisd.planning.render import SEVERITY_NAMES
from crisisd.rollcall.headcount import Headcount
from crisisd.rollcall.service import RollCalls
from crisisd.store import IncidentRow, MessageRow
from crisisd.store.board import OPEN, Tally

PER_PAGE = 50


@dataclass(frozen=True, slots=True)
class Line:
    """One incident in a table."""

    row: IncidentRow
    factory: str
    type_name: str
    severity: str
    tally: Tally
    age: timedelta
    headcount: Headcount | None = None  # None: this incident asked no one "are you safe?"

    @property
    def taken_over(self) -> bool:
        return self.row.status == IncidentStatus.TAKEN_OVER


@dataclass(frozen=True, slots=True)
class Readiness:
    factory_id: str
    factory: str
    last_drill: float | None  # ack % of the last drill
    trend: float | None  # points against the drill before it
    last_drill_id: str | None
    reach_pct: float | None
    stale: int
    overdue_tasks: int


@dataclass(frozen=True, slots=True)
class Upcoming:
    at: datetime
    factory: str
    scenario: str


@dataclass(frozen=True, slots=True)
class Overview:
    lines: tuple[Line, ...]
    total: int
    page: int
    pages: int
    upcoming: tuple[Upcoming, ...] = ()
    readiness: tuple[Readiness, ...] = ()


def names(lib: Library, row: IncidentRow, lang: str) -> tuple[str, str, str]:
    """Factory, incident type and severity names in ``lang`` (ids when unknown)."""
    pb = lib.playbooks.get(row.factory)
    if pb is None:
        return row.factory, row.incident_type, row.severity
    itype = pb.incidents.get(row.incident_type)
    return (
        pb.factory.name.get(lang),
        itype.name.get(lang) if itype else row.incident_type,
        severity_name(row.severity, lang),
    )


def severity_name(severity: str, lang: str) -> str:
    return SEVERITY_NAMES.get(severity, {}).get(lang, severity)


async def lines(state: BoardState, rows: tuple[IncidentRow, ...], lang: str) -> tuple[Line, ...]:
    tallies = await state.reads.tallies([r.id for r in rows])
    now, lib = state.now(), state.lib
    counts = {r.id: await headcount_of(state, r) for r in rows}
    return tuple(
        Line(r, *names(lib, r, lang), tallies.get(r.id, Tally()), now - r.opened_at, counts[r.id])
        for r in rows
    )


async def headcount_of(state: BoardState, row: IncidentRow) -> Headcount | None:
    """The roll call's live headcount (rollcall/), or None when nobody was asked."""
    count = await RollCalls(state.ctx.service).headcount(row.id)
    return count if count.total.total else None


async def incident_page(
    state: BoardState,
    who: Who,
    lang: str,
    page: int,
    statuses: list[str] | None,
    drill: bool | None = None,
) -> Overview:
    got = await state.reads.page(
        factories=who.factories,
        statuses=statuses,
        drill=drill,
        limit=PER_PAGE,
        offset=(page - 1) * PER_PAGE,
    )
    pages = max(1, -(-got.total // PER_PAGE))
    return Overview(await lines(state, got.rows, lang), got.total, page, pages)


async def overview(state: BoardState, who: Who, lang: str, page: int) -> Overview:
    opened = await incident_page(state, who, lang, page, [s.value for s in OPEN], drill=False)
    lib = state.lib
    factories = sorted(f for f in lib.playbooks if who.sees(f))
    return Overview(
        opened.lines,
        opened.total,
        opened.page,
        opened.pages,
        upcoming_drills(lib, factories, state.now(), lang),
        await readiness(state, factories, lang),
    )


def upcoming_drills(
    lib: Library, factories: list[str], now: datetime, lang: str, n: int = 8
) -> tuple[Upcoming, ...]:
    out = []
    for fid in factories:
        pb = lib.playbooks[fid]
        for drill in pb.drills:
            fire = parse_cron(drill.cron, lib.config.zone).get_next_fire_time(None, now)
            if fire is not None:
                itype, _, sev = drill.scenario.partition("/")
                kind = pb.incidents.get(itype)
                out.append(
                    Upcoming(
                        fire,
                        pb.factory.name.get(lang),
                        f"{kind.name.get(lang) if kind else itype} / {severity_name(sev, lang)}",
                    )
                )
    return tuple(sorted(out, key=lambda u: u.at)[:n])


async def readiness(state: BoardState, factories: list[str], lang: str) -> tuple[Readiness, ...]:
    lib, now = state.lib, state.now()
    overdue = await state.reads.overdue_tasks(now)
    out = []
    for fid in factories:
        drills = await state.reads.last_drills(fid, 2)
        tallies = await state.reads.tallies([d.id for d in drills])
        rates = [tallies.get(d.id, Tally()).acked_pct for d in drills]
        last = rates[0] if rates else None
        trend = (
            last - rates[1]
            if len(rates) > 1 and last is not None and rates[1] is not None
            else None
        )
        reach = await reach_report(state.ctx.store, lib, people(lib, fid), now)
        ok = sum(1 for p in reach if p.state == OK)
        out.append(
            Readiness(
                fid,
                lib.playbooks[fid].factory.name.get(lang),
                last,
                trend,
                drills[0].id if drills else None,
                100.0 * ok / len(reach) if reach else None,
                sum(1 for p in reach if p.state == BLOCKED),
                overdue.get(fid, 0),
            )
        )
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Series:
    """One audience's sent and acknowledged counts over time, as SVG polyline points."""

    audience: str
    total: int
    sent: int
    acked: int
    asked: int
    sent_points: str
    acked_points: str


@dataclass(frozen=True, slots=True)
class Sent:
    msg: MessageRow
    channel: str
    text: str
    subject: str | None


@dataclass
class IncidentDetail:
    row: IncidentRow
    factory: str
    type_name: str
    series: list[Series] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)


W, H = 300, 80  # the chart's viewBox


def series(messages: list[MessageRow], start: datetime, end: datetime) -> list[Series]:
    """Cumulative sent and acked per audience, scaled to the chart's box."""
    span = max((end - start).total_seconds(), 1.0)
    by: dict[str, list[MessageRow]] = defaultdict(list)
    for m in messages:
        if m.audience != "notice" and not m.sink_for:
            by[m.audience].append(m)

    def points(times: list[datetime], total: int) -> str:
        pts = [(0.0, float(H))]
        for i, at in enumerate(sorted(times), 1):
            x = W * min(max((at - start).total_seconds() / span, 0.0), 1.0)
            pts.append((x, H - H * i / total))
        pts.append((float(W), pts[-1][1]))
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)

    out = []
    for aud, msgs in sorted(by.items()):
        sent = [m.sent_at for m in msgs if m.sent_at is not None]
        acked = [m.acked_at for m in msgs if m.acked_at is not None]
        asked = sum(1 for m in msgs if m.ack_required)
        out.append(
            Series(
                aud,
                len(msgs),
                len(sent),
                len(acked),
                asked,
                points(sent, len(msgs)),
                points(acked, max(asked, 1)),
            )
        )
    return out


def sent_texts(messages: list[MessageRow], offset: int, limit: int) -> list[Sent]:
    """The messages with the exact text of the rendering that went (or will go) out."""
    out = []
    for m in messages[offset : offset + limit]:
        channel = m.sent_channel or m.channel
        kind = channel_kind(channel) if channel else ""
        data = m.renderings.get(kind) or next(iter(m.renderings.values()), {})
        out.append(Sent(m, channel, str(data.get("text", "")), data.get("subject")))
    return out
