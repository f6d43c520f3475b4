"""Bindings in the store (SQLite and PostgreSQL) and the library the daemon plans with.

A binding adds to the directory's chat ids and wins over them; a stale or retired one
hides the directory's same chat. Every change is audited.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from crisisd.domain import IncidentFacts
from crisisd.enrolment.directory import BoundLibrary, with_bindings
from crisisd.errors import StoreConflict
from crisisd.library.loader import load_library
from crisisd.library.model import Library
from crisisd.planning.planner import plan_open
from crisisd.store import AuditEntry, Store
from crisisd.store.bindings import ACTIVE, RETIRED, STALE, BindingBook, BindOutcome
from crisisd.store.tables import audit
from tests import minitree
from tests.minitree import T0

A_BIT = timedelta(minutes=1)


async def trail(store: Store) -> list[tuple[str, str | None, dict[str, object]]]:
    async with store.engine.connect() as conn:
        rows = (await conn.execute(sa.select(audit).order_by(audit.c.id))).all()
    return [(r.action, r.channel, r.detail) for r in rows]


async def test_a_bind_is_stored_audited_and_moves_the_snapshot(store: Store) -> None:
    book = BindingBook.of(store)
    assert BindingBook.of(store) is book  # one book per store: one snapshot per daemon
    version = book.version
    result = await book.bind("staff.b", "bale", 5555, "phone", T0, "bale:5555")
    assert result.outcome is BindOutcome.BOUND and not result.again
    assert result.binding is not None and result.binding.state == ACTIVE
    assert book.version > version
    assert [(b.contact, b.chat_id, b.how) for b in book.rows] == [("staff.b", 5555, "phone")]
    assert await trail(store) == [
        ("binding.bound", "bale", {"contact": "staff.b", "chat_id": 5555, "how": "phone"})
    ]
    again = await book.bind("staff.b", "bale", 5555, "invite", T0 + A_BIT, "bale:5555")
    assert again.outcome is BindOutcome.ALREADY
    assert len(await trail(store)) == 1  # nothing changed, nothing audited


async def test_a_new_chat_replaces_the_old_one_on_that_messenger_only(store: Store) -> None:
    book = BindingBook.of(store)
    await book.bind("staff.b", "bale", 5555, "phone", T0, "bale:5555")
    await book.bind("staff.b", "telegram", 7777, "phone", T0, "telegram:7777")
    moved = await book.bind("staff.b", "bale", 6666, "invite", T0 + A_BIT, "bale:6666")
    assert moved.outcome is BindOutcome.BOUND and moved.replaced == 5555
    states = {(b.messenger, b.chat_id): b.state for b in book.rows}
    assert states == {("bale", 5555): RETIRED, ("telegram", 7777): ACTIVE, ("bale", 6666): ACTIVE}
    actions = [a for a, _, _ in await trail(store)]
    assert actions[-2:] == ["binding.retired", "binding.bound"]


async def test_a_chat_that_is_someone_elses_stays_theirs(store: Store) -> None:
    book = BindingBook.of(store)
    await book.bind("staff.b", "bale", 5555, "phone", T0, "bale:5555")
    before = len(await trail(store))
    taken = await book.bind("boss.c", "bale", 5555, "invite", T0 + A_BIT, "bale:5555")
    assert taken.outcome is BindOutcome.TAKEN and taken.holder == "staff.b"
    assert [(b.contact, b.state) for b in book.rows] == [("staff.b", ACTIVE)]
    assert len(await trail(store)) == before


async def test_two_daemons_binding_one_chat_at_once_leave_one_holder(store: Store) -> None:
    """The partial unique index holds what the check-then-write cannot across processes."""
    other = Store(store.url)
    try:
        results = await asyncio.gather(
            BindingBook.of(store).bind("staff.b", "bale", 5555, "phone", T0, "bale:5555"),
            BindingBook.of(other).bind("boss.c", "bale", 5555, "phone", T0, "bale:5555"),
            return_exceptions=True,
        )
    finally:
        await other.aclose()
    bound = [r for r in results if not isinstance(r, BaseException) and r.outcome == "bound"]
    others = [r for r in results if r not in bound]
    assert len(bound) == 1
    [loser] = others
    assert isinstance(loser, StoreConflict) or loser.outcome is BindOutcome.TAKEN  # type: ignore[union-attr]
    await BindingBook.of(store).load()
    assert [b.state for b in BindingBook.of(store).rows] == [ACTIVE]


async def test_stale_then_started_again(store: Store) -> None:
    book = BindingBook.of(store)
    await book.bind("staff.b", "bale", 5555, "phone", T0, "bale:5555")
    stale = await book.stale("staff.b", "bale", 5555, "bot was blocked", T0 + A_BIT, "crisisd")
    assert stale is not None and stale.state == STALE
    assert await book.stale("staff.b", "bale", 5555, "again", T0 + A_BIT, "crisisd") is None
    await book.told([stale.id], T0 + A_BIT)
    back = await book.bind("staff.b", "bale", 5555, "phone", T0 + 2 * A_BIT, "bale:5555")
    assert back.outcome is BindOutcome.BOUND and back.again
    assert back.binding is not None and back.binding.told_at is None  # told again next time
    actions = [a for a, _, _ in await trail(store)]
    assert actions == ["binding.bound", "binding.stale", "binding.bound"]


async def test_a_directory_chat_gets_a_row_when_it_fails_or_is_stopped(store: Store) -> None:
    book = BindingBook.of(store)
    row = await book.stale("staff.b", "bale", 1002, "blocked", T0, "crisisd")
    assert row is not None and (row.how, row.state) == ("directory", STALE)
    gone = await book.retire("staff.b", "bale", 1002, "stopped", T0 + A_BIT, "bale:1002")
    assert gone is not None and gone.state == RETIRED
    assert await book.retire("staff.b", "bale", 1002, "stopped", T0 + A_BIT, "bale:1002") is None


async def test_a_hook_that_refuses_rolls_the_bind_back(store: Store) -> None:
    book = BindingBook.of(store)

    async def refuse(_conn: object) -> None:
        raise LookupError("invite already used")

    with pytest.raises(LookupError):
        await book.bind("staff.b", "bale", 5555, "invite", T0, "bale:5555", before=refuse)
    await book.load()
    assert book.rows == () and await trail(store) == []


async def test_removed_contacts_lose_their_bindings(store: Store) -> None:
    book = BindingBook.of(store)
    await book.bind("staff.b", "bale", 5555, "phone", T0, "bale:5555")
    await book.bind("gone.x", "bale", 6666, "phone", T0, "bale:6666")
    retired = await book.retire_missing({"staff.b", "boss.c"}, T0 + A_BIT)
    assert [b.contact for b in retired] == ["gone.x"]
    assert {b.contact: b.state for b in book.rows} == {"staff.b": ACTIVE, "gone.x": RETIRED}
    assert await book.retire_missing({"staff.b"}, T0 + A_BIT) == []


async def test_deliveries_only_move_forward(store: Store) -> None:
    book = BindingBook.of(store)
    bound = await book.bind("staff.b", "bale", 5555, "phone", T0, "bale:5555")
    assert bound.binding is not None
    bid = bound.binding.id
    await book.delivered([(bid, T0 + 2 * A_BIT), (bid, T0 + A_BIT)])
    await book.delivered([(bid, T0)])
    assert book.rows[0].last_delivery_at == T0 + 2 * A_BIT


# -- the merged library ------------------------------------------------------------------


@pytest.fixture
def no_bale_lib(tmp_path: Path) -> Library:
    """The mini tree with staff.b known on Telegram only (no Bale chat id in the directory)."""
    config = minitree.make_tree(tmp_path / "tree")
    directory = minitree.DIRECTORY.replace(
        "chats: {bale: 1002, telegram: 2002}", "chats: {telegram: 2002}"
    )
    (tmp_path / "tree" / "playbooks" / "directory.yaml").write_text(directory, encoding="utf-8")
    return load_library(config)


def _facts() -> IncidentFacts:
    return IncidentFacts("KMT-479", "mini", "fire", "major", "officer.a", T0, details="x")


async def test_a_person_bound_on_bale_is_planned_and_addressed_on_bale(
    store: Store, no_bale_lib: Library
) -> None:
    bound = await BoundLibrary.start(store, lambda: no_bale_lib)
    [before] = [m for m in plan_open(bound(), _facts()).messages if m.recipient == "staff.b"]
    assert before.channels == ("sms",)
    await bound.book.bind("staff.b", "bale", 5555, "phone", T0, "bale:5555")
    plan = plan_open(bound(), _facts())
    [after] = [m for m in plan.messages if m.recipient == "staff.b"]
    assert after.channels == ("bale", "sms")
    entry = AuditEntry("KMT-479", T0, "officer.a", "incident.opened")
    await store.open_incident(_facts(), plan, entry, source="test", idempotency_key=None)
    [row] = [m for m in await store.messages_of("KMT-479") if m.recipient == "staff.b"]
    assert bound.address_of(row, "bale") == "5555"
    assert bound.address_of(row, "telegram") == "2002"  # the directory's still work


def test_bindings_win_over_and_hide_the_directory(library: Library) -> None:
    from crisisd.store.bindings import Binding

    def row(contact: str, messenger: str, chat: int, state: str) -> Binding:
        return Binding(0, contact, messenger, chat, "phone", state, T0, T0, "", None, None)

    lib = with_bindings(
        library,
        [
            row("staff.b", "bale", 5555, ACTIVE),  # wins over 1002
            row("staff.b", "telegram", 2002, STALE),  # the directory's own chat, blocked
            row("boss.c", "bale", 9999, RETIRED),  # another chat: the directory's 1003 stands
            row("officer.a", "bale", 1001, RETIRED),  # /stop in the directory's chat
            row("nobody", "bale", 4444, ACTIVE),  # not in the directory: ignored
        ],
    )
    chats = {cid: c.chats for cid, c in lib.directory.contacts.items()}
    assert chats == {
        "officer.a": {},
        "staff.b": {"bale": 5555},
        "boss.c": {"bale": 1003},
        "press.d": {},
    }
    assert library.directory.contacts["staff.b"].chats == {"bale": 1002, "telegram": 2002}
    assert with_bindings(library, []) is library


async def test_the_bound_library_is_cached_until_something_changes(
    store: Store, library: Library
) -> None:
    base = [library]
    bound = await BoundLibrary.start(store, lambda: base[0])
    first = bound()
    assert bound() is first
    await bound.book.bind("press.d", "bale", 5555, "invite", T0, "bale:5555")
    second = bound()
    assert second is not first and second.directory.contacts["press.d"].chats == {"bale": 5555}
    assert bound() is second
    base[0] = load_library(library.config)  # a reload
    third = bound()
    assert third is not second and third.directory.contacts["press.d"].chats == {"bale": 5555}
