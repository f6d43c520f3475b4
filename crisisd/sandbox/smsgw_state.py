"""What the fake SMS gateways share: the state, forced answers, delivery outcomes, faults.

Each provider module (``smsgw_kavenegar``, ``smsgw_ghasedak``, ``smsgw_smsir``,
``smsgw_generic``) holds the provider's documented status codes as its own table (the fakes
are written from the documentation, not from crisisd's client) and registers its routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import itertools
import json
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Literal

from aiohttp import web

from crisisd.formats.textfit import sms_info
from crisisd.sandbox.faults import FaultMode, Faults
from crisisd.sandbox.inbox import Inbox

PROVIDERS = ("kavenegar", "ghasedak", "smsir", "generic")
HANG_SECONDS = 300.0  # a hung request is released by reset/shutdown, or after this
PRICE_PER_PART = {"gsm7": 115, "ucs2": 245}  # Rials, plausible only
Outcome = Literal["delivered", "undelivered", "expired", "pending"]
OUTCOMES: tuple[Outcome, ...] = ("delivered", "undelivered", "expired", "pending")
Shape = Literal["html", "empty", "unknown_json"]
SHAPES: tuple[Shape, ...] = ("html", "empty", "unknown_json")
_MOBILE = re.compile(r"^(?:\+98|0098|98|0)?(9\d{9})$")
_dumps = partial(json.dumps, ensure_ascii=False)


def iran_mobile(raw: object) -> str | None:
    """An Iranian mobile number in any form providers accept, as E.164; else None."""
    match = _MOBILE.match(str(raw).strip())
    return "+98" + match.group(1) if match else None


def json_response(data: object, status: int = 200, headers: Headers = None) -> web.Response:
    return web.json_response(data, status=status, headers=headers, dumps=_dumps)


@dataclass(slots=True)
class SentSms:
    """One SMS a fake accepted, and where it is now (changed through the control API)."""

    provider: str
    id: int
    to: str
    text: str
    sender: str
    localid: str
    parts: int
    cost: int
    at: datetime
    outcome: Outcome = "pending"
    outcome_at: datetime | None = None
    code: int | None = None  # a raw provider delivery code set on demand, beats ``outcome``


@dataclass(slots=True)
class Forced:
    """The next ``count`` send requests (``None``: all) get this answer instead."""

    code: int | None = None  # a provider status code: answered as the provider documents it
    shape: Shape | None = None  # or an answer without the provider's envelope
    count: int | None = 1

    def take(self) -> bool:
        if self.count is None:
            return True
        if self.count <= 0:
            return False
        self.count -= 1
        return True


@dataclass(slots=True)
class SmsGwState:
    """Everything the fakes know; reachable as ``app[SMSGW_STATE]``."""

    inbox: Inbox
    api_keys: dict[str, str]
    faults: dict[str, Faults] = field(default_factory=lambda: {p: Faults() for p in PROVIDERS})
    forced: dict[str, Forced] = field(default_factory=dict)
    outcome: dict[str, Outcome] = field(default_factory=dict)  # provider -> for new sends
    blacklist: set[str] = field(default_factory=set)  # E.164 numbers SMS.ir reports as 0
    key_case: Literal["pascal", "camel"] = "pascal"  # Ghasedak's answer keys
    requests: Counter[str] = field(default_factory=Counter)  # every request, faulted or not
    batches: list[tuple[str, int]] = field(default_factory=list)  # (provider, numbers) per bulk
    sent: list[SentSms] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    _by_localid: dict[tuple[str, str, str], SentSms] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(48_120_001))

    def key_ok(self, provider: str, key: str | None) -> bool:
        expected = self.api_keys.get(provider)
        if expected is None:
            return provider == "generic" or bool(key)
        return key is not None and hmac.compare_digest(key.encode(), expected.encode())

    def seen(self, provider: str, to: str, localid: str) -> SentSms | None:
        return self._by_localid.get((provider, to, localid)) if localid else None

    def accept(self, provider: str, to: str, text: str, sender: str, localid: str) -> SentSms:
        info = sms_info(text)
        now = datetime.now(UTC)
        cost = info.parts * PRICE_PER_PART[info.encoding]
        item = SentSms(provider, next(self._ids), to, text, sender, localid, info.parts, cost, now)
        self.set_outcome(item, self.outcome.get(provider, "delivered"))
        self.sent.append(item)
        if localid:
            self._by_localid[(provider, to, localid)] = item
        extra: dict[str, object] = {"parts": info.parts, "encoding": info.encoding, "id": item.id}
        self.inbox.add(provider, "sms", to, text, sender=sender, extra=extra)
        return item

    def find(self, provider: str, message_id: object) -> SentSms | None:
        wanted = str(message_id).strip()
        return next((s for s in self.sent if s.provider == provider and str(s.id) == wanted), None)

    @staticmethod
    def set_outcome(item: SentSms, outcome: Outcome, code: int | None = None) -> None:
        item.outcome, item.code = outcome, code
        item.outcome_at = None if outcome == "pending" else datetime.now(UTC)

    def reset(self) -> None:
        self.faults = {p: Faults() for p in PROVIDERS}
        self.forced.clear()
        self.outcome.clear()
        self.blacklist.clear()
        self.key_case = "pascal"
        self.requests.clear()
        self.batches.clear()
        self.sent.clear()
        self._by_localid.clear()
        self.release.set()  # free every hung request
        self.release = asyncio.Event()


SMSGW_STATE = web.AppKey("smsgw_state", SmsGwState)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Headers = dict[str, str] | None
FaultReply = Callable[[web.Request, FaultMode, Faults], web.StreamResponse]
CodeReply = Callable[[web.Request, int], web.StreamResponse]


def shaped(shape: Shape) -> web.Response:
    """An answer without any provider envelope: a proxy's page, nothing, or foreign JSON."""
    if shape == "html":
        page = "<html><head><title>502</title></head><body>Bad Gateway</body></html>"
        return web.Response(text=page, content_type="text/html")
    if shape == "empty":
        return web.Response(body=b"", content_type="application/json")
    return json_response({"result": "ok", "id": 1})  # JSON, but no envelope of this provider


async def _unusual(
    request: web.Request, provider: str, fault: FaultReply, by_code: CodeReply
) -> web.StreamResponse | None:
    """The fault or forced answer for this request, if any (``None``: answer normally)."""
    state = request.app[SMSGW_STATE]
    faults = state.faults[provider]
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    mode = faults.take()
    if mode == "hang":
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.release.wait(), HANG_SECONDS)
        return web.Response(status=503, text="released")
    if mode == "drop":
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=500)  # never reaches the client
    if mode == "garbage":
        return web.Response(body=b'{"status": 1, "data": {"mess', content_type="application/json")
    if mode != "none":
        return fault(request, mode, faults)
    forced = state.forced.get(provider)
    if forced is not None and forced.take():
        return shaped(forced.shape) if forced.shape else by_code(request, forced.code or 0)
    return None


def faulted(provider: str, fault: FaultReply, by_code: CodeReply) -> Callable[[Handler], Handler]:
    """Count the request, then apply the provider's fault or forced answer, if any."""

    def wrap(handler: Handler) -> Handler:
        async def run(request: web.Request) -> web.StreamResponse:
            request.app[SMSGW_STATE].requests[provider] += 1
            unusual = await _unusual(request, provider, fault, by_code)
            return unusual if unusual is not None else await handler(request)

        return run

    return wrap


def problem(status: int, title: str, errors: dict[str, list[str]] | None = None) -> web.Response:
    """ASP.NET Core's answer when a request does not bind (Ghasedak and SMS.ir run on it):
    RFC 7807 problem JSON, not the provider's envelope."""
    body: dict[str, object] = {
        "type": f"https://tools.ietf.org/html/rfc9110#section-15.5.{status - 399}",
        "title": title,
        "status": status,
        "traceId": "00-sandbox-00",
    }
    if errors:
        body["errors"] = errors
    return web.json_response(body, status=status, content_type="application/problem+json")


async def json_object(request: web.Request) -> tuple[dict[str, object] | None, web.Response | None]:
    """The JSON object body with keys lower-cased (ASP.NET binds names case-insensitively),
    or the problem answer ASP.NET gives when it cannot: 415 for another media type, 400
    for a body that is not a JSON object in UTF-8."""
    if request.content_type != "application/json":
        return None, problem(415, "Unsupported Media Type")
    raw = await request.read()
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None, problem(400, "One or more validation errors occurred.", {"$": ["bad JSON"]})
    if not isinstance(data, dict):
        return None, problem(400, "One or more validation errors occurred.", {"$": ["object"]})
    return {str(k).lower(): v for k, v in data.items()}, None


def bad_field(name: str, why: str) -> web.Response:
    return problem(400, "One or more validation errors occurred.", {f"$.{name}": [why]})
