"""The HTTP API over real HTTP on loopback, with a real store, library and incident service."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from structlog.testing import capture_logs

from crisisd import redaction
from crisisd.api.acklinks import AckSigner
from crisisd.api.app import STATE, create_api_app, start_api
from crisisd.config import ApiToken
from crisisd.context import DaemonContext
from crisisd.domain import channel_kind
from crisisd.incidents import IncidentService
from crisisd.library.loader import load_library
from crisisd.metrics import Metrics
from crisisd.store import MessageRow, OutcomeSent, Store
from crisisd.store.engine import normalize_url
from tests.minitree import make_tree

TOKEN = "erp-token-Zq3vN8xW2kLp7sRt5yUb"
OTHER_TOKEN = "scada-token-Hf4jD9mQ1cVx6nBz"
ACK_SECRET = b"ack-secret-for-tests-0123456789"
MAX_BODY = 4096
REPORT: dict[str, Any] = {
    "factory": "mini",
    "type": "fire",
    "severity": "major",
    "reporter": "officer.a",
    "details": "آتش در سالن ۲ — fire in hall 2",
    "location": "سالن ۲",
    "casualties": "unknown",
}


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Api:
    url: str
    http: aiohttp.ClientSession
    store: Store
    ctx: DaemonContext
    signer: AckSigner
    clock: Clock
    kicks: list[str] = field(default_factory=list)
    tokens: list[ApiToken] = field(default_factory=list)  # what the API reads per request

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = TOKEN,
        headers: dict[str, str] | None = None,
        data: Any = None,
    ) -> tuple[int, Any, dict[str, str]]:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode()
            sent.setdefault("Content-Type", "application/json")
        async with self.http.request(method, self.url + path, data=data, headers=sent) as resp:
            text = await resp.text()
            ctype = resp.headers.get("Content-Type", "")
            parsed = json.loads(text) if text and ctype.startswith("application/json") else text
            return resp.status, parsed, dict(resp.headers)

    async def open(self, **changes: Any) -> str:
        status, body, _ = await self.call("POST", "/v1/incidents", {**REPORT, **changes})
        assert status == 201, body
        return str(body["id"])

    async def messages(self, incident_id: str) -> list[MessageRow]:
        return await self.store.messages_of(incident_id)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    library = load_library(make_tree(tmp_path / "tree"))
    store = Store(normalize_url(f"sqlite:///{tmp_path / 'api.sqlite3'}"))
    await store.start()
    service = IncidentService(store, lambda: library)
    kicks: list[str] = []

    async def health() -> dict[str, Any]:
        ok = await store.ping()
        return {"ok": ok, "store": "ok" if ok else "unreachable", "channels": {}}

    ctx = DaemonContext(
        store=store,
        service=service,
        metrics=Metrics(),
        library=lambda: library,
        health=health,
        kick=lambda: kicks.append("kick"),
    )
    service.metrics = ctx.metrics  # as the daemon wires it
    clock = Clock()
    signer = AckSigner(ACK_SECRET, timedelta(hours=48), clock)
    tokens = [
        ApiToken(name="erp", sha256=_sha(TOKEN)),
        ApiToken(name="scada", sha256=_sha(OTHER_TOKEN)),
    ]
    app = create_api_app(ctx, tokens=lambda: tokens, signer=signer, max_body_bytes=MAX_BODY)
    runner = await start_api(app, "127.0.0.1", 0)
    host, port = runner.addresses[0][:2]
    try:
        async with aiohttp.ClientSession() as http:
            yield Api(f"http://{host}:{port}", http, store, ctx, signer, clock, kicks, tokens)
    finally:
        await runner.cleanup()
        await store.aclose()


def _error(body: Any) -> tuple[str, str]:
    assert set(body) == {"error"}, body
    return body["error"]["code"], body["error"]["message"]


# -- a rejected request changes nothing -----------------------------------------------------------

JSON_CT = {"Content-Type": "application/json"}
NO_REPORTER = {k: v for k, v in REPORT.items() if k != "reporter"}
# id, body (JSON) or raw bytes, extra headers, token, status, error code, words in the message
# fmt: off
REJECTED: list[tuple[str, Any, dict[str, str], str | None, int, str, str]] = [
    ("no token", REPORT, {}, None, 401, "unauthorized", "Authorization: Bearer"),
    ("wrong token", REPORT, {}, "wrong-token", 401, "invalid_token", "not known"),
    ("token plus a char", REPORT, {}, TOKEN + "x", 401, "invalid_token", "sha256"),
    ("basic auth", REPORT, {"Authorization": "Basic ZXJwOnRva2Vu"}, None, 401, "unauthorized", ""),
    ("malformed json", b'{\n  "factory": "mini",\n  "type": fire\n}', JSON_CT, TOKEN, 400, "malformed_json", "line 3, column 11"),
    ("not utf-8", b'{"details": "\xff"}', JSON_CT, TOKEN, 400, "malformed_json", "not UTF-8"),
    ("text/plain", REPORT, {"Content-Type": "text/plain"}, TOKEN, 415, "unsupported_media_type", "application/json"),
    ("form", REPORT, {"Content-Type": "application/x-www-form-urlencoded"}, TOKEN, 415, "unsupported_media_type", "application/json"),
    ("latin-1", REPORT, {"Content-Type": "application/json; charset=latin-1"}, TOKEN, 415, "unsupported_media_type", "UTF-8"),
    ("oversize", {**REPORT, "details": "x" * MAX_BODY}, {}, TOKEN, 413, "body_too_large", str(MAX_BODY)),
    ("unknown factory", {**REPORT, "factory": "mimi"}, {}, TOKEN, 404, "unknown_factory", "did you mean 'mini'?"),
    ("unknown type", {**REPORT, "type": "fier"}, {}, TOKEN, 422, "invalid_report", "did you mean 'fire'?"),
    ("unknown severity", {**REPORT, "severity": "majr"}, {}, TOKEN, 422, "invalid_report", "did you mean 'major'?"),
    ("unknown field", {**REPORT, "detials": "typo"}, {}, TOKEN, 422, "invalid_body", "detials: unknown field — did you mean 'details'?"),
    ("missing field", NO_REPORTER, {}, TOKEN, 422, "invalid_body", "reporter: Field required"),
    ("not an object", [REPORT], {}, TOKEN, 422, "invalid_body", "the body must be a JSON object"),
    ("string for a bool", {**REPORT, "drill": "true"}, {}, TOKEN, 422, "invalid_body", "drill: Input should be a valid boolean"),
    ("reporter not an officer", {**REPORT, "reporter": "staff.b"}, {}, TOKEN, 403, "forbidden", "not an officer of mini"),
    ("idempotency key too long", REPORT, {"Idempotency-Key": "k" * 201}, TOKEN, 400, "invalid_idempotency_key", "1–200"),
]
# fmt: on


@pytest.mark.parametrize(
    ("body", "headers", "token", "status_", "code_", "words"),
    [pytest.param(*case[1:], id=case[0]) for case in REJECTED],
)
async def test_rejected_request_is_a_clear_json_error_and_stores_nothing(
    api: Api,
    body: Any,
    headers: dict[str, str],
    token: str | None,
    status_: int,
    code_: str,
    words: str,
) -> None:
    raw = body if isinstance(body, bytes) else None
    status, answer, got = await api.call(
        "POST", "/v1/incidents", None if raw else body, token=token, headers=headers, data=raw
    )

    assert status == status_, answer
    code, message = _error(answer)
    assert (code, words in message) == (code_, True), message
    if code != "invalid_body":
        assert set(answer["error"]) == {"code", "message"}
    assert TOKEN not in json.dumps(answer)
    if status == 401:
        assert got["WWW-Authenticate"].startswith('Bearer realm="crisisd"')
    assert await api.store.list_incidents() == []
    assert api.kicks == []


async def test_a_revoked_token_stops_working_without_a_restart(api: Api) -> None:
    assert (await api.call("POST", "/v1/incidents", REPORT, token=OTHER_TOKEN))[0] == 201

    api.tokens[:] = [t for t in api.tokens if t.name != "scada"]  # what a reload does

    status, body, _ = await api.call("POST", "/v1/incidents", REPORT, token=OTHER_TOKEN)
    assert (status, _error(body)[0]) == (401, "invalid_token")
    assert len(await api.store.list_incidents()) == 1


def test_a_fixed_token_list_is_accepted(api: Api) -> None:
    fixed = [ApiToken(name="erp", sha256=_sha(TOKEN))]
    app = create_api_app(api.ctx, tokens=fixed, signer=api.signer, max_body_bytes=MAX_BODY)

    assert list(app[STATE].tokens()) == fixed


async def test_oversize_chunked_body_is_413(api: Api) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"details": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}'

    status, body, _ = await api.call("POST", "/v1/incidents", data=chunks(), headers=JSON_CT)

    assert status == 413
    assert _error(body)[0] == "body_too_large"
    assert await api.store.list_incidents() == []


async def test_every_bad_field_is_listed_without_echoing_values(api: Api) -> None:
    bad = {**NO_REPORTER, "drill": "yes", "casualties": "maybe", "details": "x" * 1001}

    status, body, _ = await api.call("POST", "/v1/incidents", bad)

    assert status == 422
    paths = {p["path"] for p in body["error"]["problems"]}
    assert paths == {"reporter", "drill", "casualties", "details"}
    assert "4 problem(s)" in body["error"]["message"]
    assert "x" * 50 not in json.dumps(body)
    assert await api.store.list_incidents() == []


async def test_reads_and_actions_need_a_token_too(api: Api) -> None:
    incident_id = await api.open()

    status, _, _ = await api.call("GET", f"/v1/incidents/{incident_id}", token=None)
    assert status == 401
    status, _, _ = await api.call("POST", f"/v1/incidents/{incident_id}/resolve", {}, token="nope")
    assert status == 401
    row = await api.store.get_incident(incident_id)
    assert row is not None
    assert row.status == "open"


# -- opening and following an incident ------------------------------------------------------------


async def test_open_commits_kicks_and_counts(api: Api) -> None:
    status, body, _ = await api.call("POST", "/v1/incidents", REPORT)

    assert status == 201
    assert body["created"] is True
    assert body["messages"] == len(await api.messages(body["id"])) > 0
    assert body["unreachable"] == []
    row = await api.store.get_incident(body["id"])
    assert row is not None
    assert row.source == "api:erp"
    assert row.details == REPORT["details"]
    assert api.kicks == ["kick"]
    metrics = api.ctx.metrics.render().decode()
    assert 'crisisd_incidents_total{drill="false",factory="mini"} 1.0' in metrics


async def test_same_idempotency_key_twice_opens_one_incident(api: Api) -> None:
    key = {"Idempotency-Key": "erp-ticket-4711"}

    first = await api.call("POST", "/v1/incidents", REPORT, headers=key)
    again = await api.call("POST", "/v1/incidents", REPORT, headers=key)

    assert first[0] == 201
    assert again[0] == 200
    assert again[1]["id"] == first[1]["id"]
    assert again[1]["created"] is False
    assert len(await api.store.list_incidents()) == 1
    assert api.kicks == ["kick"]


async def test_idempotency_keys_are_per_integration(api: Api) -> None:
    key = {"Idempotency-Key": "ticket-1"}

    first = await api.call("POST", "/v1/incidents", REPORT, headers=key)
    other = await api.call("POST", "/v1/incidents", REPORT, headers=key, token=OTHER_TOKEN)

    assert (first[0], other[0]) == (201, 201)
    assert first[1]["id"] != other[1]["id"]
    row = await api.store.get_incident(other[1]["id"])
    assert row is not None
    assert row.source == "api:scada"


async def test_get_incident_shows_counts_and_no_message_content(api: Api) -> None:
    incident_id = await api.open()

    status, body, _ = await api.call("GET", f"/v1/incidents/{incident_id.lower()}")

    assert status == 200
    assert body["id"] == incident_id
    assert (body["factory"], body["type"], body["severity"], body["status"]) == (
        "mini",
        "fire",
        "major",
        "open",
    )
    team = body["audiences"]["emergency_team"]
    assert team == {
        "messages": 1,
        "pending": 1,
        "sent": 0,
        "failed": 0,
        "cancelled": 0,
        "recipients": 1,
        "ack_required": 1,
        "acked": 0,
    }
    assert set(body["audiences"]) == {"emergency_team", "management", "press"}
    first = body["messages"][0]
    assert set(first) == {
        "id", "purpose", "audience", "recipient", "channel", "status", "attempts",
        "not_before", "sent_at", "ack_required", "ack_deadline", "acked_at", "drill",
    }  # fmt: skip
    text = json.dumps(body)
    assert "renderings" not in text
    assert "ack_code" not in text
    assert "idempotency" not in text


async def test_counts_follow_delivery_and_acks(api: Api) -> None:
    msg = await _alert(api)
    await _deliver_all(api)
    await api.call("POST", "/" + _path(api.signer.url("http://x", msg.key)), token=None)

    _, body, _ = await api.call("GET", f"/v1/incidents/{msg.incident_id}")

    team = body["audiences"]["emergency_team"]
    assert (team["sent"], team["pending"], team["acked"]) == (1, 0, 1)
    line = next(m for m in body["messages"] if m["id"] == msg.id)
    assert line["status"] == "sent"
    assert line["sent_at"] is not None
    assert line["acked_at"] is not None


async def test_unknown_incident_is_404(api: Api) -> None:
    status, body, _ = await api.call("GET", "/v1/incidents/ZZZ-999")

    assert status == 404
    code, message = _error(body)
    assert code == "unknown_incident"
    assert "ZZZ-999" in message


async def test_update_adds_messages_as_the_integration(api: Api) -> None:
    incident_id = await api.open()
    before = len(await api.messages(incident_id))

    status, body, _ = await api.call(
        "POST", f"/v1/incidents/{incident_id}/updates", {"details": "مهار شد — contained"}
    )

    assert status == 200
    assert body == {"id": incident_id, "messages": body["messages"]}
    assert body["messages"] > 0
    assert len(await api.messages(incident_id)) == before + body["messages"]
    audit = await api.store.audit_of(incident_id)
    assert (audit[-1].action, audit[-1].actor) == ("incident.updated", "api:erp")
    assert api.kicks == ["kick", "kick"]


@pytest.mark.parametrize(
    ("body", "status_", "last_actor"),
    [
        pytest.param({"details": "ok", "actor": "officer.a"}, 200, "officer.a", id="officer"),
        pytest.param({"details": "x", "actor": "staff.b"}, 403, None, id="not an officer"),
        pytest.param({"details": "x", "actor": "crisisd"}, 422, None, id="reserved"),
        pytest.param({"details": "x", "actor": "api:other"}, 422, None, id="another integration"),
        pytest.param({"actor": "officer.a"}, 422, None, id="no details"),
    ],
)
async def test_update_actor_is_checked_and_a_refusal_changes_nothing(
    api: Api, body: dict[str, str], status_: int, last_actor: str | None
) -> None:
    incident_id = await api.open()
    before = len(await api.messages(incident_id))

    status, answer, _ = await api.call("POST", f"/v1/incidents/{incident_id}/updates", body)

    assert status == status_, answer
    last = (await api.store.audit_of(incident_id))[-1]
    if last_actor is None:
        assert len(await api.messages(incident_id)) == before
        assert last.action == "incident.opened"
    else:
        assert (last.action, last.actor) == ("incident.updated", last_actor)


async def test_resolve_closes_and_cannot_happen_twice(api: Api) -> None:
    incident_id = await api.open()
    await _deliver_all(api)

    status, body, _ = await api.call("POST", f"/v1/incidents/{incident_id}/resolve")
    assert status == 200
    assert body["messages"] > 0
    row = await api.store.get_incident(incident_id)
    assert row is not None
    assert row.status == "resolved"

    status, body, _ = await api.call("POST", f"/v1/incidents/{incident_id}/resolve", {})
    assert status == 422
    assert "already resolved" in _error(body)[1]


async def test_takeover_switches_status_and_reports_cancelled(api: Api) -> None:
    incident_id = await api.open()

    status, body, _ = await api.call("POST", f"/v1/incidents/{incident_id}/takeover", {})

    assert status == 200
    assert body["cancelled"] >= 1  # the delayed press statement
    row = await api.store.get_incident(incident_id)
    assert row is not None
    assert row.status == "taken_over"


async def _deliver_all(api: Api) -> None:
    """What the dispatcher would record after sending everything due within the hour."""
    now = datetime.now(UTC)
    claimed = await api.store.claim("test", now + timedelta(hours=1), 100, timedelta(minutes=1))
    await api.store.record(
        [
            OutcomeSent(
                m.id,
                m.channel,
                now,
                f"p{m.id}",
                m.incident_id,
                m.recipient,
                m.rendering(channel_kind(m.channel)),
            )
            for m in claimed
        ]
    )


# -- ack links ----------------------------------------------------------------------------------


async def _alert(api: Api) -> MessageRow:
    incident_id = await api.open()
    return next(m for m in await api.messages(incident_id) if m.ack_required)


def _path(url: str) -> str:
    return url.split("://", 1)[1].split("/", 1)[1]


async def test_ack_link_works_once_then_says_already(api: Api) -> None:
    msg = await _alert(api)
    path = "/" + _path(api.signer.url("https://crisis.example.ir", msg.key))

    # opening the link (what a mail scanner does too) only asks for a press
    status, page, headers = await api.call("GET", path, token=None)
    assert status == 200
    assert "Acknowledge the alert" in page
    assert '<form method="post">' in page
    assert "form-action 'self'" in headers["Content-Security-Policy"]
    unacked = await api.store.message_by_key(msg.key)
    assert unacked is not None
    assert unacked.acked_at is None

    status, page, headers = await api.call("POST", path, token=None)
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert page.index("دریافت شد") < page.index("Acknowledged")
    assert msg.incident_id in page
    acked = await api.store.message_by_key(msg.key)
    assert acked is not None
    assert acked.acked_at is not None

    status, page, _ = await api.call("POST", path, token=None)
    assert status == 200
    assert "Already acknowledged" in page
    status, page, _ = await api.call("GET", path, token=None)
    assert "Already acknowledged" in page
    assert "قبلاً" in page
    metrics = api.ctx.metrics.render().decode()
    assert 'crisisd_acks_total{via="link"} 1.0' in metrics
    acks = [e for e in await api.store.audit_of(msg.incident_id) if e.action == "ack"]
    assert len(acks) == 1


async def test_head_on_an_ack_link_does_not_acknowledge(api: Api) -> None:
    msg = await _alert(api)
    path = "/" + _path(api.signer.url("http://x", msg.key))

    status, _, _ = await api.call("HEAD", path, token=None)

    assert status == 405
    row = await api.store.message_by_key(msg.key)
    assert row is not None
    assert row.acked_at is None


async def test_tampered_ack_link_is_400_and_acks_nothing(api: Api) -> None:
    msg = await _alert(api)
    token = api.signer.token(msg.key)
    tampered = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]

    status, page, _ = await api.call("GET", f"/v1/ack/{tampered}", token=None)

    assert status == 400
    assert "پیوند نامعتبر" in page
    assert "Invalid link" in page
    row = await api.store.message_by_key(msg.key)
    assert row is not None
    assert row.acked_at is None
    assert not [e for e in await api.store.audit_of(msg.incident_id) if e.action == "ack"]


async def test_expired_ack_link_is_410_and_acks_nothing(api: Api) -> None:
    msg = await _alert(api)
    token = api.signer.token(msg.key)
    api.clock.now += timedelta(hours=49)

    status, page, _ = await api.call("GET", f"/v1/ack/{token}", token=None)

    assert status == 410
    assert "Link expired" in page
    assert "منقضی" in page
    row = await api.store.message_by_key(msg.key)
    assert row is not None
    assert row.acked_at is None


async def test_ack_link_for_an_unknown_message_is_404(api: Api) -> None:
    status, page, _ = await api.call(
        "GET", f"/v1/ack/{api.signer.token('no-such-key')}", token=None
    )

    assert status == 404
    assert "Message not found" in page


# -- health, metrics, the document, errors and logs ----------------------------------------------------


async def test_healthz_is_200_when_ok_and_503_when_not(api: Api) -> None:
    status, body, _ = await api.call("GET", "/healthz", token=None)
    assert (status, body) == (200, {"ok": True})  # anyone: up or down, nothing more
    status, body, _ = await api.call("GET", "/healthz")
    assert (status, body["ok"], body["store"]) == (200, True, "ok")  # integrations: the detail

    async def broken() -> dict[str, Any]:
        raise RuntimeError("store down")

    api.ctx.health = broken
    status, body, _ = await api.call("GET", "/healthz", token=None)
    assert (status, body) == (503, {"ok": False, "down": ["health"]})


async def test_healthz_names_what_is_down_to_anyone_and_the_cause_only_with_a_token(
    api: Api,
) -> None:
    secret = "pg-password-Tz8w1Lq4"
    redaction.register(secret)

    async def faulty() -> dict[str, Any]:
        cause = f"OSError: could not connect to postgresql://crisisd:{secret}@db"
        return {"ok": False, "store": "up", "down": {"dispatcher.claim": cause, "store": "x"}}

    api.ctx.health = faulty
    status, body, _ = await api.call("GET", "/healthz", token=None)
    assert (status, body) == (503, {"ok": False, "down": ["dispatcher.claim", "store"]})
    status, body, _ = await api.call("GET", "/healthz")
    assert status == 503
    assert body["down"]["dispatcher.claim"].startswith("OSError: could not connect")
    assert secret not in json.dumps(body)


async def test_metrics_show_incidents_and_the_outbox(api: Api) -> None:
    await api.open()

    status, _, _ = await api.call("GET", "/metrics", token=None)
    assert status == 401  # the counters would tell outsiders a factory had an incident
    status, text, headers = await api.call("GET", "/metrics")

    assert status == 200
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "crisisd_incidents_total" in text
    assert 'crisisd_outbox_messages{status="pending"} 3.0' in text
    assert 'crisisd_outbox_messages{status="sent"} 0.0' in text


async def test_openapi_lists_every_route_and_the_request_schemas(api: Api) -> None:
    status, doc, _ = await api.call("GET", "/openapi.json", token=None)

    assert status == 200
    assert doc["openapi"].startswith("3.1")
    assert set(doc["paths"]) == {
        "/v1/incidents",
        "/v1/incidents/{id}",
        "/v1/incidents/{id}/updates",
        "/v1/incidents/{id}/resolve",
        "/v1/incidents/{id}/takeover",
        "/v1/invites",
        "/v1/contacts",
        "/v1/tasks/{id}/done",
        "/v1/ack/{token}",
        "/v1/rc/{token}",
        "/v1/incidents/{id}/headcount",
        "/v1/inbound/sms",
        "/healthz",
        "/metrics",
        "/openapi.json",
    }
    schemas = doc["components"]["schemas"]
    assert schemas["OpenIncident"]["additionalProperties"] is False
    assert set(schemas["OpenIncident"]["required"]) == {"factory", "type", "severity", "reporter"}
    assert schemas["OpenIncident"]["properties"]["details"]["maxLength"] == 1000
    for methods in doc["paths"].values():
        for op in methods.values():
            for response in op["responses"].values():
                for media in response.get("content", {}).values():
                    ref = media["schema"].get("$ref")
                    if ref:
                        assert ref.removeprefix("#/components/schemas/") in schemas


async def test_unknown_route_and_wrong_method_answer_in_json(api: Api) -> None:
    status, body, _ = await api.call("GET", "/v2/nothing")
    assert status == 404
    assert _error(body)[0] == "not_found"

    status, body, headers = await api.call("DELETE", "/v1/incidents")
    assert status == 405
    assert _error(body)[0] == "method_not_allowed"
    assert "POST" in headers["Allow"]


async def test_unexpected_failure_is_a_clean_500_without_secrets(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "pg-password-Vb7x2Qk9"
    redaction.register(secret)
    incident_id = await api.open()

    async def broken(incident_id: str) -> list[MessageRow]:
        raise RuntimeError(f"connection to postgresql://crisisd:{secret}@db failed")

    monkeypatch.setattr(api.store, "messages_of", broken)
    with capture_logs() as logs:
        status, body, _ = await api.call("GET", f"/v1/incidents/{incident_id}")

    assert status == 500
    assert _error(body) == ("internal", "crisisd could not handle this request; see its log")
    assert "Traceback" not in json.dumps(body)
    failed = next(e for e in logs if e["event"] == "api.failed")
    assert secret not in failed["error"]


async def test_requests_are_logged_without_tokens(api: Api) -> None:
    msg = await _alert(api)
    token = api.signer.token(msg.key)

    with capture_logs() as logs:
        await api.call("GET", f"/v1/incidents/{msg.incident_id}")
        await api.call("GET", f"/v1/ack/{token}", token=None)

    requests = [e for e in logs if e["event"] == "api.request"]
    assert [(e["method"], e["path"], e["status"]) for e in requests] == [
        ("GET", f"/v1/incidents/{msg.incident_id}", 200),
        ("GET", "/v1/ack/{token}", 200),
    ]
    assert requests[0]["integration"] == "erp"
    assert all(isinstance(e["duration_ms"], float) for e in requests)
    assert TOKEN not in repr(logs)
    assert token not in repr(logs)


async def test_start_api_on_a_taken_port_is_a_config_error(api: Api) -> None:
    from crisisd.errors import ConfigError

    port = int(api.url.rsplit(":", 1)[1])
    app = web.Application()
    with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
        await start_api(app, "127.0.0.1", port)


async def test_people_routes_invite_list_reach_and_close_a_task(api: Api) -> None:
    status, body, _ = await api.call("POST", "/v1/invites", {"factory": "mini", "via": "email"})
    assert status == 201, body
    status, body, _ = await api.call("POST", "/v1/invites", {})
    assert status == 422 and _error(body)[0] == "invalid_report"
    status, body, _ = await api.call("POST", "/v1/invites", {"contact": "staff.b"}, token=None)
    assert status == 401

    status, rows, _ = await api.call("GET", "/v1/contacts?factory=mini")
    assert status == 200 and {r["contact"] for r in rows} >= {"staff.b", "boss.c"}
    assert all("0912" not in json.dumps(r) for r in rows)  # phones masked
    status, body, _ = await api.call("GET", "/v1/contacts?factory=nope")
    assert status == 404

    incident = await api.open()
    (task,) = await api.store.tasks_of(incident)
    status, body, _ = await api.call("POST", f"/v1/tasks/{task.id}/done", {})
    assert status == 200 and body["done_at"] and body["already_done"] is False
    status, body, _ = await api.call("POST", f"/v1/tasks/{task.id}/done", {})
    assert status == 200 and body["already_done"] is True
    status, body, _ = await api.call("POST", "/v1/tasks/999999/done", {})
    assert status == 404
