"""Fake Kavenegar, Ghasedak, SMS.ir and a generic gateway in one aiohttp app, on loopback.

Each fake listens at its provider's real path, checks the API key and the input the
way the provider does, answers in the provider's envelope, and records every accepted
SMS in the shared :class:`~crisisd.sandbox.inbox.Inbox` (service = provider name,
channel "sms", to = E.164 phone, extra = parts/encoding as the phone would count them)::

    POST /v1/{apikey}/sms/send.json                  Kavenegar (form)
    POST /Rest/api/v1/WebService/SendSingleSMS       Ghasedak (JSON, header ApiKey)
    POST /v1/send/bulk                               SMS.ir (JSON, header X-API-KEY)
    GET|POST /generic/send                           generic: JSON, form or query with
                                                     receptor/message/localid/sender;
                                                     answers {"status": "ok", "id": "…"}
    POST /_control/faults/{provider}                 Faults.update body, e.g. {"mode": "no_credit"}
    GET  /_control/faults                            every provider's fault settings
    GET  /_control/sent?provider=kavenegar           accepted SMS and request counters
    POST /_control/reset                             faults, counters and records (not the inbox)

Fault modes per provider: ``error`` (HTTP 500 in the provider's envelope), ``rate_limit``
(Kavenegar 451, SMS.ir 20/HTTP 429, Ghasedak and generic a bare HTTP 429; all with
Retry-After), ``permanent`` (invalid key: Kavenegar 403, Ghasedak 401, SMS.ir 10, generic
401), ``no_credit`` (Kavenegar 418, Ghasedak 418, SMS.ir 102, generic 402), ``hang``
(no answer until reset or shutdown), ``drop`` (connection closed without an answer),
``garbage`` (truncated JSON with HTTP 200).

A provider with no key in ``api_keys`` accepts any non-empty key (generic: no auth).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import itertools
import json
import re
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from aiohttp import web

from crisisd.formats.textfit import sms_info
from crisisd.sandbox.faults import FaultMode, Faults
from crisisd.sandbox.inbox import Inbox

PROVIDERS = ("kavenegar", "ghasedak", "smsir", "generic")
HANG_SECONDS = 300.0  # a hung request is released by reset/shutdown, or after this
KAVENEGAR_DEFAULT_LINE = "10004346"
PRICE_PER_PART = {"gsm7": 115, "ucs2": 245}  # Rials, plausible only
_MOBILE = re.compile(r"^(?:\+98|0098|98|0)?(9\d{9})$")
_dumps = partial(json.dumps, ensure_ascii=False)


def iran_mobile(raw: object) -> str | None:
    """An Iranian mobile number in any form providers accept, as E.164; else None."""
    match = _MOBILE.match(str(raw).strip())
    return "+98" + match.group(1) if match else None


@dataclass(frozen=True, slots=True)
class SentSms:
    """One SMS a fake accepted."""

    provider: str
    id: int
    to: str
    text: str
    sender: str
    localid: str
    parts: int
    cost: int


@dataclass(slots=True)
class SmsGwState:
    """Everything the fakes know; reachable as ``app[SMSGW_STATE]``."""

    inbox: Inbox
    api_keys: dict[str, str]
    faults: dict[str, Faults] = field(default_factory=lambda: {p: Faults() for p in PROVIDERS})
    requests: Counter[str] = field(default_factory=Counter)  # every request, faulted or not
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
        item = SentSms(
            provider, next(self._ids), to, text, sender, localid, info.parts,
            info.parts * PRICE_PER_PART[info.encoding],
        )  # fmt: skip
        self.sent.append(item)
        if localid:
            self._by_localid[(provider, to, localid)] = item
        extra: dict[str, object] = {"parts": info.parts, "encoding": info.encoding, "id": item.id}
        self.inbox.add(provider, "sms", to, text, sender=sender, extra=extra)
        return item

    def reset(self) -> None:
        self.faults = {p: Faults() for p in PROVIDERS}
        self.requests.clear()
        self.sent.clear()
        self._by_localid.clear()
        self.release.set()  # free every hung request
        self.release = asyncio.Event()


SMSGW_STATE = web.AppKey("smsgw_state", SmsGwState)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Headers = dict[str, str] | None

# provider -> fault mode -> (HTTP status, provider status code, provider message)
_FAULT_REPLIES: dict[str, dict[str, tuple[int, int, str]]] = {
    "kavenegar": {
        "error": (500, 500, "خطای داخلی سرور"),
        "rate_limit": (451, 451, "فراخوانی بیش از حد مجاز در بازه زمانی"),
        "permanent": (403, 403, "کد شناسائی API-Key معتبر نمی‌باشد"),
        "no_credit": (418, 418, "اعتبار حساب شما کافی نیست"),
    },
    "ghasedak": {  # its 429 comes from the front proxy, without the API's envelope
        "error": (500, 500, "UnknownError"), "rate_limit": (429, 0, "Too Many Requests"),
        "permanent": (401, 401, "NotAuthorized"), "no_credit": (418, 418, "NotEnoughCredit"),
    },
    "smsir": {
        "error": (500, 0, "درخواست شما با خطا مواجه شده‌است"),
        "rate_limit": (429, 20, "تعداد درخواست بیشتر از حد مجاز است"),
        "permanent": (401, 10, "کلید وب سرویس نامعتبر است"),
        "no_credit": (400, 102, "اعتبار کافی نمیباشد"),
    },
    "generic": {
        "error": (500, 0, "internal error"), "rate_limit": (429, 0, "rate limited"),
        "permanent": (401, 0, "unauthorized"), "no_credit": (402, 0, "insufficient credit"),
    },
}  # fmt: skip


def _json(data: object, status: int = 200, headers: Headers = None) -> web.Response:
    return web.json_response(data, status=status, headers=headers, dumps=_dumps)


def _kv(status: int, message: str, headers: Headers = None) -> web.Response:
    body = {"return": {"status": status, "message": message}, "entries": None}
    return _json(body, status, headers)


def _gh(status: int, message: str, data: object = None, headers: Headers = None) -> web.Response:
    body = {"isSuccess": status == 200, "statusCode": status, "message": message, "data": data}
    return _json(body, status, headers)


def _ir(http: int, status: int, message: str, headers: Headers = None) -> web.Response:
    return _json({"status": status, "message": message, "data": None}, http, headers)


def _gen(http: int, error: str, headers: Headers = None) -> web.Response:
    return _json({"status": "error", "error": error}, http, headers)


def _fault_reply(provider: str, mode: FaultMode, faults: Faults) -> web.Response:
    http, code, message = _FAULT_REPLIES[provider][mode]
    headers = {"Retry-After": str(faults.retry_after)} if mode == "rate_limit" else None
    if provider == "kavenegar":
        return _kv(http, message, headers)
    if provider == "ghasedak":
        if http == 429:
            return web.Response(status=http, text=message, headers=headers)
        return _gh(http, message, headers=headers)
    if provider == "smsir":
        return _ir(http, code, message, headers)
    return _gen(http, message, headers)


def faulted(provider: str) -> Callable[[Handler], Handler]:
    """Count the request, then apply the provider's fault (if any) before the real handler."""

    def wrap(handler: Handler) -> Handler:
        async def run(request: web.Request) -> web.StreamResponse:
            state = request.app[SMSGW_STATE]
            state.requests[provider] += 1
            faults = state.faults[provider]
            if faults.latency_ms:
                await asyncio.sleep(faults.latency_ms / 1000)
            mode = faults.take()
            if mode == "none":
                return await handler(request)
            if mode == "hang":
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(state.release.wait(), HANG_SECONDS)
                return web.Response(status=503, text="released")
            if mode == "drop":
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=500)  # never reaches the client
            if mode == "garbage":
                garbage = b'{"status": 1, "data": {"mess'
                return web.Response(body=garbage, content_type="application/json")
            return _fault_reply(provider, mode, faults)

        return run

    return wrap


# -- Kavenegar -------------------------------------------------------------------------


@faulted("kavenegar")
async def kavenegar_send(request: web.Request) -> web.StreamResponse:
    state = request.app[SMSGW_STATE]
    if not state.key_ok("kavenegar", request.match_info["apikey"]):
        return _kv(403, "کد شناسائی API-Key معتبر نمی‌باشد")
    form = await request.post()
    receptors = [r.strip() for r in str(form.get("receptor", "")).split(",") if r.strip()]
    message, localid = str(form.get("message", "")), str(form.get("localid", ""))
    sender = str(form.get("sender") or KAVENEGAR_DEFAULT_LINE)
    phones = [iran_mobile(r) for r in receptors]
    if not phones or None in phones:
        return _kv(411, "گیرنده نامعتبر است")
    if not message:
        return _kv(413, "متن پیام خالی است")
    if localid and not localid.isdigit():
        return _kv(400, "پارامتر localid باید عددی باشد")
    entries = []
    for raw, phone in zip(receptors, phones, strict=True):
        assert phone is not None
        # Kavenegar sends nothing for a localid it has seen: it answers with the first send.
        item = state.seen("kavenegar", phone, localid) or state.accept(
            "kavenegar", phone, message, sender, localid
        )
        entry = {"messageid": item.id, "message": item.text, "status": 1, "sender": item.sender}
        entry |= {"statustext": "در صف ارسال", "receptor": raw, "cost": item.cost}
        entries.append(entry | {"date": int(datetime.now(UTC).timestamp())})
    return _json({"return": {"status": 200, "message": "تایید شد"}, "entries": entries})


# -- Ghasedak --------------------------------------------------------------------------


async def _json_body(request: web.Request) -> dict[str, Any] | None:
    """The JSON object body with keys lower-cased (ASP.NET binds names case-insensitively)."""
    try:
        data = await request.json()
    except ValueError:
        return None
    return {str(k).lower(): v for k, v in data.items()} if isinstance(data, dict) else None


@faulted("ghasedak")
async def ghasedak_send(request: web.Request) -> web.StreamResponse:
    state = request.app[SMSGW_STATE]
    if not state.key_ok("ghasedak", request.headers.get("ApiKey")):
        return _gh(401, "NotAuthorized")
    body = await _json_body(request)
    if body is None:
        return _gh(400, "InvalidInput")
    line, message = str(body.get("linenumber") or ""), str(body.get("message") or "")
    receptor, ref = str(body.get("receptor") or ""), str(body.get("clientreferenceid") or "")
    if not line.isdigit():
        return _gh(412, "InaccessibleLine")
    phone = iran_mobile(receptor)
    if phone is None:
        return _gh(400, "InvalidInput: شماره گیرنده نامعتبر است")
    if not message:
        return _gh(400, "InvalidInput: متن پیام خالی است")
    if state.seen("ghasedak", phone, ref):
        return _gh(451, "DuplicateRequest")
    item = state.accept("ghasedak", phone, message, line, ref)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    data = {"receptor": receptor, "lineNumber": line, "cost": item.cost, "sendDate": now}
    data |= {"messageId": str(item.id), "message": message}
    return _gh(200, "با موفقیت ارسال شد", data)


# -- SMS.ir ----------------------------------------------------------------------------


@faulted("smsir")
async def smsir_send(request: web.Request) -> web.StreamResponse:
    state = request.app[SMSGW_STATE]
    if not state.key_ok("smsir", request.headers.get("X-API-KEY")):
        return _ir(401, 10, "کلید وب سرویس نامعتبر است")
    body = await _json_body(request)
    if body is None:
        return _ir(400, 16, "مقدار ارسالی پارامتر نادرست میباشد")
    line, mobiles = body.get("linenumber"), body.get("mobiles")
    text = str(body.get("messagetext") or "")
    if isinstance(line, bool) or not str(line).isdigit():
        return _ir(400, 101, "شماره خط نامعتبر میباشد")
    if not text:
        return _ir(400, 103, "درخواست شما دارای متن (های) خالی است")
    if not isinstance(mobiles, list) or not mobiles:
        return _ir(400, 107, "لیست موبایل ها خالی میباشد")
    if len(mobiles) > 100:
        return _ir(400, 105, "تعداد موبایل ها بیشتر از حد مجاز (100 عدد) میباشد")
    phones = [iran_mobile(m) for m in mobiles]
    if None in phones:
        return _ir(400, 104, "درخواست شما دارای موبایل (های) نادرست است")
    items = [state.accept("smsir", p, text, str(line), "") for p in phones if p is not None]
    cost = float(sum(i.cost for i in items))
    data = {"packId": str(uuid.uuid4()), "messageIds": [i.id for i in items], "cost": cost}
    return _json({"status": 1, "message": "موفق", "data": data})


# -- generic ---------------------------------------------------------------------------


async def _generic_fields(request: web.Request) -> dict[str, str]:
    if request.method == "GET":
        return dict(request.query)
    if request.content_type == "application/json":
        body = await _json_body(request)
        return {k: str(v) for k, v in (body or {}).items() if v is not None}
    return {k: str(v) for k, v in (await request.post()).items()}


@faulted("generic")
async def generic_send(request: web.Request) -> web.StreamResponse:
    state = request.app[SMSGW_STATE]
    auth = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not state.key_ok("generic", request.headers.get("X-Api-Key") or auth or None):
        return _gen(401, "unauthorized")
    fields = await _generic_fields(request)
    phone, message = iran_mobile(fields.get("receptor", "")), fields.get("message", "")
    if phone is None:
        return _gen(400, "invalid receptor")
    if not message:
        return _gen(400, "empty message")
    sender, localid = fields.get("sender", ""), fields.get("localid", "")
    item = state.accept("generic", phone, message, sender, localid)
    return _json({"status": "ok", "id": f"g-{item.id}"})


# -- control ---------------------------------------------------------------------------


def _provider(request: web.Request) -> str:
    name = request.match_info["provider"].removesuffix("_http")
    if name not in PROVIDERS:
        raise web.HTTPNotFound(text=f"unknown provider {name!r}; one of {', '.join(PROVIDERS)}")
    return name


async def set_faults(request: web.Request) -> web.StreamResponse:
    state, provider = request.app[SMSGW_STATE], _provider(request)
    body = await request.json() if request.can_read_body else {}
    try:
        state.faults[provider].update(dict(body))
    except (TypeError, ValueError) as exc:
        return _json({"error": str(exc)}, 400)
    return _json(state.faults[provider].as_dict())


async def get_faults(request: web.Request) -> web.StreamResponse:
    return _json({p: f.as_dict() for p, f in request.app[SMSGW_STATE].faults.items()})


async def get_sent(request: web.Request) -> web.StreamResponse:
    state = request.app[SMSGW_STATE]
    sent = [
        asdict(s) for s in state.sent if s.provider == request.query.get("provider", s.provider)
    ]
    return _json({"sent": sent, "requests": dict(state.requests)})


async def reset(request: web.Request) -> web.StreamResponse:
    request.app[SMSGW_STATE].reset()
    return _json({"ok": True})


async def _release_hung(app: web.Application) -> None:
    app[SMSGW_STATE].release.set()


def create_smsgw_app(inbox: Inbox, api_keys: dict[str, str]) -> web.Application:
    """The four fake gateways and their control API; state at ``app[SMSGW_STATE]``."""
    app = web.Application()
    app[SMSGW_STATE] = SmsGwState(inbox, dict(api_keys))
    app.router.add_post("/v1/{apikey}/sms/send.json", kavenegar_send)
    app.router.add_post("/Rest/api/v1/WebService/SendSingleSMS", ghasedak_send)
    app.router.add_post("/v1/send/bulk", smsir_send)
    app.router.add_route("*", "/generic/send", generic_send)
    app.router.add_post("/_control/faults/{provider}", set_faults)
    app.router.add_get("/_control/faults", get_faults)
    app.router.add_get("/_control/sent", get_sent)
    app.router.add_post("/_control/reset", reset)
    app.on_shutdown.append(_release_hung)
    return app


@dataclass(slots=True)
class SmsGwServer:
    """A running fake on loopback: ``url`` is the base URL to give every SMS gateway."""

    runner: web.AppRunner
    app: web.Application
    url: str

    @property
    def state(self) -> SmsGwState:
        return self.app[SMSGW_STATE]

    async def aclose(self) -> None:
        await self.runner.cleanup()


async def start_smsgw(
    inbox: Inbox, api_keys: dict[str, str], host: str = "127.0.0.1", port: int = 0
) -> SmsGwServer:
    """Start the fakes on ``host:port`` (0: any free port). No access log: paths carry keys."""
    app = create_smsgw_app(inbox, api_keys)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0]
    return SmsGwServer(runner, app, f"http://{bound[0]}:{bound[1]}")
