"""Fake Kavenegar, Ghasedak, SMS.ir and a generic gateway in one aiohttp app, on loopback.

Each fake (one module per provider: ``smsgw_kavenegar``, ``smsgw_ghasedak``, ``smsgw_smsir``,
``smsgw_generic``) listens at its provider's real paths, takes the request in exactly the
documented format (form or JSON, field names and types, the API key where the provider
wants it) and refuses the rest as the real server does, answers in the provider's envelope
with its documented status codes, records every accepted SMS in the shared
:class:`~crisisd.sandbox.inbox.Inbox` (service = provider name, channel "sms", to = E.164
phone, extra = parts/encoding as the phone would count them) and serves the provider's
status API with a delivery outcome per message.

Control API::

    POST /_control/faults/{provider}    Faults.update body, e.g. {"mode": "no_credit"}
    GET  /_control/faults               every provider's fault settings
    POST /_control/answer/{provider}    the next sends get a documented status code or an
                                        answer without envelope: {"code": 416} or
                                        {"shape": "html" | "empty" | "unknown_json"};
                                        "count": how many (default 1, null: until reset)
    GET  /_control/codes                every provider's documented status codes
    POST /_control/delivery/{provider}  {"outcome": "delivered" | "undelivered" | "expired"
                                        | "pending", "code": raw provider code (optional),
                                        "ids": [...] (optional; without: every message so
                                        far and every later one)}
    POST /_control/blacklist            {"phones": [...]}: SMS.ir answers 0 for them
    POST /_control/settings             {"key_case": "pascal" | "camel"} (Ghasedak's keys)
    GET  /_control/sent?provider=…      accepted SMS, request counters and each bulk request's
                                        size (``batches``: [provider, numbers])
    POST /_control/reset                all of the above back to normal (not the inbox)

Fault modes per provider: ``error`` (the provider's server error), ``rate_limit`` (Kavenegar
451, SMS.ir 20/HTTP 429, Ghasedak and generic a bare HTTP 429; all with Retry-After),
``permanent`` (invalid key: Kavenegar 403, Ghasedak 401, SMS.ir 10, generic 401),
``no_credit`` (Kavenegar 418, Ghasedak 418, SMS.ir 102, generic 402), ``hang`` (no answer
until reset or shutdown), ``drop`` (connection closed without an answer), ``garbage``
(truncated JSON with HTTP 200).

A provider with no key in ``api_keys`` accepts any non-empty key (generic: no auth).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from aiohttp import web

from crisisd.sandbox import (
    smsgw_generic,
    smsgw_ghasedak,
    smsgw_inbound,
    smsgw_kavenegar,
    smsgw_smsir,
)
from crisisd.sandbox.inbox import Inbox
from crisisd.sandbox.smsgw_state import (
    OUTCOMES,
    PROVIDERS,
    SHAPES,
    SMSGW_STATE,
    Forced,
    Outcome,
    SentSms,
    SmsGwState,
    iran_mobile,
    json_response,
)

__all__ = ["SMSGW_STATE", "SmsGwServer", "SmsGwState", "create_smsgw_app", "iran_mobile"]
__all__ += ["start_smsgw"]

DOCUMENTED: dict[str, dict[int, str]] = {
    "kavenegar": smsgw_kavenegar.MESSAGES,
    "ghasedak": smsgw_ghasedak.MESSAGES,
    "smsir": smsgw_smsir.MESSAGES,
}


def _provider(request: web.Request) -> str:
    name = request.match_info["provider"].removesuffix("_http")
    if name not in PROVIDERS:
        raise web.HTTPNotFound(text=f"unknown provider {name!r}; one of {', '.join(PROVIDERS)}")
    return name


async def _body(request: web.Request) -> dict[str, Any]:
    body = await request.json() if request.can_read_body else {}
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="the body must be a JSON object")
    return body


async def set_faults(request: web.Request) -> web.StreamResponse:
    state, provider = request.app[SMSGW_STATE], _provider(request)
    try:
        state.faults[provider].update(await _body(request))
    except (TypeError, ValueError) as exc:
        return json_response({"error": str(exc)}, 400)
    return json_response(state.faults[provider].as_dict())


async def get_faults(request: web.Request) -> web.StreamResponse:
    return json_response({p: f.as_dict() for p, f in request.app[SMSGW_STATE].faults.items()})


async def set_answer(request: web.Request) -> web.StreamResponse:
    state, provider, body = request.app[SMSGW_STATE], _provider(request), await _body(request)
    code, shape, count = body.get("code"), body.get("shape"), body.get("count", 1)
    if (code is None) == (shape is None) or (code is not None and not isinstance(code, int)):
        return json_response({"error": 'give either "code" (a number) or "shape"'}, 400)
    if shape is not None and shape not in SHAPES:
        return json_response({"error": f"unknown shape; one of {', '.join(SHAPES)}"}, 400)
    if count is not None and not isinstance(count, int):
        return json_response({"error": '"count" is a number or null'}, 400)
    state.forced[provider] = Forced(code, shape, count)
    documented = code is None or code in DOCUMENTED.get(provider, {code: ""})
    return json_response({"provider": provider, "code": code, "shape": shape, "count": count,
                          "documented": documented})  # fmt: skip


async def get_codes(request: web.Request) -> web.StreamResponse:
    return json_response({p: {str(c): m for c, m in t.items()} for p, t in DOCUMENTED.items()})


async def set_delivery(request: web.Request) -> web.StreamResponse:
    state, provider, body = request.app[SMSGW_STATE], _provider(request), await _body(request)
    outcome, code, ids = body.get("outcome", "delivered"), body.get("code"), body.get("ids")
    if outcome not in OUTCOMES or (code is not None and not isinstance(code, int)):
        return json_response({"error": f"outcome is one of {', '.join(OUTCOMES)}"}, 400)
    chosen = cast(Outcome, outcome)
    wanted = {str(i) for i in ids} if isinstance(ids, list) else None
    if wanted is None:
        state.outcome[provider] = chosen
    changed = 0
    for item in state.sent:
        if item.provider == provider and (wanted is None or str(item.id) in wanted):
            state.set_outcome(item, chosen, code)
            changed += 1
    return json_response({"provider": provider, "outcome": chosen, "changed": changed})


async def set_blacklist(request: web.Request) -> web.StreamResponse:
    state, body = request.app[SMSGW_STATE], await _body(request)
    phones = [iran_mobile(p) for p in body.get("phones", [])]
    state.blacklist = {p for p in phones if p is not None}
    return json_response({"blacklist": sorted(state.blacklist)})


async def set_settings(request: web.Request) -> web.StreamResponse:
    state, body = request.app[SMSGW_STATE], await _body(request)
    case = body.get("key_case", state.key_case)
    if case not in ("pascal", "camel"):
        return json_response({"error": 'key_case is "pascal" or "camel"'}, 400)
    state.key_case = case
    return json_response({"key_case": state.key_case})


def _sent_json(item: SentSms) -> dict[str, object]:
    at = item.outcome_at.isoformat() if item.outcome_at else None
    return {
        "provider": item.provider, "id": item.id, "to": item.to, "text": item.text,
        "sender": item.sender, "localid": item.localid, "parts": item.parts, "cost": item.cost,
        "at": item.at.isoformat(), "outcome": item.outcome, "outcome_at": at, "code": item.code,
    }  # fmt: skip


async def get_sent(request: web.Request) -> web.StreamResponse:
    state = request.app[SMSGW_STATE]
    wanted = request.query.get("provider")
    sent = [_sent_json(s) for s in state.sent if wanted in (None, s.provider)]
    batches = [[p, n] for p, n in state.batches if wanted in (None, p)]
    return json_response({"sent": sent, "requests": dict(state.requests), "batches": batches})


async def reset(request: web.Request) -> web.StreamResponse:
    request.app[SMSGW_STATE].reset()
    return json_response({"ok": True})


async def _release_hung(app: web.Application) -> None:
    app[SMSGW_STATE].release.set()


def create_smsgw_app(inbox: Inbox, api_keys: dict[str, str]) -> web.Application:
    """The four fake gateways and their control API; state at ``app[SMSGW_STATE]``."""
    app = web.Application()
    app[SMSGW_STATE] = SmsGwState(inbox, dict(api_keys))
    for module in (smsgw_kavenegar, smsgw_ghasedak, smsgw_smsir, smsgw_generic):
        module.add_routes(app)
    smsgw_inbound.add_routes(app)  # the receive APIs: replies from phones
    app.router.add_post("/_control/faults/{provider}", set_faults)
    app.router.add_get("/_control/faults", get_faults)
    app.router.add_post("/_control/answer/{provider}", set_answer)
    app.router.add_get("/_control/codes", get_codes)
    app.router.add_post("/_control/delivery/{provider}", set_delivery)
    app.router.add_post("/_control/blacklist", set_blacklist)
    app.router.add_post("/_control/settings", set_settings)
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
