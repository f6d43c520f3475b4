"""A claim's rows as the dispatcher gets them: on SQLite read back packed in one JSON row
(prepared.py ``fetch_packed``), on PostgreSQL from ``RETURNING``. Each claim gets its own rows
and no other's, even under a clock that stands still, and every value comes back as the
store reads it anywhere else."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import sqlalchemy as sa

from crisisd.incidents import IncidentService
from crisisd.library.model import Library
from crisisd.store import Store
from tests.minitree import T0, Clock, chat_sends, report

LEASE = timedelta(minutes=5)
LATER = T0 + timedelta(days=1)  # every step of the incidents opened at T0 is due
HOSTILE = 'a "quoted" \\ back\\slash\n\ttab \u200f‏راست‌به‌چپ 🔥 \u0001 </b> \' ; -- DROP'


async def test_claims_at_one_instant_each_get_their_own_rows(
    store: Store, library: Library
) -> None:
    service = IncidentService(store, lambda: library, Clock())
    for key in ("a", "b", "c"):
        await service.open(report(idempotency_key=key))
    first = await store.claim("w1", LATER, 2, LEASE)
    second = await store.claim("w1", LATER, 2, LEASE)  # the same clock reading and worker
    assert len(first) == len(second) == 2
    assert not {m.id for m in first} & {m.id for m in second}
    # the leases of the first claim extended to the very time the next claim would take
    await store.extend_leases("w1", [m.id for m in first], LATER + LEASE)
    third = await store.claim("w1", LATER, 2, LEASE)
    taken = {m.id for m in first} | {m.id for m in second}
    assert third and not {m.id for m in third} & taken
    assert len({m.id for m in third}) == len(third)


async def test_claimed_rows_equal_the_rows_read_anywhere_else(
    store: Store, library: Library
) -> None:
    opened = await IncidentService(store, lambda: library, Clock()).open(report())
    async with store.engine.begin() as conn:  # a text no template makes, through the JSON
        await conn.execute(
            sa.text(
                "UPDATE messages SET recipient = :r, last_error = :e, provider_id = :p "
                "WHERE incident_id = :i"
            ),
            {"r": HOSTILE, "e": HOSTILE, "p": "12345", "i": opened.incident_id},
        )
    claimed = {m.id: m for m in await store.claim("w1", LATER, 100, LEASE)}
    stored = {m.id: m for m in await store.messages_of(opened.incident_id)}
    assert claimed and claimed.keys() <= stored.keys()
    for mid, got in claimed.items():
        want = stored[mid]
        for field in dataclasses.fields(got):
            a, b = getattr(got, field.name), getattr(want, field.name)
            assert a == b, field.name
            assert type(a) is type(b), field.name
        assert got.recipient == HOSTILE
        assert got.provider_id == "12345"  # a number-like text stays text
        assert got.status == "sending" and got.last_error == HOSTILE
        assert got.not_before.tzinfo is not None and got.planned_at.tzinfo is not None


async def test_renderings_shared_by_neighbours_and_not_come_back_whole(
    store: Store, library: Library
) -> None:
    """On SQLite a row's renderings are packed once for a run of neighbours that share them
    (claims.py ``claimed_packed``): a run broken by other renderings, or by a neighbour
    that an earlier claim took, still reads back whole."""
    service = IncidentService(store, lambda: library, Clock())
    incidents = [(await service.open(report(idempotency_key=k))).incident_id for k in "ab"]
    stored = [m for i in incidents for m in await store.messages_of(i)]
    ids = sorted(m.id for m in stored)
    assert len(ids) >= 5
    other = {"chat": {"kind": "chat", "text": HOSTILE, "subject": None, "html": None}}
    async with store.engine.begin() as conn:
        # all alike but for the third and fourth; the first goes alone to an earlier claim
        await conn.execute(
            sa.text("UPDATE messages SET renderings = :r, priority = 50 WHERE id <> :a"),
            {"r": json.dumps(stored[0].renderings), "a": ids[0]},
        )
        await conn.execute(
            sa.text("UPDATE messages SET renderings = :r, priority = 0 WHERE id = :a"),
            {"r": json.dumps(stored[0].renderings), "a": ids[0]},
        )
        await conn.execute(
            sa.text("UPDATE messages SET renderings = :r WHERE id = :a OR id = :b"),
            {"r": json.dumps(other), "a": ids[2], "b": ids[3]},
        )
    want = {m.id: m.renderings for i in incidents for m in await store.messages_of(i)}
    assert want[ids[2]] == other != want[ids[1]]
    first = await store.claim("w1", LATER, 1, LEASE)  # the neighbour of the next one's first
    rest = await store.claim("w1", LATER, 1000, LEASE)
    assert len(first) + len(rest) == len(ids)
    for m in first + rest:
        assert m.renderings == want[m.id], m.id
    assert sum(m.renderings == other for m in first + rest) == 2
    assert [m.id for m in first] == ids[:1]


async def test_a_claim_that_finds_nothing_returns_nothing(store: Store, library: Library) -> None:
    assert await store.claim("w1", T0, 10, LEASE) == []
    await IncidentService(store, lambda: library, Clock()).open(report())
    assert await store.claim("w1", T0, 1000, LEASE)
    assert await store.claim("w1", T0, 1000, LEASE) == []


async def test_a_lone_surrogate_in_a_report_is_stored_sent_and_recorded(
    store: Store, library: Library
) -> None:
    """A str decoded from hostile JSON may hold half a surrogate pair, which UTF-8 cannot
    carry: the user's text loses it (templates.clean_user_text), as it loses control
    characters, instead of failing the write (the store's JSON would escape one anyway:
    jsontext.py)."""
    opened = await IncidentService(store, lambda: library, Clock()).open(
        report(details="آتش \ud800 در سالن")
    )
    claimed = await store.claim("w1", LATER, 100, LEASE)
    assert claimed
    sent = chat_sends(claimed)
    assert sent
    await store.record(sent, "w1")
    rows = {m.id: m for m in await store.messages_of(opened.incident_id)}
    assert all(rows[o.message_id].status == "sent" for o in sent)
    incident = await store.get_incident(opened.incident_id)
    assert incident is not None and incident.details == "آتش  در سالن"
