"""Reachability: a chat the messenger refuses for good goes stale (the officers hear it
once), deliveries move a binding's last delivery, removed contacts lose their bindings,
`crisisd contacts` says who is reachable where, and `crisisd validate --reach` warns.
On SQLite and PostgreSQL; the refusals come from the fake Bot API over HTTP."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from crisisd.cli import main
from crisisd.enrolment.directory import BoundLibrary
from crisisd.enrolment.reach import people, reach_report
from crisisd.enrolment.watch import ReachWatch
from crisisd.incidents import IncidentService
from crisisd.library.advice import reach_warnings
from crisisd.library.loader import load_library
from crisisd.playbook import Directory
from crisisd.store import OutcomeFailed, OutcomeFailover, OutcomeSent, Store
from crisisd.store.bindings import ACTIVE, STALE
from crisisd.store.receipts import Answer, ReceiptLedger
from tests.botworld import PTB_RETRY_AFTER
from tests.enrolworld import NEWCOMER_PHONE, EnrolWorld, enrol_world, make_enrol_tree, wait_for
from tests.minitree import T0, Clock, report

ROOT = Path(__file__).resolve().parent.parent
NEW = 7001


def watch_of(world: EnrolWorld) -> ReachWatch:
    return ReachWatch(world.store, world.bound, lambda: world.base, world.service.clock, world.kick)


async def notices(world: EnrolWorld) -> list[str]:
    """Recipients of enrolment notices written so far."""
    out = []
    for row in await world.store.list_incidents(["resolved"]):
        if row.incident_type == "enrolment" and row.severity == "notice":
            out += [m.recipient for m in await world.store.messages_of(row.id)]
    return sorted(out)


async def settled(world: EnrolWorld, incident_id: str, who: str) -> str:
    async def sent() -> str | None:
        for m in await world.store.messages_of(incident_id):
            if m.recipient == who and m.audience == "emergency_team" and m.status == "sent":
                return m.sent_channel
        return None

    channel: str = await wait_for(sent, f"{who}'s alert sent")
    return channel


@pytest.mark.parametrize("messenger", ["bale", "telegram"])
@PTB_RETRY_AFTER
async def test_a_blocked_bot_makes_the_binding_stale_and_the_officers_hear_once(
    tmp_path: Path, store: Store, messenger: str
) -> None:
    async with enrol_world(tmp_path, store, alerts_on=messenger) as world:
        await world.user(messenger, NEW)
        await world.share(messenger, NEW, NEWCOMER_PHONE)
        await world.chat(messenger, NEW).said("✅")
        await world.control(messenger, "chat_fault", {"chat_id": NEW, "fault": "block"})
        opened = await world.service.open(report())
        assert await settled(world, opened.incident_id, "staff.n") == "sms"  # failed over
        watch = watch_of(world)
        await watch.check()
        [row] = world.bound.book.of_contact("staff.n")
        assert row.state == STALE and row.told_at is not None
        # Telegram: "bot was blocked by the user"; Bale: 403 permission_denied
        assert "blocked" in row.reason or "permission_denied" in row.reason
        assert await notices(world) == ["officer.a", "officer.y", "officer.z"]
        officer = await world.chat("bale", 1001).said("نوید نوری")
        assert "پیامک" in officer["text"]  # where the alerts go now
        await watch.check()
        assert len(await notices(world)) == 3  # once per person
        again = await world.service.open(report(details="again"))
        [msg] = [m for m in await world.store.messages_of(again.incident_id)
                 if m.recipient == "staff.n" and m.audience == "emergency_team"]  # fmt: skip
        assert msg.channels == ["sms"]  # planned past the stale chat at once

        await world.control(messenger, "chat_fault", {"chat_id": NEW, "fault": "unblock"})
        await world.start(messenger, NEW)
        await world.chat(messenger, NEW).said("دوباره وصل شدید")
        [row] = world.bound.book.of_contact("staff.n")
        assert (row.state, row.told_at) == (ACTIVE, None)


@PTB_RETRY_AFTER
async def test_a_refused_directory_chat_gets_a_stale_row_and_deliveries_are_recorded(
    tmp_path: Path, store: Store
) -> None:
    async with enrol_world(tmp_path, store) as world:
        await world.user("bale", NEW)
        await world.share("bale", NEW, NEWCOMER_PHONE)
        await world.chat("bale", NEW).said("✅")
        await world.control("bale", "chat_fault", {"chat_id": 1002, "fault": "block"})  # staff.b
        opened = await world.service.open(report())
        assert await settled(world, opened.incident_id, "staff.n") == "bale"
        assert await settled(world, opened.incident_id, "staff.b") == "sms"
        await watch_of(world).check()
        [stale] = world.bound.book.of_contact("staff.b")
        assert (stale.how, stale.chat_id, stale.state) == ("directory", 1002, STALE)
        assert "bale" not in world.bound().directory.contacts["staff.b"].chats
        [mine] = world.bound.book.of_contact("staff.n")
        assert mine.last_delivery_at is not None  # the alert reached the bound chat
        rows = {
            r.contact: r
            for r in await reach_report(
                world.store, world.bound(), ["staff.b", "staff.n"], world.service.clock()
            )
        }
        assert rows["staff.b"].state == "blocked the bot"
        bale = rows["staff.n"].channels[0]
        assert (bale.channel, bale.state, bale.how, bale.address) == (
            "bale",
            "ok",
            "phone",
            str(NEW),
        )
        assert bale.last_delivery is not None


async def test_contacts_removed_from_the_directory_lose_their_bindings(
    tmp_path: Path, store: Store
) -> None:
    base = load_library(make_enrol_tree(tmp_path / "tree"))
    bound = await BoundLibrary.start(store, lambda: current[0])
    current = [base]
    await bound.book.bind("staff.n", "bale", NEW, "phone", T0, "bale:7001")
    watch = ReachWatch(store, bound, lambda: current[0], Clock())
    await watch.check()
    assert [b.state for b in bound.book.of_contact("staff.n")] == [ACTIVE]
    contacts = {k: v for k, v in base.directory.contacts.items() if k != "staff.n"}
    current[0] = replace(base, directory=Directory.model_construct(contacts=contacts))  # a reload
    await watch.check()
    assert [(b.state, b.reason) for b in bound.book.of_contact("staff.n")] == [
        ("retired", "no longer in the directory")
    ]


# -- the report ---------------------------------------------------------------------------


@pytest.fixture
async def recorded(tmp_path: Path, store: Store) -> tuple[Store, BoundLibrary]:
    """A fire alert whose deliveries were recorded as the channels would have answered."""
    base = load_library(make_enrol_tree(tmp_path / "tree"))
    bound = await BoundLibrary.start(store, lambda: base)
    clock = Clock()
    service = IncidentService(store, bound, clock)
    await bound.book.bind("staff.n", "bale", NEW, "phone", T0, "bale:7001")
    await bound.book.stale(
        "staff.b", "bale", 1002, "forbidden: Forbidden: bot was blocked by the user", T0, "crisisd"
    )
    opened = await service.open(report())
    claimed = {
        (m.recipient, m.channel): m for m in await store.claim("w1", T0, 100, timedelta(minutes=1))
    }
    at = T0 + timedelta(seconds=5)
    bale_n, e, boss = (
        claimed[("staff.n", "bale")],
        claimed[("staff.e", "sms")],
        claimed[("boss.c", "bale")],
    )
    await store.record([
        OutcomeSent(bale_n.id, "bale", at, f"{NEW}:5", opened.incident_id, "staff.n", bale_n.rendering("chat")),
        OutcomeFailed(e.id, "sms", at, "kavenegar: 411 receptor invalid (the number is not valid)"),
        OutcomeFailover(boss.id, "bale", at, "forbidden: Forbidden: permission_denied", 1, "email"),
    ], "w1")  # fmt: skip
    [boss_mail] = [
        m for m in await store.claim("w1", at, 10, timedelta(minutes=1)) if m.recipient == "boss.c"
    ]
    await store.record(
        [OutcomeFailed(boss_mail.id, "email", at, "recipient refused: 550 5.1.1 no such user")],
        "w1",
    )
    return store, bound


async def test_the_report_names_each_problem(recorded: tuple[Store, BoundLibrary]) -> None:
    store, bound = recorded
    lib = bound()
    rows = {
        r.contact: r for r in await reach_report(store, lib, people(lib), T0 + timedelta(minutes=1))
    }
    assert rows["staff.n"].state == "ok"
    assert rows["staff.b"].state == "blocked the bot"
    assert rows["staff.e"].state == "number invalid"
    assert rows["boss.c"].state == "email bounced"
    assert rows["desk.1"].state == "never connected"
    sms = {c.channel: c for c in rows["staff.e"].channels}["sms"]
    assert sms.address == "+98912***5566" and "411" in sms.detail
    assert rows["staff.n"].factories == ("mini", "other")
    assert "mini/emergency_team" in rows["staff.n"].audiences
    as_json = json.dumps([r.as_dict() for r in rows.values()], ensure_ascii=False)
    assert "+989122225566" not in as_json  # phones masked


async def test_an_undelivered_sms_receipt_shows(store: Store, tmp_path: Path) -> None:
    base = load_library(make_enrol_tree(tmp_path / "tree"))
    bound = await BoundLibrary.start(store, lambda: base)
    service = IncidentService(store, bound, Clock())
    opened = await service.open(report())
    [m] = [
        m
        for m in await store.claim("w1", T0, 100, timedelta(minutes=1))
        if m.recipient == "staff.e"
    ]
    at = T0 + timedelta(seconds=5)
    await store.record(
        [OutcomeSent(m.id, "sms", at, "kv-1", opened.incident_id, "staff.e", m.rendering("sms"))],
        "w1",
    )
    ledger = ReceiptLedger(store)
    asked = await ledger.awaiting(T0, at + timedelta(minutes=1))
    await ledger.record(asked, {m.id: Answer(m.id, "undelivered")}, at + timedelta(minutes=2))
    [row] = await reach_report(store, bound(), ["staff.e"], at + timedelta(minutes=3))
    assert row.state == "SMS undelivered"


# -- the commands ---------------------------------------------------------------------------


@pytest.fixture
def sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("playbooks", "templates"):
        shutil.copytree(ROOT / name, tmp_path / name)
    (tmp_path / "config.yaml").write_text(
        (ROOT / "config.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str) -> str:
    result = CliRunner().invoke(main, [*args, "--config", "config.yaml"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_crisisd_contacts_lists_who_is_reachable_where(sample: Path) -> None:
    out = run("contacts", "--factory", "shahriar-steel", "--lang", "en")
    assert "staff.sadeghi — Hassan Sadeghi — never connected — Bale: never connected" in out
    assert (
        "hse.jafari — Reza Jafari — ok — Bale: ok, from the directory; Telegram: never connected; SMS: ok"
        in out
    )
    fa = run(
        "contacts", "--audience", "emergency_team", "--factory", "shahriar-steel", "--lang", "fa"
    )
    assert "رضا جعفری" in fa and "هرگز وصل نشده" in fa
    rows = json.loads(run("contacts", "--json"))
    assert {r["contact"] for r in rows} >= {"staff.sadeghi", "press.irna"}
    [sadeghi] = [r for r in rows if r["contact"] == "staff.sadeghi"]
    assert [c["channel"] for c in sadeghi["channels"]] == ["bale", "telegram", "sms"]


def test_validate_reach_warns_about_acknowledging_audiences_no_messenger_reaches(
    sample: Path,
) -> None:
    directory = sample / "playbooks" / "directory.yaml"
    text = directory.read_text(encoding="utf-8")
    directory.write_text(text.replace("    chats: {bale: 1000001104}\n", ""), encoding="utf-8")
    plain = run("validate")
    assert "must acknowledge" not in plain  # only with --reach: it reads the store
    out = run("validate", "--reach")
    assert (
        "'emergency_team' must acknowledge, but 1 member(s) are reachable on none of this step's messengers (bale, telegram): hse.jafari"
        in out
    )
    assert "crisisd invite --audience emergency_team --factory shahriar-steel" in out
    summary = json.loads(run("validate", "--reach", "--json"))
    assert any("hse.jafari" in w["message"] for w in summary["warnings"])


async def test_a_binding_silences_the_reach_warning(store: Store, tmp_path: Path) -> None:
    config = make_enrol_tree(tmp_path / "tree")
    base = load_library(config)
    bound = await BoundLibrary.start(store, lambda: base)
    mini, other = sorted(reach_warnings(bound()), key=lambda w: w.path)
    assert mini.path.endswith("mini.yaml") and other.path.endswith("other.yaml")
    assert "staff.n" in mini.message and "staff.e" in mini.message
    await bound.book.bind("staff.n", "bale", NEW, "phone", T0, "bale:7001")
    mini, _ = sorted(reach_warnings(bound()), key=lambda w: w.path)
    assert "staff.n" not in mini.message and "staff.e" in mini.message
