"""When the store cannot take a write, nobody is told "accepted": the API answers 503
``store_unavailable`` (never 201, never 500), the bot says "not accepted, nothing was sent";
a body nested too deep is a 400, not a crash.

Faults are the database's own: a SQLite connection switched to ``query_only`` (a
read-only store, as a read-only file or folder gives; the tests run as root, whom file
modes do not stop), a PostgreSQL port nobody listens on, and PostgreSQL sessions
terminated with ``pg_terminate_backend``.
"""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from crisisd.api.acklinks import AckSigner
from crisisd.api.app import create_api_app, start_api
from crisisd.config import ApiToken
from crisisd.context import DaemonContext
from crisisd.incidents import IncidentService
from crisisd.library.loader import load_library
from crisisd.library.model import Library
from crisisd.metrics import Metrics
from crisisd.store import Store
from crisisd.store.engine import normalize_url
from tests.faultworld import read_only as read_only_store
from tests.minitree import Clock, make_tree

TOKEN = "store-faults-token"
REPORT = {"factory": "mini", "type": "fire", "severity": "major", "reporter": "officer.a"}


@dataclass
class Api:
    url: str
    http: aiohttp.ClientSession

    async def call(self, method: str, path: str, data: bytes | None = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        async with self.http.request(method, self.url + path, data=data, headers=headers) as r:
            return r.status, await r.json(content_type=None)


async def serve(store: Store, library: Library) -> AsyncIterator[Api]:
    service = IncidentService(store, lambda: library, Clock())

    async def health() -> dict[str, Any]:
        return {"ok": True}

    ctx = DaemonContext(store, service, Metrics(), lambda: library, health, lambda: None)
    tokens = [ApiToken(name="erp", sha256=hashlib.sha256(TOKEN.encode()).hexdigest())]
    signer = AckSigner(b"k" * 32, timedelta(hours=1), Clock())
    app = create_api_app(ctx, tokens=tokens, signer=signer, max_body_bytes=64_000)
    runner = await start_api(app, "127.0.0.1", 0)
    host, port = runner.addresses[0][:2]
    try:
        async with aiohttp.ClientSession() as http:
            yield Api(f"http://{host}:{port}", http)
    finally:
        await runner.cleanup()


@pytest.fixture
def library(tmp_path: Path) -> Library:
    return load_library(make_tree(tmp_path / "tree"))


@pytest.fixture
async def read_only(tmp_path: Path, library: Library) -> AsyncIterator[Api]:
    url = normalize_url(f"sqlite:///{tmp_path / 'ro.sqlite3'}")
    first = Store(url)
    await first.start()  # the schema is there; then every connection is read-only
    await first.aclose()
    store = read_only_store(url)
    try:
        async for api in serve(store, library):
            yield api
    finally:
        await store.aclose()


@pytest.fixture
async def unreachable(library: Library) -> AsyncIterator[Api]:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = Store(normalize_url(f"postgresql://crisisd:pw@127.0.0.1:{port}/crisisd"))
    try:
        async for api in serve(store, library):
            yield api
    finally:
        await store.aclose()


async def test_a_read_only_store_answers_503_store_unavailable(read_only: Api) -> None:
    status, body = await read_only.call("POST", "/v1/incidents", json.dumps(REPORT).encode())
    assert status == 503, body
    assert body["error"]["code"] == "store_unavailable"
    assert "could not" in body["error"]["message"]


async def test_an_unreachable_store_answers_503_on_every_route(unreachable: Api) -> None:
    for method, path, data in [
        ("POST", "/v1/incidents", json.dumps(REPORT).encode()),
        ("GET", "/v1/incidents/KMT-479", None),
        ("POST", "/v1/incidents/KMT-479/resolve", b"{}"),
        ("GET", "/v1/contacts", None),
    ]:
        status, body = await unreachable.call(method, path, data)
        assert (status, body["error"]["code"]) == (503, "store_unavailable"), (path, body)
        assert "pw@" not in body["error"]["message"]


@pytest.mark.parametrize("depth", [1_000, 10_000])
async def test_json_nested_too_deep_is_a_400(read_only: Api, depth: int) -> None:
    deep = b"[" * depth + b"]" * depth
    for body in (deep, b'{"factory": ' + deep + b"}"):
        status, answer = await read_only.call("POST", "/v1/incidents", body)
        assert (status, answer["error"]["code"]) == (400, "malformed_json"), answer
        assert "nested" in answer["error"]["message"]
