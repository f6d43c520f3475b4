"""The delivery-receipt poller: asks the SMS gateways' status APIs where sent messages are.

"Sent" is only the gateway's word that it took the message. Every ``schedule.receipts_seconds``
this job takes the SMS sent in the last ``sms.receipts_hours`` whose receipt is not final,
asks each gateway in its provider's batches (:meth:`crisisd.channels.sms.SmsChannel.receipts`)
and records the answers (:class:`crisisd.store.receipts.ReceiptLedger`); a final answer is
written to the audit trail, so reports show when each SMS reached its phone. SMS sent
through a gateway without a status API are marked ``untracked`` and not asked again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from crisisd.channels.sms import SmsChannel
from crisisd.store.receipts import Answer, Awaiting, ReceiptLedger

log = structlog.get_logger("crisisd.receipts")

BATCH = 500  # sent SMS looked at per run


class ReceiptPoller:
    """One run per call of :meth:`poll` (an APScheduler interval job in the daemon)."""

    def __init__(
        self,
        ledger: ReceiptLedger,
        channel: SmsChannel,
        clock: Callable[[], datetime],
        *,
        every: timedelta,
        keep_asking: timedelta,
    ) -> None:
        self.ledger = ledger
        self.channel = channel
        self.clock = clock
        self.every = every
        self.keep_asking = keep_asking

    async def poll(self) -> list[Awaiting]:
        """Ask about the SMS that are due; returns those whose delivery became known."""
        now = self.clock()
        # half the interval: a run that starts a little early still asks again
        due = await self.ledger.awaiting(now - self.keep_asking, now - self.every / 2, BATCH)
        if not due:
            return []
        tracked = [a for a in due if self.channel.tracks_delivery(a.provider_id)]
        answers = {
            a.message_id: Answer(a.message_id, "untracked")
            for a in due
            if not self.channel.tracks_delivery(a.provider_id)
        }
        if tracked:
            found = await self.channel.receipts([a.provider_id for a in tracked])
            if found.error:
                log.warning("receipts.unavailable", reason=found.error, asked=len(tracked))
            for a in tracked:
                receipt = found.receipts.get(a.provider_id)
                if receipt is not None:
                    state = receipt.state.value
                    answers[a.message_id] = Answer(a.message_id, state, receipt.at, receipt.detail)
        final = await self.ledger.record(due, answers, now)
        for a in final:
            state = answers[a.message_id].state
            log.info(f"receipts.{state}", incident_id=a.incident_id, message_id=a.message_id)
        return final
