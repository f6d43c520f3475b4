"""The claim's statements: which due messages a claim takes, and how it takes them.

Built with SQLAlchemy Core and compiled once per dialect and set of channels (prepared.py);
outbox.py runs them.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from crisisd.domain import MessageStatus
from crisisd.store.prepared import names
from crisisd.store.records import MESSAGE_FIELDS
from crisisd.store.tables import UTCDateTime, messages, status_is, status_text

PENDING = MessageStatus.PENDING
SENDING = MessageStatus.SENDING
# A claim returns the columns of MessageRow, in its order, and nothing else.
CLAIMED = [messages.c[name] for name in MESSAGE_FIELDS]
RENDERINGS_AT = MESSAGE_FIELDS.index("renderings")


def _due_ids(
    exclude: tuple[str, ...], only: tuple[str, ...] | None, ahead: tuple[str, ...] = ()
) -> sa.ScalarSelect[int]:
    """Ids of the next ``:limit`` claimable messages at ``:now``, highest priority first.

    Arms, each read in the order of an index and cut at the limit: pending messages that
    are due, and claims whose lease expired (their worker died). One ``OR`` over both made
    SQLite sort the whole backlog on every claim. ``exclude``: leave out these channels;
    ``only``: these channels alone, an arm each, so a busy channel's backlog is never read
    through (``(status, channel, priority, not_before)``); ``ahead`` (with ``only``): busy
    channels, an arm each, that give only messages more urgent than ``:ahead_p_<i>`` (an
    alert that overtakes their queue, read from the same index). Channel names are compiled
    into the statement: the sets are few.
    """
    now, limit = sa.bindparam("now", type_=UTCDateTime), sa.bindparam("limit", type_=sa.Integer)
    # The statuses are written into the SQL: the partial indexes are found only so.
    due = sa.and_(status_is(PENDING), messages.c.not_before <= now)
    expired = sa.and_(status_is(SENDING), messages.c.lease_until < now)
    channel = messages.c.channel
    if only is not None:
        conds = [sa.and_(due, channel == room) for room in names(only, "room_")]
        for i, busy in enumerate(names(ahead, "ahead_")):
            above = messages.c.priority < sa.bindparam(f"ahead_p_{i}", type_=sa.Integer)
            conds.append(sa.and_(due, channel == busy, above))
        if only:
            conds.append(sa.and_(expired, channel.in_(names(only, "room_in_"))))
    elif exclude:
        # A channel whose workers are all busy (slow, hung) gets no more claims for now;
        # its messages stay in the outbox and other channels go on.
        conds = [
            sa.and_(cond, channel.not_in(names(exclude, f"exclude_{i}_")))
            for i, cond in enumerate((due, expired))
        ]
    else:
        conds = [due, expired]
    arms = []
    for cond in conds:
        arm = (
            sa.select(messages.c.id, messages.c.priority, messages.c.not_before)
            .where(cond)
            .order_by(messages.c.priority, messages.c.not_before, messages.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)  # PostgreSQL; SQLite ignores it
        )
        sub = arm.subquery()
        arms.append(sa.select(sub.c.id, sub.c.priority, sub.c.not_before))
    both = sa.union_all(*arms).subquery()
    return (
        sa.select(both.c.id)
        .order_by(both.c.priority, both.c.not_before, both.c.id)
        .limit(limit)
        .scalar_subquery()
    )


def claim_statement(
    exclude: tuple[str, ...],
    only: tuple[str, ...] | None,
    ahead: tuple[str, ...] = (),
    returning: bool = True,
) -> sa.Update:
    """Built and compiled once per set of channels: a claim runs many times a second, and
    building costs more than running. Without ``returning`` for SQLite, which reads the
    claimed rows with :func:`claimed_packed`."""
    claim = (
        sa.update(messages)
        .where(messages.c.id.in_(_due_ids(exclude, only, ahead)))
        .values(
            status=status_text(SENDING),
            lease_until=sa.bindparam("until", type_=UTCDateTime),
            worker=sa.bindparam("worker"),
            attempts=messages.c.attempts + sa.literal_column("1"),
        )
    )
    return claim.returning(*CLAIMED) if returning else claim


def claimed_packed() -> sa.Select[Any]:
    """SQLite: the rows a claim just took, as one JSON array of arrays of the columns of
    :data:`CLAIMED` (prepared.py, ``fetch_packed``). The claim's lease time is this store's
    alone (``_lease_mark``), so with the worker it finds that claim's rows and no other's
    (``ix_messages_lease``).

    A row's renderings are ``null`` when the message just before it (its id less one) was
    taken by the same claim with the same renderings (:func:`unpack_renderings`). A claim's
    rows mostly share them (one step, language and audience of an incident): a few hundred
    bytes for a chat, kilobytes for an e-mail, escaped, sent and read back for every row,
    were 60 % of a claim's packed text: decoding it took 17 % of the event loop's time in a
    drain on bench/core.py. Packed once per run, the text read back halves (50 chats:
    30 kB to 14 kB, decoded in 62 µs instead of 112) and the drain gained 4 % (16.2k to
    16.9k msg/s, in runs taken in turn with the code before)."""
    mine = sa.and_(
        status_is(SENDING),
        messages.c.lease_until == sa.bindparam("until", type_=UTCDateTime),
        messages.c.worker == sa.bindparam("worker"),
    )
    before = messages.alias("before")
    same = (
        sa.select(before.c.renderings)
        .where(
            before.c.id == messages.c.id - sa.literal_column("1"),
            before.c.status == status_text(SENDING),
            before.c.lease_until == sa.bindparam("until", type_=UTCDateTime),
            before.c.worker == sa.bindparam("worker"),
        )
        .scalar_subquery()
    )
    shared = sa.case((messages.c.renderings == same, sa.null()), else_=messages.c.renderings)
    columns = [shared if c is messages.c.renderings else c for c in CLAIMED]
    return sa.select(sa.func.json_group_array(sa.func.json_array(*columns))).where(mine)


def unpack_renderings(rows: list[list[Any]]) -> list[list[Any]]:
    """The rows of :func:`claimed_packed` with every renderings given: a ``null`` is those of
    the message just before it, which the same claim took (in ``rows`` too)."""
    if any(r[RENDERINGS_AT] is None for r in rows):
        rows.sort(key=lambda r: r[0])  # by id: the one just before comes first
        known: dict[int, Any] = {}
        for r in rows:
            if r[RENDERINGS_AT] is None:
                r[RENDERINGS_AT] = known[r[0] - 1]
            known[r[0]] = r[RENDERINGS_AT]
    return rows
