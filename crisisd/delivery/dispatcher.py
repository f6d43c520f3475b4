"""Outbox workers: claim due messages by priority, pace them, send, record outcomes in batches.

One claim loop feeds a bounded queue per channel; each channel has its own workers
and pacer, so a slow or hung channel fills only its own queue (and the claim loop
stops taking its messages) while the others go on. Outcomes are written in batches;
a crash between a send and its record means that message is sent again after its
lease expires (at-least-once, duplicates bounded by the claims in flight).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import random
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from crisisd.channels.base import Channel, Failed, OutboundMessage, Retry, SendResult, Sent
from crisisd.delivery import batching
from crisisd.delivery.announce import OnFinal, announce
from crisisd.delivery.decide import JITTER, RetryPolicy, decide
from crisisd.delivery.guard import ChannelGuard, OnDown
from crisisd.delivery.health import delivery_health
from crisisd.delivery.pacing import Pacer
from crisisd.delivery.queueing import SendQueue, in_slot, queued
from crisisd.delivery.sendwatch import SendWatch
from crisisd.delivery.storewait import StoreWait
from crisisd.domain import channel_kind
from crisisd.metrics import Metrics
from crisisd.redaction import redact
from crisisd.store import (
    MessageRow,
    Outcome,
    OutcomeFailover,
    OutcomeRetry,
    OutcomeSent,
    Store,
)
from crisisd.store.taking import Take
from crisisd.supervision import Supervisor

log = structlog.get_logger("crisisd.delivery.dispatcher")

AddressOf = Callable[[MessageRow, str], str | None]
__all__ = ["AddressOf", "Dispatcher", "OnFinal", "RetryPolicy"]

_DEFAULT_POLICY = RetryPolicy()


def _now() -> datetime:
    return datetime.now(UTC)


class Dispatcher:
    """Moves the outbox to the channels until stopped; ``drain`` finishes cleanly."""

    def __init__(
        self,
        store: Store,
        channels: dict[str, Channel],
        address_of: AddressOf,
        *,
        worker_id: str = "w1",
        batch: int = 50,
        lease: timedelta = timedelta(seconds=120),
        idle_poll: float = 0.25,
        flush_every: float = 0.05,
        policy: RetryPolicy = _DEFAULT_POLICY,
        on_final_failure: OnFinal | None = None,
        on_channel_down: OnDown | None = None,
        clock: Callable[[], datetime] = _now,
        rng: random.Random | None = None,
        metrics: Metrics | None = None,
        supervisor: Supervisor | None = None,
    ) -> None:
        self.store = store
        self.channels = channels
        self.address_of = address_of
        self.worker_id = worker_id
        self.batch = batch
        self.lease = lease
        self.idle_poll = idle_poll
        self.flush_every = flush_every
        self.policy = policy
        self.on_final_failure = on_final_failure
        self.clock = clock
        self.rng = rng or random.Random()
        self.metrics = metrics
        # Every loop below runs as a supervised part: a dead one is logged, shown and restarted.
        self.supervisor = supervisor or Supervisor(metrics=metrics)
        # Per channel, highest priority first: a claimed emergency alert overtakes the backlog.
        self._queues: dict[str, SendQueue] = {}
        self._pacers = {name: Pacer(ch.limits) for name, ch in channels.items()}
        self._claimed: dict[int, MessageRow] = {}
        self._outcomes: list[Outcome] = []
        self._wake = asyncio.Event()
        self._kicked = False
        self._flush_stop = asyncio.Event()
        self._notices: set[asyncio.Task[None]] = set()
        self._watch = SendWatch()
        self._flusher: asyncio.Task[None] | None = None
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self.sent_count = 0
        # while the store cannot answer: doubling pauses, outcomes and claims kept meanwhile
        self._claim_wait = StoreWait("claim", self.rng)
        self._record_wait = StoreWait("record", self.rng)
        self._record_after = 0.0
        self._progress = clock()  # the last send result, for /healthz
        # 429s for the whole bot pause the channel; a server that stops answering trips it
        self.guard = ChannelGuard(
            channels, self._pacers, self.supervisor, metrics, on_channel_down, self._notify
        )

    @property
    def pacers(self) -> dict[str, Pacer]:
        """Per-channel pacing, shared with the bots so their replies and alerts take turns."""
        return self._pacers

    @property
    def in_hand(self) -> int:  # claimed and not yet finished: 0 when nothing is being sent
        return len(self._claimed)

    def capacity(self, channel: str) -> int:
        ch = self.channels[channel]
        bulk = batching.bulk_of(ch)
        return max(16, ch.limits.concurrency * 8, 2 * bulk.bulk_size if bulk else 0)

    async def health(self) -> dict[str, Any]:
        """Delivery as /healthz shows it (delivery/health.py)."""
        return await delivery_health(
            self.store, self.guard, self.supervisor, len(self._tasks), self._progress, self.clock()
        )

    def kick(self) -> None:
        """Something new is in the outbox: look now, ahead of routine bookkeeping."""
        self._kicked = True
        self._wake.set()

    async def start(self) -> None:
        # Claims this worker id still holds come from a previous run that was killed: they
        # go back to the queue now instead of waiting for their lease to expire.
        recovered = await self.store.release(self.worker_id)
        if recovered:
            log.warning("dispatch.recovered_claims", worker=self.worker_id, messages=recovered)
        spawn = self.supervisor.spawn
        for name, ch in self.channels.items():
            queue = SendQueue()
            self._queues[name] = queue
            for i in range(ch.limits.concurrency):
                worker = functools.partial(self._worker, name, queue)
                self._tasks.append(spawn(f"dispatcher.send.{name}.{i}", worker))
        # Without these nothing is claimed, recorded, kept leased or bounded in time: one that
        # keeps dying stops the daemon (systemd starts it again) rather than let it limp on.
        self._tasks.append(spawn("dispatcher.claim", self._claim_loop, critical=True))
        self._flusher = spawn("dispatcher.flush", self._flush_loop, critical=True)
        self._tasks.append(self._flusher)
        self._tasks.append(spawn("dispatcher.lease", self._lease_loop, critical=True))
        self._tasks.append(spawn("dispatcher.watch", self._watch.run, critical=True))

    async def drain(self, grace: float = 20.0) -> None:
        """Stop claiming, let in-flight sends finish (bounded), record, give back the rest."""
        self._stopping = True
        self._wake.set()
        deadline = asyncio.get_running_loop().time() + grace
        # Polling is fine here: it runs once, at shutdown, for a few seconds at most.
        while self._claimed and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        flusher = self._flusher
        for task in self._tasks:
            if task is not flusher:
                task.cancel()
        for task in self._tasks:
            if task is not flusher:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        # The flush loop ends by itself, never cut mid-write: all sent is recorded first.
        self._flush_stop.set()
        if flusher is not None:
            await flusher
        await self._flush()
        if self._notices:  # officers' failure notices are written, not dropped
            await asyncio.wait(self._notices, timeout=5)
        try:
            released = await self.store.release(self.worker_id)
        except Exception as exc:  # noqa: BLE001 - the leases give them back in time anyway
            log.warning("dispatch.release_failed", error=redact(str(exc)), held=len(self._claimed))
            released = 0
        log.info("dispatch.drained", released=released, sent=self.sent_count)

    # -- claiming ---------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        while not self._stopping:
            # Cleared before the claim: a kick that arrives during it is not lost.
            self._wake.clear()
            urgent, self._kicked = self._kicked, False
            # A channel whose queue is full gives only messages more urgent than all it holds:
            # an alert overtakes its backlog at once, and the backlog is not read through
            # (that held the write lock for every claim). After a kick, so does a channel
            # with more than its low-water mark queued: the claim that takes the alert takes
            # no batch of backlog with it. The others claim as usual.
            ahead = self._ahead(urgent)
            room = [n for n in self._queues if n not in ahead] if ahead else None
            got: list[MessageRow] = []
            try:
                got = await self.store.claim(
                    self.worker_id, self.clock(), self.batch, self.lease, (), urgent, room, ahead
                )
            except Exception as exc:  # noqa: BLE001 - the store may be briefly unavailable
                self._kicked = self._kicked or urgent  # the kick is still owed
                await asyncio.sleep(self._claim_wait.failed(exc))
                continue
            self._claim_wait.ok()
            self._arrive(got)
            if len(got) < self.batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.idle_poll)

    def _arrive(self, got: list[MessageRow]) -> None:
        for msg in got:
            if msg.id in self._claimed:
                continue
            self._claimed[msg.id] = msg
            queue = self._queues.get(msg.channel)
            if queue is None:
                self._finish(msg, Failed(f"channel '{msg.channel}' is not configured", "channel"))
            else:
                queue.arrive(queued(msg))

    def taking(self) -> Take | None:
        """What this dispatcher takes of an incident as it is opened: a claim's share, made
        in the open's transaction and handed over once it is committed (store/taking.py)."""
        if self._stopping or not self._queues:
            return None
        ahead, now = self._ahead(urgent=True), self.clock()
        room = frozenset(self._queues).difference(ahead)
        return Take(self.worker_id, now, now + self.lease, self.batch, room, ahead, self._handed)

    def _handed(self, got: list[MessageRow]) -> None:
        if self._stopping:  # it stopped as they were written: back to the queue, for others
            self._notify(self._release([m.id for m in got]))
        else:
            self._arrive(got)

    async def _release(self, ids: list[int]) -> None:
        try:
            await self.store.release(self.worker_id, ids)
        except Exception as exc:  # noqa: BLE001 - their lease brings them back anyway
            log.warning("dispatch.release_failed", error=redact(str(exc)), held=len(ids))

    def _ahead(self, urgent: bool) -> dict[str, int]:
        """Channels with enough queued (see the claim loop), each with the priority of its
        most urgent message queued."""
        ahead = {}
        for name, queue in self._queues.items():
            enough = self.capacity(name) // 2 + 1 if urgent else self.capacity(name)
            head = queue.head_priority()
            if head is not None and queue.qsize() >= enough:
                ahead[name] = head
        return ahead

    async def _lease_loop(self) -> None:
        period = max(1.0, self.lease.total_seconds() / 3)
        while True:
            await asyncio.sleep(period)
            try:
                await self.store.extend_leases(
                    self.worker_id,
                    list(self._claimed),
                    self.clock() + self.lease,
                )
            except Exception as exc:  # noqa: BLE001
                log.warning("dispatch.lease_extend_failed", error=redact(str(exc)))

    # -- sending ----------------------------------------------------------------------------

    async def _worker(self, name: str, queue: SendQueue) -> None:
        """One sender of one channel. When it dies (its supervisor starts it again), the
        message in its hand is no longer renewed: the lease runs out and it is claimed anew."""
        hand: list[MessageRow] = []
        try:
            await self._send_loop(name, queue, hand)
        except BaseException:
            for msg in hand:
                self._claimed.pop(msg.id, None)
            raise

    async def _send_loop(self, name: str, queue: SendQueue, hand: list[MessageRow]) -> None:
        channel = self.channels[name]
        pacer = self._pacers[name]
        loop = asyncio.get_running_loop()
        low_water = self.capacity(name) // 2
        while True:
            hand.clear()
            entry = await queue.get()
            head = entry[-1]
            blocked = self.guard.blocked(name, head.channel_index + 1 < len(head.channels))
            if blocked is not None:  # the channel is down: failover now, no send, no pacing
                hand.append(entry[-1])
                self._finish(entry[-1], blocked)
                continue
            chosen = await in_slot(queue, pacer, entry)
            if chosen is None:
                continue  # the slot goes unused: another worker sent the rest, or a 429 came
            entry = chosen
            msg = entry[-1]
            hand.append(msg)
            if (bulk := batching.bulk_of(channel)) is not None:  # one request, many numbers
                hand[:] = batching.gather(queue, msg, bulk.bulk_size)
                if queue.qsize() <= low_water:
                    self._wake.set()
                await batching.send_gathered(bulk, hand, self.address_of, self._finish)
                continue
            if queue.qsize() == low_water:
                self._wake.set()  # room again: the claim loop may take this channel's messages
            address = self.address_of(msg, name)
            if address is None:
                self._finish(msg, Failed(f"no {name} address for {msg.recipient}"))
                continue
            hold = pacer.dest_delay(address)
            if hold > 0:  # this destination is busy: come back later, keep the worker free
                loop.call_later(hold, queue.put_nowait, entry)
                continue
            pacer.hold_destination(address, floor_taken=True)  # in_slot took the floor
            result = await self._send(channel, msg, address)
            self.guard.observe(name, address, result)
            self._finish(msg, result)

    async def _send(self, channel: Channel, msg: MessageRow, address: str) -> SendResult:
        r = msg.rendering(channel_kind(msg.channel))
        out = OutboundMessage(
            key=msg.key,
            channel=msg.channel,
            address=address,
            text=r.text,
            lang=msg.lang,
            subject=r.subject,
            html=r.html,
            recipient_name=r.to_name,
            sender_name=r.from_name,
            ack_button=msg.ack_required and channel.kind == "chat",
            incident_id=msg.incident_id,
            drill=msg.drill,
        )
        budget = channel.limits.timeout_seconds * 2 + 5
        try:  # no task and no timer per send (sendwatch.py)
            return await self._watch.bounded(channel.send(out), budget)
        except TimeoutError:
            return Retry(5.0, f"{msg.channel}: no answer within {budget:.0f}s", unreachable=True)
        except Exception as exc:  # noqa: BLE001 - a channel broke its contract; classify it
            log.error("dispatch.channel_raised", channel=msg.channel, error=redact(repr(exc)))
            return Retry(10.0, f"{msg.channel}: {type(exc).__name__}")

    def _finish(self, msg: MessageRow, result: SendResult) -> None:
        now = self._progress = self.clock()
        self._claimed.pop(msg.id, None)
        if self.metrics is not None:
            kind = type(result).__name__.lower()
            self.metrics.sends.labels(msg.channel, kind).inc()
            if isinstance(result, Sent):
                wait = max(0.0, (now - msg.not_before).total_seconds())
                self.metrics.delivery_latency.labels(msg.channel).observe(wait)
        if isinstance(result, Sent):  # the common case: no reason to redact, no delay to draw
            outcome = decide(msg, result, self.policy, now)
        else:  # a reason is recorded and logged: no secrets
            result = dataclasses.replace(result, reason=redact(result.reason))
            jitter = self.rng.uniform(*JITTER)
            down = self.guard.down(msg.channel)
            outcome = decide(msg, result, self.policy, now, jitter=jitter, channel_down=down)
        self._outcomes.append(outcome)
        if isinstance(outcome, OutcomeSent):  # the common case: counted, not logged
            self.sent_count += 1
        else:
            announce(msg, outcome, self.on_final_failure, self._notify)

    def _notify(self, notice: Coroutine[Any, Any, None]) -> None:
        """Tell someone in the background; drain waits for what is still being written."""
        task = asyncio.create_task(notice)
        self._notices.add(task)
        task.add_done_callback(self._notices.discard)

    # -- recording --------------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        while not self._flush_stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flush_stop.wait(), self.flush_every)
            await self._flush()

    async def flush(self) -> None:
        """Record every outcome gathered so far (tests and benchmarks wait on this)."""
        await self._flush()

    async def _flush(self) -> None:
        if not self._outcomes:
            return
        loop = asyncio.get_running_loop()
        if loop.time() < self._record_after and not self._flush_stop.is_set():
            return  # the store failed just now: its pause is not over
        batch, self._outcomes = self._outcomes, []
        try:
            await self.store.record(batch, self.worker_id)
        except Exception as exc:  # noqa: BLE001 - keep them and try again; leases protect us
            self._record_after = loop.time() + self._record_wait.failed(exc)
            self._outcomes = batch + self._outcomes
            return
        self._record_wait.ok()
        if any(isinstance(o, OutcomeRetry | OutcomeFailover) for o in batch):
            self._wake.set()
