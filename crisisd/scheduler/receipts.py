"""The delivery-receipt poller: asks the SMS gateways' status APIs where sent messages are.

"Sent" is only the gateway's word that it took the message. Every ``schedule.receipts_seconds``
this job takes the SMS sent in the last day whose receipt is not final, asks each gateway in
its provider's batches (:meth:`crisisd.channels.sms.SmsChannel.receipts`) and records the
answers (:class:`crisisd.store.receipts.ReceiptLedger`); a final answer is written to the
audit trail, so reports show when each SMS reached its phone. SMS sent through a gateway
without a status API are marked ``untracked`` and not asked again.

An SMS the provider reports undelivered or expired goes back to the outbox on the person's
next channel, and so does an alert that must be acknowledged whose SMS is still not reported
delivered ``sms.alert_delivered_within_minutes`` after it was sent (default 5; 0: never).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

import structlog

from crisisd.channels.base import Channel
from crisisd.channels.sms import SmsChannel
from crisisd.config import Config
from crisisd.store import Store
from crisisd.store.receipts import Answer, Awaiting, Moved, ReceiptLedger

log = structlog.get_logger("crisisd.receipts")

BATCH = 500  # sent SMS looked at per run
KEEP_ASKING = timedelta(hours=24)  # providers keep reports about this long, or longer
NOT_REACHED = ("undelivered", "expired")


class ReceiptPoller:
    """One run per call of :meth:`poll` (an APScheduler interval job in the daemon)."""

    def __init__(
        self,
        ledger: ReceiptLedger,
        channel: SmsChannel,
        clock: Callable[[], datetime],
        *,
        every: timedelta,
        alert_within: timedelta = timedelta(minutes=5),
        keep_asking: timedelta = KEEP_ASKING,
        kick: Callable[[], None] | None = None,
    ) -> None:
        self.ledger = ledger
        self.channel = channel
        self.clock = clock
        self.every = every
        self.alert_within = alert_within
        self.keep_asking = keep_asking
        self.kick = kick  # wake the dispatcher after a failover

    @classmethod
    def for_channels(
        cls,
        channels: Mapping[str, Channel],
        store: Store,
        config: Config,
        clock: Callable[[], datetime],
    ) -> ReceiptPoller | None:
        """The daemon's poller for its SMS channel, or None (no SMS, or polling is off)."""
        sms, every = channels.get("sms"), config.schedule.receipts_seconds
        if not isinstance(sms, SmsChannel) or every <= 0:
            return None
        return cls(
            ReceiptLedger(store, sms.name),
            sms,
            clock,
            every=timedelta(seconds=every),
            alert_within=timedelta(minutes=config.sms.alert_delivered_within_minutes),
        )

    async def poll(self) -> list[Awaiting]:
        """Ask about the SMS that are due; returns those whose delivery became known."""
        now = self.clock()
        # half the interval: a run that starts a little early still asks again
        due = await self.ledger.awaiting(now - self.keep_asking, now - self.every / 2, BATCH)
        if not due:
            return []
        answers = await self._ask(due)
        final = await self.ledger.record(due, answers, now)
        for a in final:
            log.info(f"receipts.{answers[a.message_id].state}", incident_id=a.incident_id)
        await self._fail_over(due, answers, now)
        return final

    async def _ask(self, due: list[Awaiting]) -> dict[int, Answer]:
        tracked = [a for a in due if self.channel.tracks_delivery(a.provider_id)]
        answers = {a.message_id: Answer(a.message_id, "untracked") for a in due}
        for a in tracked:
            del answers[a.message_id]
        if not tracked:
            return answers
        found = await self.channel.receipts([a.provider_id for a in tracked])
        if found.error:
            log.warning("receipts.unavailable", reason=found.error, asked=len(tracked))
        for a in tracked:
            receipt = found.receipts.get(a.provider_id)
            if receipt is not None:
                state = receipt.state.value
                answers[a.message_id] = Answer(a.message_id, state, receipt.at, receipt.detail)
        return answers

    async def _fail_over(
        self, due: list[Awaiting], answers: dict[int, Answer], now: datetime
    ) -> None:
        """Undelivered SMS, and alerts not delivered in time, go to the next channel."""
        undelivered = [a.message_id for a in due if self._state(a, answers) in NOT_REACHED]
        late = [a.message_id for a in due if self._late(a, answers, now)]
        moved: list[Moved] = []
        if undelivered:
            moved += await self.ledger.fail_over(undelivered, "SMS not delivered to the phone", now)
        if late:
            minutes = f"{self.alert_within.total_seconds() / 60:g}"
            why = f"SMS not reported delivered within {minutes} min"
            moved += await self.ledger.fail_over(late, why, now)
        for m in moved:
            log.warning("receipts.failover", incident_id=m.incident_id, to=m.to_channel)
        if moved and self.kick is not None:
            self.kick()

    @staticmethod
    def _state(a: Awaiting, answers: dict[int, Answer]) -> str | None:
        answer = answers.get(a.message_id)
        return answer.state if answer is not None else a.state

    def _late(self, a: Awaiting, answers: dict[int, Answer], now: datetime) -> bool:
        if not a.ack_required or self.alert_within <= timedelta(0):
            return False
        state = self._state(a, answers)
        waiting = state in (None, "pending", "unknown")
        return waiting and a.sent_at <= now - self.alert_within
