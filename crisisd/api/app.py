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

The routes live by audience: :mod:`.incidents` (integrations), :mod:`.acks` (people),
:mod:`.health` (monitoring); :mod:`.requests` checks a request, :mod:`.state` is what they
share. This module assembles them and answers every error the same way.

Every request is checked in full (token, headers, body) before the incident service
is called, so a rejected request changes nothing. Errors are JSON
``{"error": {"code", "message"}}`` with no traceback and no secret in them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import structlog
from aiohttp import hdrs, web

from crisisd import __version__
from crisisd.api.acklinks import AckSigner
from crisisd.api.acks import ack_confirm, ack_link
from crisisd.api.health import healthz, metrics, openapi
from crisisd.api.incidents import get_incident, open_incident, post_update, resolve, takeover
from crisisd.api.people import get_contacts, post_invites, post_task_done, with_people_routes
from crisisd.api.requests import too_large
from crisisd.api.rollcall import add_rollcall_routes
from crisisd.api.rollcall_schema import with_rollcall_routes
from crisisd.api.schema import (
    ErrorBody,
    ErrorDetail,
    FieldProblem,
    Reject,
    error_status,
    openapi_document,
)
from crisisd.api.state import CALLER, STATE, ApiState, Handler, json_answer
from crisisd.config import ApiToken
from crisisd.context import DaemonContext
from crisisd.errors import ConfigError, CrisisError, StoreError, StoreUnavailable
from crisisd.redaction import redact
from crisisd.store.driver_errors import kind_of

__all__ = ["STATE", "create_api_app", "start_api"]

log = structlog.get_logger("crisisd.api.app")


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
        with_rollcall_routes(with_people_routes(openapi_document(__version__))),
    )
    app.on_response_prepare.append(_common_headers)
    r = app.router
    r.add_post("/v1/incidents", open_incident)
    r.add_get("/v1/incidents/{id}", get_incident)
    r.add_post("/v1/incidents/{id}/updates", post_update)
    r.add_post("/v1/incidents/{id}/resolve", resolve)
    r.add_post("/v1/incidents/{id}/takeover", takeover)
    r.add_post("/v1/invites", post_invites)
    r.add_get("/v1/contacts", get_contacts)
    r.add_post("/v1/tasks/{id}/done", post_task_done)
    # No HEAD: link checkers send HEAD requests, and one must not acknowledge for a person.
    r.add_get("/v1/ack/{token}", ack_confirm, allow_head=False)
    r.add_post("/v1/ack/{token}", ack_link)
    add_rollcall_routes(r)
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


# -- answering ----------------------------------------------------------------------------------


def _error(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    problems: list[FieldProblem] | None = None,
) -> web.Response:
    body = ErrorBody(error=ErrorDetail(code=code, message=redact(message), problems=problems))
    response = json_answer(body, status, exclude_none=True)
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
        return _error(413, "body_too_large", too_large(request.app[STATE].max_body_bytes).message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "http_error")
        allow = {"Allow": exc.headers[hdrs.ALLOW]} if hdrs.ALLOW in exc.headers else None
        return _error(exc.status, code, _http_text(request, exc), allow)
    except Exception as exc:  # noqa: BLE001 - the caller gets a clean 500, the log gets the repr
        log.error("api.failed", error=redact(repr(exc)), path=_log_path(request))
        if _from_the_store(exc):  # a driver error that escaped the store's own mapping
            return _error(503, "store_unavailable", _STORE_DOWN)
        return _error(500, "internal", "crisisd could not handle this request; see its log")


_STORE_DOWN = "the store cannot take this now; nothing was done — try again shortly"


def _from_the_store(exc: BaseException) -> bool:
    """Whether ``exc``, or what it came from, is the database failing (or a timeout):
    such a request is answered 503, as docs/api.md promises, never 500."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, StoreError) or kind_of(cause) is StoreUnavailable:
            return True
        cause = cause.__cause__ or cause.__context__
    return False


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
