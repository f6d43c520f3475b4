"""The SMS channel: Iranian HTTP gateways tried in configured order, with failover.

One module per provider (``kavenegar``, ``ghasedak``, ``smsir``, ``generic``), one
shared seam (``gateway``), an explicit registry below. :class:`SmsChannel` decides
which gateway gets each message:

- **Sent** from a gateway: done.
- **Failed(scope="recipient")** (bad number, bad text): returned at once. A number one
  gateway calls invalid is invalid everywhere, and the dispatcher falls over to the
  recipient's next channel.
- **Failed(scope="channel")** (bad key, no credit, bad line): the gateway is *down*:
  skipped for its ``cooldown_seconds``; the next gateway is tried immediately.
- **Retry** (timeout, dropped connection, 5xx, rate limit): the gateway is *busy*
  until its ``after`` passes; the next gateway is tried immediately. Three Retries in
  a row mark it down for its cool-down, so a dead gateway does not cost a timeout
  per message.

Many numbers, one text (:meth:`SmsChannel.send_many`): the same walk, with each gateway's
bulk request (``bulk_size`` numbers a request, see each provider module); numbers a gateway
sent or refused are done, only the rest go on to the next gateway.

When no gateway sent: if any was merely busy, ``Retry`` after the soonest one frees
up; if every gateway is down, ``Failed(scope="channel")`` naming each gateway and why.

What each provider's status codes mean is data, one table per provider module
(``SEND_STATUS`` and ``DELIVERY``, see :mod:`crisisd.channels.sms.codes`).
:meth:`SmsChannel.receipts` asks the providers' status APIs where sent messages are.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import aiohttp
import structlog

from crisisd.channels.base import (
    ChannelLimits,
    Failed,
    OutboundMessage,
    Retry,
    SendResult,
    Sent,
)
from crisisd.channels.sms.codes import Delivery, Receipt, Receipts
from crisisd.channels.sms.gateway import Gateway, HttpGateway, localid_for, wait_closed
from crisisd.channels.sms.generic import GenericHttpGateway
from crisisd.channels.sms.ghasedak import GhasedakGateway
from crisisd.channels.sms.kavenegar import KavenegarGateway
from crisisd.channels.sms.smsir import SmsIrGateway
from crisisd.config import SmsGateway
from crisisd.formats.phones import mask_phone

__all__ = [
    "GATEWAYS",
    "Delivery",
    "Gateway",
    "Receipt",
    "Receipts",
    "SmsChannel",
    "build_gateway",
]

GATEWAYS: dict[str, type[HttpGateway]] = {
    "kavenegar": KavenegarGateway,
    "ghasedak": GhasedakGateway,
    "smsir": SmsIrGateway,
    "generic_http": GenericHttpGateway,
}
"""Provider name (``SmsGateway.provider``) -> gateway class."""

MAX_SMS_PARTS = 5  # longest alert we send as one concatenated SMS
UCS2_UNITS_PER_PART = 67  # Persian text is UCS-2; 67 UTF-16 units per concatenated part
RETRY_STRIKES = 3  # consecutive Retries after which a gateway counts as down

_log = structlog.get_logger("crisisd.channels.sms")


def _final(result: SendResult) -> bool:
    """Sent, or refused for this number or text: no other gateway would do better."""
    return isinstance(result, Sent) or (isinstance(result, Failed) and result.scope != "channel")


def build_gateway(
    cfg: SmsGateway,
    base_url: str | None,
    session: aiohttp.ClientSession | None,
    *,
    timeout: float = 15.0,
) -> Gateway:
    """The gateway for ``cfg``; ``base_url`` overrides the provider's public endpoint."""
    return GATEWAYS[cfg.provider](cfg, base_url, session, timeout=timeout)


@dataclass(slots=True)
class _Health:
    down_until: float = 0.0
    down_reason: str = ""
    busy_until: float = 0.0
    busy_reason: str = ""
    strikes: int = 0


class SmsChannel:
    """The ``sms`` channel: failover across the configured gateways (see module docstring)."""

    name = "sms"
    kind = "sms"

    def __init__(
        self,
        gateways: list[SmsGateway],
        *,
        base_urls: dict[str, str] | None = None,
        timeout: float = 15.0,
        concurrency: int = 8,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``concurrency``: requests in flight at once (``sms.concurrency``)."""
        base_urls = base_urls or {}
        self._gateways = [
            build_gateway(g, base_urls.get(g.name), None, timeout=timeout) for g in gateways
        ]
        self._health = {g.name: _Health() for g in self._gateways}
        self._by_name = {g.name: g for g in self._gateways}
        self._clock = clock
        rates = [g.rate_per_second for g in gateways]
        self.limits = ChannelLimits(
            max_length=MAX_SMS_PARTS * UCS2_UNITS_PER_PART,
            rate_per_second=max(rates, default=1.0),
            concurrency=max(1, concurrency),
            # a send may walk every gateway, each bounded by the timeout
            timeout_seconds=timeout * max(1, len(gateways)),
        )

    @property
    def gateways(self) -> list[Gateway]:
        return list(self._gateways)

    def health(self) -> dict[str, str]:
        """Each gateway's state for /healthz: "up", "busy: …" or "down: …"."""
        now = self._clock()
        out: dict[str, str] = {}
        for gw in self._gateways:
            h = self._health[gw.name]
            if h.down_until > now:
                out[gw.name] = f"down for {h.down_until - now:.0f}s: {h.down_reason}"
            elif h.busy_until > now:
                out[gw.name] = f"busy for {h.busy_until - now:.0f}s: {h.busy_reason}"
            else:
                out[gw.name] = "up"
        return out

    async def send(self, msg: OutboundMessage) -> SendResult:
        if not self._gateways:
            return Failed("no SMS gateways configured (sms.gateways in config.yaml)", "channel")
        log = _log.bind(channel=self.name, incident_id=msg.incident_id, to=mask_phone(msg.address))
        localid = localid_for(msg.key)
        notes: list[str] = []
        waits: list[float] = []
        for gw in self._gateways:
            h = self._health[gw.name]
            now = self._clock()
            if h.down_until > now:
                notes.append(h.down_reason)
                continue
            if h.busy_until > now:
                notes.append(h.busy_reason)
                waits.append(h.busy_until - now)
                continue
            result = await gw.send(msg.address, msg.text, localid)
            if isinstance(result, Sent):
                h.strikes, h.busy_until = 0, 0.0
                if notes:
                    log.info("sms.failover", gateway=gw.name, passed_over="; ".join(notes))
                return result
            if isinstance(result, Failed):
                if result.scope == "recipient":
                    return result
                self._mark_down(gw, h, result.reason, log)
                notes.append(result.reason)
                continue
            h.strikes += 1
            if h.strikes >= RETRY_STRIKES:
                self._mark_down(gw, h, f"{result.reason} ({h.strikes} failures in a row)", log)
                notes.append(h.down_reason)
                continue
            h.busy_until, h.busy_reason = self._clock() + result.after, result.reason
            waits.append(result.after)
            notes.append(result.reason)
        if waits:
            return Retry(min(waits), "; ".join(notes))
        return Failed("all SMS gateways are down: " + "; ".join(notes), "channel")

    @property
    def bulk_size(self) -> int:
        """Numbers worth handing :meth:`send_many` at once: the bulk size of the first gateway
        that is up now (1 when it sends one by one)."""
        now = self._clock()
        for gw in self._gateways:
            h = self._health[gw.name]
            if h.down_until <= now and h.busy_until <= now:
                return gw.bulk_size
        return 1

    async def send_many(self, msgs: Sequence[OutboundMessage]) -> list[SendResult]:
        """One text to many numbers: a result per message, in order (see the module docstring)."""
        if len(msgs) <= 1 or not self._gateways or len({m.text for m in msgs}) > 1:
            return [await self.send(m) for m in msgs]  # one text per request, never mixed
        results: list[SendResult | None] = [None] * len(msgs)
        pending = list(range(len(msgs)))
        localids = [localid_for(m.key) for m in msgs]
        notes: list[str] = []
        waits: list[float] = []
        log = _log.bind(channel=self.name, incident_id=msgs[0].incident_id, batch=len(msgs))
        for gw in self._gateways:
            h = self._health[gw.name]
            now = self._clock()
            if h.down_until > now or h.busy_until > now:
                busy = h.down_until <= now
                notes.append(h.busy_reason if busy else h.down_reason)
                waits += [h.busy_until - now] if busy else []
                continue
            phones = [msgs[i].address for i in pending]
            answers = await gw.send_many(phones, msgs[0].text, [localids[i] for i in pending])
            left = [i for i, r in zip(pending, answers, strict=True) if not _final(r)]
            for i, r in zip(pending, answers, strict=True):
                results[i] = r if _final(r) else None
            unsent = [r for r in answers if not _final(r)]
            pending = left
            if any(isinstance(r, Sent) for r in answers):
                # the gateway works: numbers it did not account for go on, nothing is judged
                h.strikes, h.busy_until = 0, 0.0
                if notes:
                    log.info("sms.failover", gateway=gw.name, passed_over="; ".join(notes))
                notes += [r.reason for r in unsent[:1] if isinstance(r, Retry | Failed)]
                waits += [min((r.after for r in unsent if isinstance(r, Retry)), default=5.0)]
            elif unsent:
                self._judge(gw, h, unsent, notes, waits, log)
            if not pending:
                break
        for i in pending:
            results[i] = self._none_sent(notes, waits)
        return [r if r is not None else Failed("no result", "channel") for r in results]

    def _judge(
        self,
        gw: Gateway,
        h: _Health,
        unsent: list[SendResult],
        notes: list[str],
        waits: list[float],
        log: structlog.typing.FilteringBoundLogger,
    ) -> None:
        """A gateway sent none of the numbers: it is down, or busy (as in :meth:`send`)."""
        down = next((r for r in unsent if isinstance(r, Failed)), None)
        if down is not None:
            self._mark_down(gw, h, down.reason, log)
            notes.append(down.reason)
            return
        retry = min((r for r in unsent if isinstance(r, Retry)), key=lambda r: r.after)
        h.strikes += 1
        if h.strikes >= RETRY_STRIKES:
            self._mark_down(gw, h, f"{retry.reason} ({h.strikes} failures in a row)", log)
            notes.append(h.down_reason)
            return
        h.busy_until, h.busy_reason = self._clock() + retry.after, retry.reason
        waits.append(retry.after)
        notes.append(retry.reason)

    @staticmethod
    def _none_sent(notes: list[str], waits: list[float]) -> SendResult:
        if waits:
            return Retry(min(waits), "; ".join(notes))
        return Failed("all SMS gateways are down: " + "; ".join(notes), "channel")

    def _mark_down(
        self, gw: Gateway, h: _Health, reason: str, log: structlog.typing.FilteringBoundLogger
    ) -> None:
        h.down_until = self._clock() + gw.cooldown_seconds
        h.down_reason, h.strikes, h.busy_until = reason, 0, 0.0
        log.warning(
            "sms.gateway_down", gateway=gw.name, reason=reason, cooldown=gw.cooldown_seconds
        )

    def tracks_delivery(self, provider_id: str) -> bool:
        """Whether the gateway that sent ``provider_id`` has a status API crisisd reads."""
        gateway = self._by_name.get(provider_id.partition(":")[0])
        return gateway is not None and gateway.has_receipts

    async def receipts(self, provider_ids: Sequence[str]) -> Receipts:
        """Delivery receipts for ids this channel answered with (``"<gateway>:<id>"``).

        Keyed by the same ids. Each gateway is asked in its provider's batch size; ids of
        a gateway that is no longer configured, or has no status API, get no receipt.
        """
        by_gateway: defaultdict[str, list[str]] = defaultdict(list)
        for provider_id in dict.fromkeys(provider_ids):
            name, _, message_id = provider_id.partition(":")
            if message_id:
                by_gateway[name].append(message_id)
        found: dict[str, Receipt] = {}
        errors: list[str] = []
        for name, message_ids in by_gateway.items():
            gateway = self._by_name.get(name)
            if gateway is None or not gateway.has_receipts:
                continue
            answer = await gateway.receipts(message_ids)
            found.update({f"{name}:{mid}": r for mid, r in answer.receipts.items()})
            if answer.error:
                errors.append(answer.error)
        return Receipts(found, "; ".join(errors) or None)

    async def aclose(self) -> None:
        await wait_closed(self._gateways)
