"""Bulk sends: a worker of a bulk-capable channel (SMS) sends many queued messages at once.

When a channel offers :class:`~crisisd.channels.base.BulkChannel` with a ``bulk_size``
above 1, the worker that takes a message from the channel's queue also takes the queued
messages with the same rendered text (up to ``bulk_size``, looking at no more than
``SCAN`` times that many entries, one message per recipient), and hands them to the
channel's ``send_many`` as one request. The channel answers a result per message, and the
dispatcher records each through the pure ``decide()`` as if it had been sent alone: a
number that failed is retried or failed over by itself, the others are done.

A batch takes one slot of the channel's pacer, as the providers count one request (see
``crisisd/channels/sms``). Channels with a per-destination rate are never batched here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime

from crisisd.channels.base import (
    BulkChannel,
    Channel,
    Failed,
    OutboundMessage,
    Retry,
    SendResult,
)
from crisisd.domain import channel_kind
from crisisd.store import MessageRow

Entry = tuple[int, datetime, int, MessageRow]  # the dispatcher's queue entry, message last
SCAN = 4  # entries looked at per message wanted, so a mixed queue costs little


def bulk_of(channel: Channel) -> BulkChannel | None:
    """``channel`` when it takes more than one message in one ``send_many`` now, else None."""
    # getattr first: this runs for every message of every channel, isinstance is slower
    if getattr(channel, "bulk_size", 1) <= 1 or channel.limits.per_destination_per_second:
        return None
    return channel if isinstance(channel, BulkChannel) else None


def _text(msg: MessageRow) -> str:
    return msg.rendering(channel_kind(msg.channel)).text


def gather(queue: asyncio.PriorityQueue[Entry], first: MessageRow, size: int) -> list[MessageRow]:
    """``first`` and up to ``size - 1`` queued messages with its text, one per recipient;
    every other entry looked at goes back to the queue, its order unchanged."""
    batch, seen = [first], {first.recipient}
    text = _text(first)
    back: list[Entry] = []
    for _ in range(min(queue.qsize(), size * SCAN)):
        if len(batch) >= size:
            break
        entry = queue.get_nowait()
        msg = entry[-1]
        if msg.channel == first.channel and msg.recipient not in seen and _text(msg) == text:
            batch.append(msg)
            seen.add(msg.recipient)
        else:
            back.append(entry)
    for entry in back:
        queue.put_nowait(entry)
    return batch


def outbound(msg: MessageRow, address: str) -> OutboundMessage:
    r = msg.rendering(channel_kind(msg.channel))
    return OutboundMessage(
        key=msg.key,
        channel=msg.channel,
        address=address,
        text=r.text,
        lang=msg.lang,
        subject=r.subject,
        html=r.html,
        recipient_name=r.to_name,
        sender_name=r.from_name,
        incident_id=msg.incident_id,
        drill=msg.drill,
    )


async def send_batch(
    channel: BulkChannel, batch: Sequence[tuple[MessageRow, str]]
) -> list[SendResult]:
    """Send ``batch`` (messages and their addresses) in one ``send_many``; a result each.

    Bounded in time: when the channel overruns, every message gets Retry (none is lost).
    A channel that raises broke its contract; its messages are retried, never dropped.
    """
    outs = [outbound(msg, address) for msg, address in batch]
    budget = (
        channel.limits.timeout_seconds * 4 + 5
    )  # a refused list may be halved into a few requests
    name = batch[0][0].channel
    try:
        async with asyncio.timeout(budget):
            results = await channel.send_many(outs)
    except TimeoutError:
        return [Retry(5.0, f"{name}: no answer within {budget:.0f}s")] * len(outs)
    except Exception as exc:  # noqa: BLE001 - a channel broke its contract; classify it
        return [Retry(10.0, f"{name}: {type(exc).__name__}")] * len(outs)
    if len(results) != len(outs):
        why = f"{name}: {len(results)} results for {len(outs)} messages"
        return [Retry(10.0, why)] * len(outs)
    return list(results)


async def send_gathered(
    channel: BulkChannel,
    msgs: Sequence[MessageRow],
    address_of: Callable[[MessageRow, str], str | None],
    finish: Callable[[MessageRow, SendResult], None],
) -> None:
    """The dispatcher's hook: resolve each address, send the batch, finish each message."""
    ready: list[tuple[MessageRow, str]] = []
    for msg in msgs:
        address = address_of(msg, msg.channel)
        if address is None:
            finish(msg, Failed(f"no {msg.channel} address for {msg.recipient}"))
        else:
            ready.append((msg, address))
    if ready:
        results = await send_batch(channel, ready)
        for (msg, _), result in zip(ready, results, strict=True):
            finish(msg, result)
