"""One SMS gateway: the seam every provider module implements, and what they share.

A gateway sends one text to one phone and classifies the outcome as a
:data:`~crisisd.channels.base.SendResult`; it never raises for delivery problems::

    network error, timeout, dropped connection                   -> Retry (short)
    an answer that is HTML, empty, or JSON of an unknown shape   -> Retry (never Sent)
    a status code the provider's table lists                     -> what the table says
                                                                    (see ``codes.Verdict``)
    a status code the table does not list                        -> Retry (never Sent)

Repeated Retries take a gateway down in :class:`~crisisd.channels.sms.SmsChannel`, so an
answer we cannot read is tried a few times and then fails over to the next gateway.

With a bulk request (``bulk_max`` > 1, :meth:`HttpGateway.send_many`) one text goes to many
phones in one request and each phone gets its own result, classified the same way; an
answer about the whole request (down, busy, unreadable) is every phone's.

It also asks the provider's status API where sent messages are (:meth:`HttpGateway.receipts`,
batched as the provider allows), answering :class:`~crisisd.channels.sms.codes.Receipts`.

Provider modules only build requests and read the provider's envelope; the session, the
rate limit, the timeout, exception translation and secret scrubbing live in
:class:`HttpGateway` so they are the same for all.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp
from aiolimiter import AsyncLimiter
from yarl import URL

from crisisd import redaction
from crisisd.channels.base import Failed, Retry, SendResult, Sent
from crisisd.channels.sms.codes import Receipt, Receipts, SendStatusTable, Verdict
from crisisd.channels.sms.wire import describe_error as describe_error
from crisisd.channels.sms.wire import localid_for as localid_for
from crisisd.channels.sms.wire import national_mobile as national_mobile
from crisisd.channels.sms.wire import retry_after as retry_after
from crisisd.channels.sms.wire import short_mobile as short_mobile
from crisisd.config import SmsGateway

NETWORK_RETRY_AFTER = 5.0  # seconds; a refused or dropped connection is usually brief
SERVER_ERROR_RETRY_AFTER = 10.0  # 5xx without Retry-After
RATE_LIMIT_RETRY_AFTER = 30.0  # 429 / "too many calls" without Retry-After
SPLIT_ALONE = 3  # a refused list this short is sent number by number, not halved
_MASK = "***"
_PROVIDER_TEXT = 120  # characters of a provider's own message kept in a reason


class Gateway(Protocol):
    """What the SMS channel needs from one configured gateway."""

    name: str  # configured name, e.g. "kavenegar-main"
    provider: str  # kavenegar | ghasedak | smsir | generic_http
    cooldown_seconds: float

    async def send(self, phone_e164: str, text: str, localid: str) -> SendResult: ...

    @property
    def bulk_size(self) -> int:
        """Numbers one bulk request may carry (1: the gateway sends one by one)."""
        ...

    async def send_many(
        self, phones: Sequence[str], text: str, localids: Sequence[str]
    ) -> list[SendResult]: ...

    @property
    def has_receipts(self) -> bool:
        """Whether the provider has a status API we read (delivery receipts)."""
        ...

    async def receipts(self, message_ids: Sequence[str]) -> Receipts: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Reply:
    """A gateway's whole HTTP answer, read within the timeout."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON, or ``None`` when it is not JSON at all."""
        try:
            return json.loads(self.body.decode("utf-8", errors="replace"))
        except ValueError:
            return None

    def json_object(self) -> dict[str, Any] | None:
        data = self.json()
        return data if isinstance(data, dict) else None


@dataclass(frozen=True, slots=True)
class Split:
    """A bulk request refused as a whole for a number in it (e.g. Kavenegar 411): the batch is
    halved until the refused numbers are sent alone and get their own verdict."""

    reason: str


BulkAnswer = Sequence[SendResult] | SendResult | Split
"""What a provider's bulk request answers: a result per number, in the order sent, or one
verdict for the whole request (down, busy, unreadable), or :class:`Split`."""


class HttpGateway:
    """Base of every HTTP gateway: one session, one rate limiter, one timeout, no leaks.

    ``session`` is used as given (and not closed here) when passed; otherwise the
    gateway opens its own on first use, inside the running loop, and closes it in
    :meth:`aclose`.
    """

    provider = "?"
    default_base_url = ""
    receipts_batch = 0  # message ids per status request, as documented; 0: no status API
    bulk_max = 1  # numbers per bulk request, as documented; 1: no bulk request

    def __init__(
        self,
        cfg: SmsGateway,
        base_url: str | None = None,
        session: aiohttp.ClientSession | None = None,
        *,
        timeout: float = 15.0,
    ) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.cooldown_seconds = cfg.cooldown_seconds
        self.base_url = (base_url or cfg.base_url or self.default_base_url).rstrip("/")
        self.timeout = timeout
        self._session = session
        self._owns_session = session is None
        self._limiter = _limiter(cfg.rate_per_second)

    # -- what subclasses implement -------------------------------------------------

    async def _send(self, phone_e164: str, text: str, localid: str) -> SendResult:
        raise NotImplementedError

    async def _receipts(self, message_ids: Sequence[str]) -> Receipts:
        """One status request for at most ``receipts_batch`` ids."""
        raise NotImplementedError

    async def _send_bulk(
        self, phones: Sequence[str], text: str, localids: Sequence[str]
    ) -> BulkAnswer:
        """One bulk request for 2 to ``bulk_max`` numbers (only called when ``bulk_max`` > 1)."""
        raise NotImplementedError

    def _secrets(self) -> list[str]:
        """Every value that must never appear in a reason or a log line."""
        secrets = [v.get_secret_value() for v in self.cfg.headers.values()]
        if self.cfg.api_key is not None:
            key = self.cfg.api_key.get_secret_value()
            quoted = quote(key, safe="")
            # and as yarl re-normalises it inside a URL (e.g. "%3D" back to "=")
            secrets += [key, quoted, URL("http://h/" + quoted).raw_path[1:]]
        return [s for s in secrets if s]

    # -- shared machinery ----------------------------------------------------------

    async def send(self, phone_e164: str, text: str, localid: str) -> SendResult:
        """Send one SMS; every outcome comes back classified, with secrets scrubbed."""
        async with self._limiter:
            try:
                result = await self._send(phone_e164, text, localid)
            except TimeoutError:  # also aiohttp.ServerTimeoutError
                result = self._no_answer()
            except (aiohttp.ClientError, OSError) as exc:
                result = Retry(NETWORK_RETRY_AFTER, f"{self.name}: {describe_error(exc)}")
        return self._scrubbed(result)

    @property
    def bulk_size(self) -> int:
        return self.bulk_max

    async def send_many(
        self, phones: Sequence[str], text: str, localids: Sequence[str]
    ) -> list[SendResult]:
        """Send ``text`` to every phone, ``bulk_size`` numbers a request; a result per phone.

        A request counts once against the gateway's rate (the providers count calls: see
        ``codes``). A request refused for a number in it is halved until each refused number
        has its own verdict; a whole-request verdict (down, busy, unreadable) is each number's.
        """
        out: list[SendResult] = []
        size = max(1, self.bulk_size)
        for start in range(0, len(phones), size):
            end = start + size
            out += await self._batch(phones[start:end], text, localids[start:end])
        return out

    async def _batch(
        self, phones: Sequence[str], text: str, localids: Sequence[str]
    ) -> list[SendResult]:
        if len(phones) == 1 or self.bulk_size <= 1:
            return [await self.send(p, text, i) for p, i in zip(phones, localids, strict=True)]
        answer: BulkAnswer
        async with self._limiter:
            try:
                answer = await self._send_bulk(phones, text, localids)
            except TimeoutError:
                answer = self._no_answer()
            except (aiohttp.ClientError, OSError) as exc:
                answer = Retry(NETWORK_RETRY_AFTER, f"{self.name}: {describe_error(exc)}")
        if isinstance(answer, Split) and len(phones) <= SPLIT_ALONE:
            return [await self.send(p, text, i) for p, i in zip(phones, localids, strict=True)]
        if isinstance(answer, Split):  # halved until the refused numbers are found
            half = len(phones) // 2
            first = await self._batch(phones[:half], text, localids[:half])
            return first + await self._batch(phones[half:], text, localids[half:])
        if isinstance(answer, Sequence):
            if len(answer) == len(phones):
                return [self._scrubbed(r) for r in answer]
            answer = Retry(NETWORK_RETRY_AFTER, f"{self.name}: answer does not match the numbers")
        if isinstance(answer, Retry):  # nothing of it counts as sent; say it was a bulk request
            what = f"{answer.reason} (bulk request of {len(phones)} numbers: none counted as sent)"
            answer = Retry(answer.after, what)
        return [self._scrubbed(answer)] * len(phones)

    def _no_answer(self) -> Retry:
        return Retry(NETWORK_RETRY_AFTER, f"{self.name}: no answer within {self.timeout:g}s")

    def _scrubbed(self, result: SendResult) -> SendResult:
        if isinstance(result, Retry):
            return Retry(result.after, self.scrub(result.reason))
        if isinstance(result, Failed):
            return Failed(self.scrub(result.reason), result.scope)
        return result

    def bulk_verdict(
        self,
        table: SendStatusTable,
        code: int,
        message: object,
        reply: Reply,
        split_on: frozenset[int],
    ) -> SendResult | Split:
        """A bulk request's status that is not a readable success: a code that refuses the
        list for some number in it splits the batch; any other is the whole request's."""
        verdict = self.by_table(table, code, message, reply)
        if code in split_on and isinstance(verdict, Failed) and verdict.scope == "recipient":
            return Split(verdict.reason)
        return verdict

    @property
    def has_receipts(self) -> bool:
        return self.receipts_batch > 0

    async def receipts(self, message_ids: Sequence[str]) -> Receipts:
        """Ask the status API about ``message_ids``, in the provider's batch size.

        Never raises: a batch that cannot be asked leaves its ids out and sets ``error``.
        """
        if not self.has_receipts:
            return Receipts({}, f"{self.name}: {self.provider} has no status API")
        found: dict[str, Receipt] = {}
        errors: list[str] = []
        ids = list(dict.fromkeys(message_ids))  # each id once, order kept
        for start in range(0, len(ids), self.receipts_batch):
            batch = ids[start : start + self.receipts_batch]
            async with self._limiter:
                try:
                    answer = await self._receipts(batch)
                except TimeoutError:
                    answer = Receipts({}, f"{self.name}: no answer within {self.timeout:g}s")
                except (aiohttp.ClientError, OSError) as exc:
                    answer = Receipts({}, f"{self.name}: {describe_error(exc)}")
            found.update(answer.receipts)
            if answer.error:
                errors.append(self.scrub(answer.error))
        return Receipts(found, "; ".join(dict.fromkeys(errors)) or None)

    def scrub(self, text: str) -> str:
        """``text`` with this gateway's key, header values and every registered secret masked."""
        for secret in sorted(self._secrets(), key=len, reverse=True):
            text = text.replace(secret, _MASK)
        return redaction.redact(text)

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or (self._owns_session and self._session.closed):
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"Accept": "application/json"},
            )
            self._owns_session = True
        return self._session

    async def request(self, method: str, url: str | URL, **kwargs: Any) -> Reply:
        """One HTTP exchange, body read in full, bounded by the gateway's timeout."""
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        # Never follow a redirect: it would carry the API key header to another host (and
        # turn the POST into a GET). A 3xx is then an answer we cannot read.
        kwargs.setdefault("allow_redirects", False)
        async with self.session.request(method, url, timeout=timeout, **kwargs) as resp:
            body = await resp.read()
            return Reply(resp.status, dict(resp.headers), body)

    def api_key(self) -> str | None:
        return self.cfg.api_key.get_secret_value() if self.cfg.api_key is not None else None

    def no_key(self) -> Failed:
        return Failed(f"{self.name}: no api_key configured for this gateway", "channel")

    def unreadable(self, reply: Reply, detail: str = "") -> Retry:
        """An answer we cannot read (truncated, HTML, empty, wrong shape): try again soon."""
        what = f"{self.name}: unreadable answer (HTTP {reply.status})"
        return Retry(NETWORK_RETRY_AFTER, f"{what}: {detail}" if detail else what)

    def by_table(
        self, table: SendStatusTable, code: int, message: object, reply: Reply
    ) -> SendResult:
        """A provider status code that is not a readable success, classified by its table."""
        status = table.get(code)
        text = " ".join(str(message or "").split())[:_PROVIDER_TEXT]
        if status is None:
            what = f"{self.name}: {code} undocumented status, not counted as sent"
            return Retry(SERVER_ERROR_RETRY_AFTER, f"{what} ({text})" if text else what)
        what = f"{self.name}: {code} {status.meaning}" + (f" ({text})" if text else "")
        if status.verdict is Verdict.DOWN:
            return Failed(what, "channel")
        if status.verdict is Verdict.RECIPIENT:
            return Failed(what, "recipient")
        if status.verdict is Verdict.SENT:  # documented success, but no id we can read
            return self.unreadable(reply)
        if status.rate_limit:
            wait = retry_after(reply.headers, RATE_LIMIT_RETRY_AFTER)
            return Retry(wait, f"{what}, rate limited")
        return Retry(retry_after(reply.headers, SERVER_ERROR_RETRY_AFTER), what)

    def without_envelope(self, reply: Reply) -> SendResult:
        """A named provider's answer without its envelope (a proxy's page, an empty body).

        Only what HTTP itself says for sure is believed: credentials refused, payment
        required, rate limited. Anything else is retried: it never counts as sent, and a
        gateway that keeps answering like this is failed over by the channel.
        """
        if reply.status in (401, 402, 403, 429):
            return self.by_http_status(reply)
        if reply.status >= 500:
            return self.by_http_status(reply)
        return self.unreadable(reply)

    def by_http_status(self, reply: Reply, detail: str = "") -> SendResult:
        """Classify an answer that carries no provider envelope, by its HTTP status alone."""
        status = reply.status
        what = f"{self.name}: HTTP {status}" + (f" {detail}" if detail else "")
        if status == 429:
            return Retry(
                retry_after(reply.headers, RATE_LIMIT_RETRY_AFTER), f"{what} (rate limited)"
            )
        if status >= 500:
            return Retry(retry_after(reply.headers, SERVER_ERROR_RETRY_AFTER), what)
        if status in (401, 403):
            return Failed(f"{what} (gateway refused our credentials)", "channel")
        if status == 402:
            return Failed(f"{what} (payment required: out of credit)", "channel")
        if 400 <= status < 500:
            return Failed(what, "recipient")
        return self.unreadable(reply)

    async def aclose(self) -> None:
        if self._owns_session and self._session is not None and not self._session.closed:
            await self._session.close()


def _limiter(rate_per_second: float) -> AsyncLimiter:
    # AsyncLimiter(max_rate, period): below 1/s, one request per 1/rate seconds.
    if rate_per_second >= 1:
        return AsyncLimiter(rate_per_second, 1.0)
    return AsyncLimiter(1, 1.0 / rate_per_second)


def sent(name: str, provider_id: object) -> Sent:
    return Sent(f"{name}:{provider_id}")


async def wait_closed(gateways: list[Gateway]) -> None:
    """Close every gateway, even when one of them fails to close."""
    await asyncio.gather(*(g.aclose() for g in gateways), return_exceptions=True)
