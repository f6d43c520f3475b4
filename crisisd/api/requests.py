"""Checking a request before anything is done with it: the caller's token, the
Idempotency-Key, the body. Each failure is a :class:`~crisisd.api.schema.Reject`."""

from __future__ import annotations

import hashlib
import re

from aiohttp import hdrs, web

from crisisd.api.schema import IDEMPOTENCY_KEY_MAX, M, Reject, parse_body
from crisisd.api.state import CALLER, JSON, STATE, TOKEN
from crisisd.config.tokens import match_token

_CHALLENGE = 'Bearer realm="crisisd"'
_IDEMPOTENCY_KEY = re.compile(rf"[\x21-\x7e][\x20-\x7e]{{0,{IDEMPOTENCY_KEY_MAX - 1}}}")


def authenticate(request: web.Request) -> str:
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
    found = match_token(request.app[STATE].tokens(), token)
    if found is None:
        raise Reject(
            401,
            "invalid_token",
            "the bearer token is not known; check that its sha256 is in api.tokens",
            headers={hdrs.WWW_AUTHENTICATE: _CHALLENGE + ', error="invalid_token"'},
        )
    request[CALLER] = found.name
    request[TOKEN] = found
    return found.name


def has_valid_token(request: web.Request) -> bool:
    try:
        authenticate(request)
    except Reject:
        return False
    return True


def idempotency_key(request: web.Request, caller: str) -> str | None:
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


async def body(request: web.Request, model: type[M]) -> M:
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
        raise too_large(limit)
    return parse_body(await request.read(), model)


def too_large(limit: int) -> Reject:
    return Reject(
        413, "body_too_large", f"the body is larger than {limit} bytes (api.max_body_bytes)"
    )
