"""Incident reports and drill scores, from a real store driven to known times."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from crisisd import redaction
from crisisd.domain import channel_kind
from crisisd.errors import UnknownIncidentError
from crisisd.formats.textfit import telegram_length
from crisisd.incidents import IncidentService, tell_officer_of_failure
from crisisd.library.loader import load_library
from crisisd.library.model import Library
from crisisd.reports.drill import (
    DrillScore,
    Unreached,
    drill_score,
    previous_drill,
)
from crisisd.reports.drill_text import render_drill_markdown, render_drill_text
from crisisd.reports.facts import Name, When, median, nearest_rank
from crisisd.reports.incident import incident_report, render_html, render_markdown
from crisisd.reports.render import md
from crisisd.scheduler.sweeper import sweep
from crisisd.store import Outcome, OutcomeFailed, OutcomeSent, Store
from tests.minitree import DIRECTORY, PLAYBOOK, T0, Clock, make_tree, report

# T0 is 2026-11-28 07:00 UTC: Saturday 10:30 in Tehran (UTC+03:30).
FA_T0 = "شنبه ۷ آذر ۱۴۰۵، ساعت ۱۰:۳۰"
EN_T0 = "Saturday 28 November 2026, 10:30"
P0 = T0 - timedelta(days=7)  # the previous drill, a week earlier
HOSTILE = "<script>alert('x')</script> | سالن ۲"
STALE = "Kavenegar 411: invalid receptor <09121115566>"

MORE_CONTACTS = """\
  staff.e1:
    name: {fa: رضا نوری, en: Reza Nouri}
    chats: {bale: 1011}
  staff.e2:
    name: {fa: نرگس یزدانی, en: Narges Yazdani}
    chats: {bale: 1012}
  staff.e3:
    name: {fa: حسین مرادی, en: Hossein Moradi}
    chats: {bale: 1013}
  staff.e4:
    name: {fa: زهرا رحیمی, en: "Zahra <i>R</i> | Rahimi"}
    phone: "0912 111 5566"
"""


@pytest.fixture
def crowd(tmp_path: Path) -> Library:
    """The mini tree with five people in the emergency team (one reachable by SMS only)."""
    config = make_tree(tmp_path / "tree")
    (tmp_path / "tree/playbooks/directory.yaml").write_text(
        DIRECTORY + MORE_CONTACTS, encoding="utf-8"
    )
    team = "members: [staff.b, staff.e1, staff.e2, staff.e3, staff.e4]"
    playbook = PLAYBOOK.replace("members: [staff.b]", team, 1)
    (tmp_path / "tree/playbooks/mini.yaml").write_text(playbook, encoding="utf-8")
    return load_library(config)


async def deliver(
    store: Store, incident_id: str, at: datetime, outcomes: dict[str, tuple[str, str]]
) -> None:
    """Claim what is due and record ``recipient -> (sent, channel) | (failed, reason)``.

    Messages of other incidents, or of recipients not named, are given back untouched.
    """
    claimed = await store.claim("test", at, 100, timedelta(minutes=5))
    done: list[Outcome] = []
    for m in claimed:
        if m.incident_id != incident_id or m.recipient not in outcomes:
            continue
        kind, value = outcomes[m.recipient]
        if kind == "sent":
            r = m.rendering(channel_kind(value))
            done.append(
                OutcomeSent(m.id, value, at, f"{value}:{m.id}", m.incident_id, m.recipient, r)
            )
        else:
            done.append(OutcomeFailed(m.id, m.channel, at, value))
    await store.record(done)
    await store.release("test")


async def ack(svc: IncidentService, clock: Clock, incident_id: str, who: str, at: datetime) -> None:
    clock.at = at
    await svc.acknowledge(incident_id, who, "bale")


@dataclass
class Drills:
    previous: str
    current: str


async def two_drills(store: Store, lib: Library) -> Drills:
    """A poor drill a week ago and a better one now, with known times.

    Previous: first message after 10 s; 2 of 5 acknowledged (60 s, 300 s); 3 unreached.
    Current: first message after 4 s; 4 of 5 (30, 60, 90, 120 s); 1 unreached (stale number).
    """
    clock = Clock(P0)
    svc = IncidentService(store, lambda: lib, clock)
    prev = (await svc.open(report(drill=True, source="scheduler"))).incident_id
    sent = P0 + timedelta(seconds=10)
    blocked = ("failed", "Forbidden: bot was blocked by the user")
    await deliver(
        store,
        prev,
        sent,
        {
            "staff.b": ("sent", "bale"),
            "staff.e1": ("sent", "bale"),
            "staff.e2": blocked,
            "staff.e3": blocked,
            "staff.e4": ("failed", STALE),
            "boss.c": ("sent", "bale"),
        },
    )
    await ack(svc, clock, prev, "staff.b", sent + timedelta(seconds=60))
    await ack(svc, clock, prev, "staff.e1", sent + timedelta(seconds=300))

    clock.at = T0
    cur = (await svc.open(report(drill=True, source="scheduler"))).incident_id
    sent = T0 + timedelta(seconds=4)
    team = {f"staff.{x}": ("sent", "bale") for x in ("b", "e1", "e2", "e3")}
    await deliver(
        store, cur, sent, {**team, "staff.e4": ("failed", STALE), "boss.c": ("sent", "bale")}
    )
    for who, seconds in (("staff.b", 30), ("staff.e1", 60), ("staff.e2", 90), ("staff.e3", 120)):
        await ack(svc, clock, cur, who, sent + timedelta(seconds=seconds))
    await ack(svc, clock, cur, "boss.c", sent + timedelta(seconds=45))  # not asked, still counted
    return Drills(prev, cur)


# -- statistics -------------------------------------------------------------------------------


def _s(*seconds: int) -> list[timedelta]:
    return [timedelta(seconds=s) for s in seconds]


def test_median_is_statistics_median_and_p90_is_nearest_rank() -> None:
    assert median(_s(30, 60, 90, 120)) == timedelta(seconds=75)
    assert median(_s(5)) == timedelta(seconds=5)
    assert median([]) is None
    assert nearest_rank(_s(*range(1, 11)), 90) == timedelta(seconds=9)
    assert nearest_rank(_s(120, 30, 90, 60), 90) == timedelta(seconds=120)
    assert nearest_rank(_s(7), 90) == timedelta(seconds=7)
    assert nearest_rank(_s(60, 300), 90) == timedelta(seconds=300)
    assert nearest_rank([], 90) is None


def test_markdown_cells_escape_pipes_markup_and_newlines() -> None:
    assert md("a|b <i>x</i>\nc") == r"a\|b \<i\>x\</i\> c"
    assert md("back\\slash `code` *b* [l]") == r"back\\slash \`code\` \*b\* \[l\]"


# -- the incident report ----------------------------------------------------------------------

_PIPE = re.compile(r"(?<!\\)\|")


def _assert_tables_line_up(markdown: str) -> None:
    """Every table row has as many unescaped pipes as its header: no cell broke out."""
    width = None
    for line in markdown.splitlines():
        if not line.startswith("|"):
            width = None
            continue
        n = len(_PIPE.findall(line))
        width = width or n
        assert n == width, line


SECRET = "tok-7f3c9a1e5b2d"  # a stand-in secret, registered to be masked
BLOCKED = "Forbidden: bot was blocked by the user <1002>"


@dataclass
class Busy:
    id: str
    alert: int  # staff.b's alert, failed on bale
    again: int  # its escalation resend, delivered by SMS


async def busy_incident(store: Store, library: Library) -> Busy:
    """A real incident through every action, with hostile text and a secret in it.

    10:30 opened; +4 s management told, staff.b's alert fails; +5 s the officer hears of
    it; 10:36 escalation (resend to staff.b, management told); +3 s resend delivered;
    10:38 staff.b acknowledges; update, takeover; 11:00 resolved.
    """
    redaction.register(SECRET)
    clock = Clock(T0)
    svc = IncidentService(store, lambda: library, clock)
    iid = (await svc.open(report(details=f"{HOSTILE} {SECRET}", location="سالن | ۲"))).incident_id
    first = {"staff.b": ("failed", BLOCKED), "boss.c": ("sent", "email")}
    await deliver(store, iid, T0 + timedelta(seconds=4), first)
    alert = next(m for m in await store.messages_of(iid) if m.recipient == "staff.b")
    clock.at = T0 + timedelta(seconds=5)
    await tell_officer_of_failure(svc, alert, BLOCKED)
    clock.at = T0 + timedelta(minutes=6)
    assert await sweep(svc) == 1
    resent = T0 + timedelta(minutes=6, seconds=3)
    await deliver(store, iid, resent, {"staff.b": ("sent", "sms")})
    await ack(svc, clock, iid, "staff.b", T0 + timedelta(minutes=8))
    await svc.update(iid, "<b>contained</b> | پایان", "officer.a")
    await svc.takeover(iid, "officer.a")
    clock.at = T0 + timedelta(minutes=30)
    await svc.resolve(iid, "officer.a")
    again = next(m for m in await store.messages_of(iid) if m.purpose == "escalation")
    return Busy(iid, alert.id, again.id)


async def test_incident_report_has_every_event_in_both_calendars(
    store: Store, library: Library
) -> None:
    busy = await busy_incident(store, library)
    doc = await incident_report(store, library, busy.id.lower())
    md_text, html = render_markdown(doc), render_html(doc)
    for text in (md_text, html):
        assert FA_T0 in text and EN_T0 in text
        assert "شنبه ۷ آذر ۱۴۰۵، ساعت ۱۰:۳۸" in text  # the ack
        assert "Saturday 28 November 2026, 10:38" in text
        assert "کارخانه کوچک" in text and "Mini Works" in text
        assert "مریم احمدی" in text and "Maryam Ahmadi" in text
        for event in ("incident opened", "message sent", "acknowledged", "delivery failed"):
            assert event in text
        for event in (
            "escalation: unacknowledged alert",
            "update sent",
            "taken over",
            "resolved (all clear)",
        ):
            assert event in text
        assert f"sms:{busy.again}" in text  # the provider id of the resend
        assert "fa/alert.sms.j2" in text
    assert [e.action for e in doc.timeline] == [
        "incident.opened",
        "message.sent",
        "delivery.failed",
        "escalation.fired",
        "message.sent",
        "ack",
        "incident.updated",
        "incident.taken_over",
        "incident.resolved",
    ]
    assert [e.offset for e in doc.timeline][:2] == [timedelta(0), timedelta(seconds=4)]
    sent = dict(doc.timeline[4].facts)
    assert sent["recipient"] == "علی بهرامی (Ali Bahrami)"
    assert sent["provider id"] == f"sms:{busy.again}"
    assert len(sent["sha256"]) == 12
    assert dict(doc.timeline[3].facts)["to"] == "management"
    assert not doc.drill and "DRILL" not in md_text
    assert doc.tasks[0].title.en == "Report to Social Security"
    assert doc.tasks[0].due.en in md_text and doc.tasks[0].due.fa in html


async def test_incident_report_counts_messages_and_acks(store: Store, library: Library) -> None:
    busy = await busy_incident(store, library)
    doc = await incident_report(store, library, busy.id)
    team = next(a for a in doc.audiences if a.audience.id == "emergency_team")
    assert (team.recipients, team.sent, team.failed, team.acks) == (1, 1, 1, 1)
    assert (team.asked, team.ack_rate) == (1, 1.0)
    assert team.median_ack == timedelta(minutes=1, seconds=57)  # ack minus the resend
    assert "۱ دقیقه و ۵۷ ثانیه · 1 min 57 s" in render_markdown(doc)
    press = next(a for a in doc.audiences if a.audience.id == "press")
    # the takeover stopped the delayed statement and the update; the referral waits
    assert press.external and (press.cancelled, press.pending, press.sent) == (2, 1, 0)
    line = next(m for m in doc.messages if m.id == busy.alert)
    assert (line.status, line.last_error, line.sent) == ("failed", BLOCKED, None)
    assert line.ack is not None and line.ack.en == "Saturday 28 November 2026, 10:38"
    assert [(a.recipient.id, a.via) for a in doc.acks] == [("staff.b", "bale")]


async def test_incident_report_escapes_and_redacts(store: Store, library: Library) -> None:
    busy = await busy_incident(store, library)
    doc = await incident_report(store, library, busy.id)
    md_text, html = render_markdown(doc), render_html(doc)
    for text in (md_text, html):
        assert SECRET not in text
        assert "<script>" not in text
    assert r"\*\*\*" in md_text and "***" in html  # the mask, escaped for Markdown
    # Markdown: hostile text backslashed, tables intact, no sent texts
    assert r"\<script\>" in md_text and r"\| سالن ۲" in md_text
    _assert_tables_line_up(md_text)
    assert "<details>" not in md_text and "<pre" not in md_text
    # HTML: standalone, right to left, everything escaped, sent texts collapsible
    assert html.startswith("<!DOCTYPE html>") and '<html lang="fa" dir="rtl">' in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "&lt;b&gt;contained&lt;/b&gt;" in html
    assert "blocked by the user &lt;1002&gt;" in html
    assert not re.search(r"https?://|<link|<img|<script|src=", html)
    sms = next(m for m in doc.messages if m.id == busy.again)
    assert sms.text is not None and "<script>" in sms.text  # the SMS text, exactly as sent
    assert html.count("<details>") == 2 == sum(1 for m in doc.messages if m.text)
    assert '<pre dir="auto">کارخانه کوچک آتش‌سوزی &lt;script&gt;' in html


async def test_unknown_incident_is_refused(store: Store, library: Library) -> None:
    with pytest.raises(UnknownIncidentError):
        await incident_report(store, library, "NOP-000")


async def test_drill_report_is_marked_as_a_drill(store: Store, crowd: Library) -> None:
    drills = await two_drills(store, crowd)
    doc = await incident_report(store, crowd, drills.current)
    md_text, html = render_markdown(doc), render_html(doc)
    assert doc.drill
    assert "DRILL — this was not a real incident" in md_text.splitlines()[2]
    assert '<p class="drill">' in html and "تمرین — این یک حادثهٔ واقعی نبود" in html
    assert "(DRILL)</title>" in html
    # the press statement went to the officer as a marked drill copy, not to the press
    assert any("drill copy" in a.audience.en for a in doc.audiences)
    assert not any(a.audience.id == "press" for a in doc.audiences)
    # hostile contact name and error escaped
    assert "Zahra &lt;i&gt;R&lt;/i&gt; | Rahimi" in html
    assert r"Zahra \<i\>R\</i\> \| Rahimi" in md_text
    assert "invalid receptor &lt;09121115566&gt;" in html
    _assert_tables_line_up(md_text)


# -- drill scores ---------------------------------------------------------------------------


async def test_drill_score_counts_times_and_the_unreached(store: Store, crowd: Library) -> None:
    drills = await two_drills(store, crowd)
    score = await drill_score(store, crowd, drills.current, None)
    assert score.drill and score.previous is None
    assert "Since drill" not in render_drill_text(score, "en")
    assert score.first_notification == timedelta(seconds=4)
    assert [(c.channel, c.delivered, c.failed) for c in score.channels] == [
        ("bale", 5, 0),
        ("sms", 0, 1),
    ]
    team = next(a for a in score.audiences if a.audience.id == "emergency_team")
    assert (team.asked, team.asked_acked, team.ack_rate) == (5, 4, 0.8)
    assert team.median_ack == timedelta(seconds=75)
    assert team.p90_ack == timedelta(seconds=120)
    management = next(a for a in score.audiences if a.audience.id == "management")
    assert (management.asked, management.acks, management.ack_rate) == (0, 1, None)
    assert (score.asked, score.acked, score.ack_rate) == (5, 4, 0.8)
    assert [
        (u.person.id, [a.id for a in u.audiences], u.last_error) for u in score.unreachable
    ] == [("staff.e4", ["emergency_team"], STALE)]
    # drill copies to the officer are not the drill's recipients
    assert all(not a.audience.id.startswith("drill_sink") for a in score.audiences)


async def test_drill_score_against_the_previous_drill(store: Store, crowd: Library) -> None:
    drills = await two_drills(store, crowd)
    clock = Clock(T0 - timedelta(days=3))
    svc = IncidentService(store, lambda: crowd, clock)
    aborted = (await svc.open(report(drill=True))).incident_id
    await svc.cancel(aborted, "officer.a", "wrong day")  # a cancelled drill is no baseline
    clock.at = T0 - timedelta(days=2)
    await svc.open(report())  # a real incident is no baseline either
    clock.at = T0 + timedelta(days=1)
    await svc.open(report(drill=True))  # a later drill is not "previous"

    assert await previous_drill(store, "mini", drills.current) == drills.previous
    assert await previous_drill(store, "mini", drills.previous) is None
    score = await drill_score(
        store, crowd, drills.current, await previous_drill(store, "mini", drills.current)
    )
    d = score.previous
    assert d is not None and d.previous_id == drills.previous
    assert d.first_notification == timedelta(seconds=-6)
    assert d.ack_rate_points == pytest.approx(40.0)
    assert d.p90_ack == timedelta(seconds=120 - 300)
    assert d.unreachable == 1 - 3
    assert d.previous_opened.en == "Saturday 21 November 2026, 10:30"


async def test_drill_score_renderings(store: Store, crowd: Library) -> None:
    drills = await two_drills(store, crowd)
    score = await drill_score(store, crowd, drills.current, drills.previous)
    en = render_drill_text(score, "en")
    for part in (
        "<b>Drill score " + drills.current + "</b>",
        EN_T0,
        "First notification: 4 s after opening",
        "Bale 5 sent, 0 failed · SMS 0 sent, 1 failed",
        "Acknowledged: 80% (4 of 5) · median 1 min 15 s · p90 2 min",
        "• emergency_team: 80% (4 of 5)",
        "Never reached (1):",
        "• Zahra &lt;i&gt;R&lt;/i&gt; | Rahimi (emergency_team) — Kavenegar 411: invalid "
        "receptor &lt;09121115566&gt;",
        f"Since drill {drills.previous} (Saturday 21 November 2026, 10:30):",
        "• First notification: 6 s faster",
        "• Ack rate: 40 points higher",
        "• time for 90% to acknowledge: 3 min faster",
        "• Never reached: 2 fewer",
    ):
        assert part in en
    acks, reach = en.split("Reached on the first-choice channel:")
    assert "management" not in acks  # nobody there was asked to acknowledge
    assert "• management: 100% (1 of 1) on Bale" in reach  # but Bale reached them

    fa = render_drill_text(score, "fa")
    assert fa.startswith("\u200f<b>کارنامهٔ تمرین")
    for part in (
        FA_T0,
        "نخستین پیام: ۴ ثانیه پس از گشایش",
        "تأیید دریافت: ۸۰٪ (۴ از ۵) — میانه ۱ دقیقه و ۱۵ ثانیه — ۹۰٪ تا ۲ دقیقه",
        "بله ۵ فرستاده، ۰ ناموفق — پیامک ۰ فرستاده، ۱ ناموفق",
        "• زهرا رحیمی (emergency_team) — نرسید",
        "• نخستین پیام: ۶ ثانیه زودتر",
        "• نرخ تأیید: ۴۰ واحد درصد بیشتر",
        "• زمان تأیید ۹۰٪ افراد: ۳ دقیقه زودتر",
        "• دست‌نیافته‌ها: ۲ نفر کمتر",
    ):
        assert part in fa
    assert "<script" not in fa
    assert " · " not in fa and "p90" not in fa and "Kavenegar" not in fa
    for silent in score.silent:  # reached, asked, never acknowledged: by name
        assert silent.en in en and silent.fa in fa

    markdown = render_drill_markdown(score)
    assert "DRILL" in markdown
    assert r"Zahra \<i\>R\</i\> \| Rahimi" in markdown
    assert r"Kavenegar 411: invalid receptor \<09121115566\>" in markdown
    assert "6 s faster" in markdown and "۴۰ واحد درصد بیشتر" in markdown
    assert "3 min faster" in markdown and "2 fewer" in markdown
    _assert_tables_line_up(markdown)


def test_drill_text_fits_one_telegram_message() -> None:
    t = When(T0, FA_T0, EN_T0)
    many = tuple(
        Unreached(
            Name(f"c{i}", f"نفر {i}", f"Person {i}"),
            (Name("staff", "کارکنان", "staff"),),
            "x<y " * 200,
            "failed",
        )
        for i in range(500)
    )
    mini = Name("mini", "کارخانه کوچک", "Mini Works")
    score = DrillScore("ABC-346", mini, mini, "major", True, "open", t, None, (), (), many)
    for lang in ("fa", "en"):
        text = render_drill_text(score, lang)
        assert telegram_length(text) <= 4096
    assert "x&lt;y" in render_drill_text(score, "en")  # the provider's reason, escaped
    assert "and 490 more" in render_drill_text(score, "en")
    assert "و ۴۹۰ نفر دیگر" in render_drill_text(score, "fa")
    assert "nothing sent yet" in render_drill_text(score, "en")


async def test_previous_drill_of_an_unknown_incident_is_refused(store: Store) -> None:
    with pytest.raises(UnknownIncidentError):
        await previous_drill(store, "mini", "NOP-000")


def test_drill_api_is_reachable_from_crisisd_reports() -> None:
    import crisisd.reports.drill as reports_drill
    import crisisd.reports.drill_text as reports_drill_text
    import crisisd.reports.incident as reports

    for name in ("DrillScore", "drill_score", "previous_drill"):
        assert getattr(reports, name) is getattr(reports_drill, name)
    assert reports.render_drill_text is reports_drill_text.render_drill_text
    with pytest.raises(AttributeError):
        _ = reports.no_such_thing  # type: ignore[attr-defined]
