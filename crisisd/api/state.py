"""What every route of the API shares: the application's state, the caller, JSON answers."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from crisisd.api.acklinks import AckSigner
from crisisd.config import ApiToken
from crisisd.context import DaemonContext

JSON = "application/json"
dumps = partial(json.dumps, ensure_ascii=False, default=str)

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
TOKEN = web.RequestKey("crisisd_token", ApiToken)


def json_answer(model: BaseModel, status: int = 200, *, exclude_none: bool = False) -> web.Response:
    text = model.model_dump_json(exclude_none=exclude_none)
    return web.Response(text=text, status=status, content_type=JSON, charset="utf-8")
