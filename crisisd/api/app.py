"""The HTTP API: incidents for integrations, ack links for people, health and metrics.

Routes (the OpenAPI document at ``/openapi.json`` has the schemas)::

    POST /v1/incidents                 bearer   report an incident (Idempotency-Key)
    GET  /v1/incidents/{id}            bearer   the incident, delivery and ack counts
    POST /v1/incidents/{id}/updates    bearer   an update statement
    POST /v1/incidents/{id}/resolve    bearer   the all-clear
    POST /v1/incidents/{id}/takeover   bearer   the provincial crisis HQ took over
    GET  /v1/ack/{token}               signed   the confirm page of an email or SMS ack link
    POST /v1/ack/{token}               signed   acknowledge (the page's button)
    GET  /healthz  /metrics  /openapi.json

Every request is checked in full (token, headers, body) before the incident service
is called, so a rejected request changes nothing. Errors are JSON
``{"error": {"code", "message"}}`` with no traceback and no secret in them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import structlog
from aiohttp import hdrs, web
from pydantic import BaseModel

from crisisd import __version__
from crisisd.api.acklinks import AckLinkError, AckPage, AckSigner, ExpiredAckLinkError, ack_page
from crisisd.api.schema import (
    IDEMPOTENCY_KEY_MAX,
    ActionDone,
    ErrorBody,
    ErrorDetail,
    FieldProblem,
    IncidentCreated,
    M,
    OpenIncident,
    PostUpdate,
    Reject,
    Resolve,
    Takeover,
    Unreachable,
    error_status,
    incident_view,
    openapi_document,
    parse_body,
)
from crisisd.config import ApiToken
from crisisd.context import DaemonContext
from crisisd.domain import Casualties, IncidentReport, MessageStatus
from crisisd.errors import ConfigError, CrisisError, UnknownIncidentError
from crisisd.redaction import redact, redact_value

log = structlog.get_logger("crisisd.api.app")

JSON = "application/json"
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_CHALLENGE = 'Bearer realm="crisisd"'
_IDEMPOTENCY_KEY = re.compile(rf"[\x21-\x7e][\x20-\x7e]{{0,{IDEMPOTENCY_KEY_MAX - 1}}}")
_dumps = partial(json.dumps, ensure_ascii=False, default=str)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class ApiState:
    ctx: DaemonContext
    tokens: Callable[[], Sequence[ApiToken]]  # read per request, so a reload can revoke one
    signer: AckSigner
    max_body_bytes: int
    openapi: dict[str, Any]


STATE = web.AppKey("crisisd_api", ApiState)
CALLER = web.RequestKey("crisisd_integration", str)


def create_api_app(
    ctx: DaemonContext,
    *,
    tokens: Sequence[ApiToken] | Callable[[], Sequence[ApiToken]],
    signer: AckSigner,
    max_body_bytes: int,
) -> web.Application:
    """The API as an aiohttp application; :func:`start_api` serves it.

    ``tokens``: a fixed list, or a callable giving the current list (e.g. from the
    last good config), so that a reload adds or revokes integrations.
    """
    app = web.Application(client_max_size=max_body_bytes, middlewares=[_log_requests, _json_errors])
    app[STATE] = ApiState(
        ctx,
        tokens if callable(tokens) else (lambda: tuple(tokens)),
        signer,
        max_body_bytes,
        openapi_document(__version__),
    )
    app.on_response_prepare.append(_common_headers)
    r = app.router
    r.add_post("/v1/incidents", open_incident)
    r.add_get("/v1/incidents/{id}", get_incident)
    r.add_post("/v1/incidents/{id}/updates", post_update)
    r.add_post("/v1/incidents/{id}/resolve", resolve)
    r.add_post("/v1/incidents/{id}/takeover", takeover)
    # No HEAD: link checkers send HEAD requests, and one must not acknowledge for a person.
    r.add_get("/v1/ack/{token}", ack_confirm, allow_head=False)
    r.add_post("/v1/ack/{token}", ack_link)
    r.add_get("/healthz", healthz)
    r.add_get("/metrics", metrics)
    r.add_get("/openapi.json", openapi)
    return app


async def start_api(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Serve ``app`` on host:port (0: any free port; see ``runner.addresses``)."""
    # Our own api.request event replaces the access log, which would print ack tokens.
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigError(
            f"api: cannot listen on {host}:{port} ({exc.strerror or exc}); "
            "change api.bind / api.port in config.yaml or stop what holds the port"
        ) from exc
    return runner


# -- incidents --------------------------------------------------------------------------------


async def open_incident(request: web.Request) -> web.Response:
    caller = _authenticate(request)
    key = _idempotency_key(request, caller)
    body = await _body(request, OpenIncident)
    ctx = request.app[STATE].ctx
    report = IncidentReport(
        factory=body.factory,
        incident_type=body.type,
        severity=body.severity,
        reporter=body.reporter,
        details=body.details,
        location=body.location,
        casualties=Casualties(body.casualties),
        drill=body.drill,
        source=f"api:{caller}",
        idempotency_key=key,
    )
    opened = await ctx.service.open(report)
    if opened.created:
        ctx.kick()
    result = IncidentCreated(
        id=opened.incident_id,
        created=opened.created,
        messages=opened.messages,
        unreachable=[Unreachable(audience=a, contact=c) for a, c in opened.unreachable],
    )
    return _json(result, 201 if opened.created else 200)


async def get_incident(request: web.Request) -> web.Response:
    _authenticate(request)
    ctx = request.app[STATE].ctx
    row = await ctx.service.get(request.match_info["id"])
    return _json(incident_view(row, await ctx.store.messages_of(row.id)))


async def post_update(request: web.Request) -> web.Response:
    caller = _authenticate(request)
    body = await _body(request, PostUpdate)
    ctx, incident_id = request.app[STATE].ctx, _incident_id(request)
    planned = await ctx.service.update(incident_id, body.details, body.actor or f"api:{caller}")
    return _done(ctx, ActionDone(id=incident_id, messages=planned))


async def resolve(request: web.Request) -> web.Response:
    caller = _authenticate(request)
    body = await _body(request, Resolve)
    ctx, incident_id = request.app[STATE].ctx, _incident_id(request)
    planned = await ctx.service.resolve(incident_id, body.actor or f"api:{caller}")
    return _done(ctx, ActionDone(id=incident_id, messages=planned))


async def takeover(request: web.Request) -> web.Response:
    caller = _authenticate(request)
    body = await _body(request, Takeover)
    ctx, incident_id = request.app[STATE].ctx, _incident_id(request)
    planned, cancelled = await ctx.service.takeover(incident_id, body.actor or f"api:{caller}")
    return _done(ctx, ActionDone(id=incident_id, messages=planned, cancelled=cancelled))


def _done(ctx: DaemonContext, result: ActionDone) -> web.Response:
    if result.messages:
        ctx.kick()
    return _json(result, exclude_none=True)


def _incident_id(request: web.Request) -> str:
    return request.match_info["id"].strip().upper()


# -- ack links, health, metrics, the document ---------------------------------------------------


async def ack_confirm(request: web.Request) -> web.Response:
    """Opening the link checks it and asks for one press; it records nothing."""
    state = request.app[STATE]
    try:
        code = state.signer.verify(request.match_info["token"])
    except AckLinkError as exc:
        log.info("ack.link_refused", reason=type(exc).__name__)
        return _page(ack_page("expired" if isinstance(exc, ExpiredAckLinkError) else "invalid"))
    msg = await state.ctx.store.message_by_ack_code(code)
    if msg is None:
        return _page(ack_page("unknown"))
    if msg.acked_at is not None:
        return _page(ack_page("already", msg.incident_id, msg.acked_at))
    return _page(ack_page("confirm", msg.incident_id))


async def ack_link(request: web.Request) -> web.Response:
    state = request.app[STATE]
    try:
        code = state.signer.verify(request.match_info["token"])
    except AckLinkError as exc:
        log.info("ack.link_refused", reason=type(exc).__name__)
        return _page(ack_page("expired" if isinstance(exc, ExpiredAckLinkError) else "invalid"))
    try:
        result = await state.ctx.service.acknowledge_code(code, via="link")
    except UnknownIncidentError:
        return _page(ack_page("unknown"))
    return _page(ack_page("acked" if result.new else "already", result.incident_id, result.at))


def _page(page: AckPage) -> web.Response:
    return web.Response(
        text=page.html,
        status=page.status,
        content_type="text/html",
        headers={
            "Content-Security-Policy": (
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"
            ),
            "Referrer-Policy": "no-referrer",
            "X-Robots-Tag": "noindex",
        },
    )


async def healthz(request: web.Request) -> web.Response:
    """Anyone gets ``{"ok": …}`` (for load balancers); integrations with a token the detail."""
    detailed = _has_valid_token(request)
    try:
        report = await request.app[STATE].ctx.health()
    except Exception as exc:  # noqa: BLE001 - a failing check is itself the answer: unhealthy
        log.warning("api.health_failed", error=redact(repr(exc)))
        report = {"ok": False, "error": f"health check failed: {type(exc).__name__}"}
    ok = bool(report.get("ok"))
    shown = redact_value(report) if detailed else {"ok": ok}
    return web.json_response(shown, status=200 if ok else 503, dumps=_dumps)


def _has_valid_token(request: web.Request) -> bool:
    try:
        _authenticate(request)
    except Reject:
        return False
    return True


async def metrics(request: web.Request) -> web.Response:
    """Needs a token: the API listens where recipients' phones reach the ack links, and the
    counters would tell anyone that a factory just had an incident."""
    _authenticate(request)
    ctx = request.app[STATE].ctx
    try:
        depth = await ctx.store.queue_depth()
    except Exception as exc:  # noqa: BLE001 - the other metrics are still worth scraping
        log.warning("api.queue_depth_failed", error=redact(repr(exc)))
    else:
        for status in {s.value for s in MessageStatus} | set(depth):
            ctx.metrics.queue_depth.labels(status).set(depth.get(status, 0))
    return web.Response(body=ctx.metrics.render(), headers={"Content-Type": METRICS_CONTENT_TYPE})


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE].openapi, dumps=_dumps)


# -- checking a request -------------------------------------------------------------------------


def _authenticate(request: web.Request) -> str:
    """The integration whose bearer token this is; 401 otherwise. Every token is compared."""
    scheme, _, token = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Reject(
            401,
            "unauthorized",
            "send 'Authorization: Bearer <token>' with a token listed (as sha256) in api.tokens",
            headers={hdrs.WWW_AUTHENTICATE: _CHALLENGE},
        )
    digest = hashlib.sha256(token.encode("utf-8")).digest()
    caller = None
    for configured in request.app[STATE].tokens():
        if hmac.compare_digest(digest, bytes.fromhex(configured.sha256)):
            caller = configured.name
    if caller is None:
        raise Reject(
            401,
            "invalid_token",
            "the bearer token is not known; check that its sha256 is in api.tokens",
            headers={hdrs.WWW_AUTHENTICATE: _CHALLENGE + ', error="invalid_token"'},
        )
    request[CALLER] = caller
    return caller


def _idempotency_key(request: web.Request, caller: str) -> str | None:
    """The key as stored: scoped to the integration, so two callers' keys never collide."""
    raw = request.headers.get("Idempotency-Key")
    if raw is None:
        return None
    if not _IDEMPOTENCY_KEY.fullmatch(raw.strip()):
        raise Reject(
            400,
            "invalid_idempotency_key",
            f"Idempotency-Key must be 1–{IDEMPOTENCY_KEY_MAX} printable ASCII characters",
        )
    scoped = hashlib.sha256(f"{caller}\n{raw.strip()}".encode()).hexdigest()
    return f"api:{scoped}"


async def _body(request: web.Request, model: type[M]) -> M:
    """The JSON body validated against ``model``; an empty body counts as ``{}``."""
    limit = request.app[STATE].max_body_bytes
    if request.body_exists:
        if request.content_type != JSON:
            got = request.headers.get(hdrs.CONTENT_TYPE)
            raise Reject(
                415,
                "unsupported_media_type",
                f"send the body as Content-Type: {JSON} (got {got or 'no Content-Type'})",
            )
        if (request.charset or "utf-8").lower().replace("_", "-") not in ("utf-8", "utf8"):
            raise Reject(415, "unsupported_media_type", "the body must be UTF-8 JSON")
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    return parse_body(await request.read(), model)


def _too_large(limit: int) -> Reject:
    return Reject(
        413, "body_too_large", f"the body is larger than {limit} bytes (api.max_body_bytes)"
    )


# -- answering ----------------------------------------------------------------------------------


def _json(model: BaseModel, status: int = 200, *, exclude_none: bool = False) -> web.Response:
    text = model.model_dump_json(exclude_none=exclude_none)
    return web.Response(text=text, status=status, content_type=JSON, charset="utf-8")


def _error(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    problems: list[FieldProblem] | None = None,
) -> web.Response:
    body = ErrorBody(error=ErrorDetail(code=code, message=redact(message), problems=problems))
    response = _json(body, status, exclude_none=True)
    response.headers.update(headers or {})
    return response


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}


@web.middleware
async def _json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Reject as exc:
        return _error(exc.status, exc.code, exc.message, exc.headers, exc.problems)
    except CrisisError as exc:
        status, code = error_status(exc)
        if status >= 500:
            log.error("api.failed", error=redact(repr(exc)), path=_log_path(request))
        return _error(status, code, str(exc))
    except web.HTTPRequestEntityTooLarge:
        return _error(413, "body_too_large", _too_large(request.app[STATE].max_body_bytes).message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "http_error")
        allow = {"Allow": exc.headers[hdrs.ALLOW]} if hdrs.ALLOW in exc.headers else None
        return _error(exc.status, code, _http_text(request, exc), allow)
    except Exception as exc:  # noqa: BLE001 - the caller gets a clean 500, the log gets the repr
        log.error("api.failed", error=redact(repr(exc)), path=_log_path(request))
        return _error(500, "internal", "crisisd could not handle this request; see its log")


def _http_text(request: web.Request, exc: web.HTTPException) -> str:
    where = f"{request.method} {_log_path(request)}"
    if exc.status == 404:
        return f"no such route: {where}; the routes are listed at /openapi.json"
    if exc.status == 405:
        return f"method not allowed: {where}; allowed: {exc.headers.get(hdrs.ALLOW, '-')}"
    return f"{exc.reason}: {where}"


@web.middleware
async def _log_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 499  # stays so only when the client went away mid-request
    try:
        response = await handler(request)
        status = response.status
        return response
    finally:
        log.info(
            "api.request",
            method=request.method,
            path=_log_path(request),
            status=status,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
            integration=request.get(CALLER),
        )


def _log_path(request: web.Request) -> str:
    """The path without an ack token: a token in a log is an acknowledgement anyone can make."""
    path = request.path
    return "/v1/ack/{token}" if path.startswith("/v1/ack/") else path


async def _common_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Cache-Control", "no-store")
