"""Every documented SMS status code lands in its class, against the strict fakes over HTTP.

The fakes are asked (``POST /_control/answer/{provider}``) to answer each code exactly as
the provider documents it; the gateway must classify it as its table says. Codes nobody
documents, HTML, empty bodies and foreign JSON are never counted as sent, and no reason
ever carries the API key (Kavenegar's sits in the URL path).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web
from pydantic import SecretStr
from structlog.testing import capture_logs

from crisisd.channels.base import Failed, OutboundMessage, Retry, SendResult, Sent
from crisisd.channels.sms import SmsChannel, build_gateway, ghasedak, kavenegar, smsir
from crisisd.channels.sms.codes import (
    Delivery,
    SendStatusTable,
    Status,
    Verdict,
    code_of,
    field,
    id_of,
)
from crisisd.config import SmsGateway
from crisisd.sandbox.inbox import Inbox
from crisisd.sandbox.smsgw import DOCUMENTED, SmsGwServer, start_smsgw
from crisisd.sandbox.smsgw_state import Forced

KEYS = {"kavenegar": "KV/key+9=", "ghasedak": "GH-key-5d2e", "smsir": "IR-key-41aa"}
PHONE = "+989121234567"
TEXT = "هشدار: آتش‌سوزی در سالن ۲"
TABLES: dict[str, SendStatusTable] = {
    "kavenegar": kavenegar.SEND_STATUS,
    "ghasedak": ghasedak.SEND_STATUS,
    "smsir": smsir.SEND_STATUS,
}
CASES = [(p, code, status) for p, table in TABLES.items() for code, status in table.items()]
UNDOCUMENTED = {"kavenegar": 499, "ghasedak": 451, "smsir": 999}


def gw(provider: str, **over: Any) -> SmsGateway:
    fields: dict[str, Any] = {"name": provider, "provider": provider, "sender": "30005088"}
    return SmsGateway(**(fields | {"api_key": SecretStr(KEYS[provider])} | over))


@pytest.fixture
async def server() -> AsyncIterator[SmsGwServer]:
    srv = await start_smsgw(Inbox(), KEYS)
    try:
        yield srv
    finally:
        await srv.aclose()


async def send_once(server: SmsGwServer, provider: str, **answer: Any) -> SendResult:
    if answer:
        server.state.forced[provider] = Forced(answer.get("code"), answer.get("shape"), 1)
    gateway = build_gateway(gw(provider), server.url, None, timeout=5)
    try:
        return await gateway.send(PHONE, TEXT, "7")
    finally:
        await gateway.aclose()


def assert_no_key(*texts: object) -> None:
    for text in map(str, texts):
        for key in KEYS.values():
            assert key not in text and quote(key, safe="") not in text, text


def test_the_fakes_document_exactly_the_codes_the_tables_classify() -> None:
    for provider, table in TABLES.items():
        assert set(DOCUMENTED[provider]) == set(table), provider


def test_issue_11_codes_land_where_the_issue_says() -> None:
    def verdict(provider: str, code: int) -> Verdict:
        return TABLES[provider][code].verdict

    kv_down = [416, 427, 429, 402, 418, 501]
    assert {verdict("kavenegar", c) for c in kv_down} == {Verdict.DOWN}
    assert verdict("kavenegar", 411) is Verdict.RECIPIENT
    assert verdict("kavenegar", 451) is Verdict.RETRY
    assert {verdict("smsir", c) for c in (123, 16)} == {Verdict.DOWN}
    assert 451 not in TABLES["ghasedak"], "Ghasedak does not document 451"


@pytest.mark.parametrize(
    ("provider", "code", "status"), CASES, ids=[f"{p}-{c}" for p, c, _ in CASES]
)
async def test_every_documented_send_status_lands_in_its_class(
    server: SmsGwServer, provider: str, code: int, status: Status
) -> None:
    if status.verdict is Verdict.SENT:
        result = await send_once(server, provider)  # a real success carries a message id
        assert isinstance(result, Sent)
        forced = await send_once(server, provider, code=code)  # the code without any id
        assert isinstance(forced, Retry), "a success we cannot read is never Sent"
        return
    result = await send_once(server, provider, code=code)
    assert_no_key(result)
    expected = {
        Verdict.RETRY: (Retry, None),
        Verdict.RECIPIENT: (Failed, "recipient"),
        Verdict.DOWN: (Failed, "channel"),
    }[status.verdict]
    assert type(result) is expected[0], result
    assert not isinstance(result, Sent)
    if isinstance(result, Failed):
        assert result.scope == expected[1]
    assert result.reason.startswith(f"{provider}: {code} {status.meaning}")
    assert server.state.sent == []


@pytest.mark.parametrize("provider", list(TABLES))
async def test_an_undocumented_status_is_never_sent(server: SmsGwServer, provider: str) -> None:
    result = await send_once(server, provider, code=UNDOCUMENTED[provider])
    assert isinstance(result, Retry)
    assert "undocumented status, not counted as sent" in result.reason


@pytest.mark.parametrize("shape", ["html", "empty", "unknown_json"])
@pytest.mark.parametrize("provider", list(TABLES))
async def test_answers_without_the_envelope_are_retried(
    server: SmsGwServer, provider: str, shape: str
) -> None:
    result = await send_once(server, provider, shape=shape)
    assert isinstance(result, Retry)
    assert result.reason == f"{provider}: unreadable answer (HTTP 200)"
    assert_no_key(result)


@pytest.mark.parametrize("provider", list(TABLES))
async def test_unreadable_answers_fail_over_after_a_few_tries(
    server: SmsGwServer, provider: str
) -> None:
    now = [1000.0]
    backup = SmsGateway(name="backup", provider="generic_http", url="http://x/generic/send")
    urls = {provider: server.url, "backup": server.url}
    channel = SmsChannel([gw(provider), backup], base_urls=urls, clock=lambda: now[0])
    alone = SmsChannel([gw(provider)], base_urls=urls, clock=lambda: now[0])
    server.state.forced[provider] = Forced(None, "html", None)  # every answer, until reset
    try:
        results = []
        for i in range(4):
            msg = OutboundMessage(key=f"m{i}", channel="sms", address=PHONE, text=TEXT)
            results.append(await channel.send(msg))
            now[0] += 10  # past each Retry's wait
        assert [type(r) for r in results] == [Sent] * 4
        assert all(isinstance(r, Sent) and r.provider_id.startswith("backup:") for r in results)
        assert server.state.requests[provider] == 3, "tried three times, then down"
        assert channel.health()[provider].startswith("down for")
        alone_results = []
        for i in range(3):
            msg = OutboundMessage(key=f"a{i}", channel="sms", address=PHONE, text=TEXT)
            alone_results.append(await alone.send(msg))
            now[0] += 10
        assert [type(r) for r in alone_results] == [Retry, Retry, Failed]
        assert isinstance(alone_results[2], Failed) and alone_results[2].scope == "channel"
    finally:
        await channel.aclose()
        await alone.aclose()
    assert not [s for s in server.state.sent if s.provider == provider]


async def _serve(body: object, status: int = 200) -> tuple[web.AppRunner, str]:
    async def answer(request: web.Request) -> web.StreamResponse:
        return web.json_response(body, status=status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


ENVELOPES = {
    "kavenegar": {"RETURN": {"Status": 200, "MESSAGE": "ok"}, "Entries": [{"MessageId": 77}]},
    "ghasedak": {"isSuccess": True, "statusCode": 200, "data": {"messageId": "77"}},
    "smsir": {"Status": 1, "Message": "ok", "Data": {"PackId": "p", "MessageIds": [77]}},
}


@pytest.mark.parametrize("provider", list(ENVELOPES))
async def test_envelope_keys_are_read_case_insensitively(provider: str) -> None:
    runner, url = await _serve(ENVELOPES[provider])
    gateway = build_gateway(gw(provider), url, None, timeout=5)
    try:
        assert await gateway.send(PHONE, TEXT, "7") == Sent(f"{provider}:77")
    finally:
        await gateway.aclose()
        await runner.cleanup()


@pytest.mark.parametrize("key_case", ["pascal", "camel"])
async def test_ghasedak_is_read_in_both_cases_the_fake_answers(
    server: SmsGwServer, key_case: str
) -> None:
    server.state.key_case = key_case  # type: ignore[assignment]
    assert isinstance(await send_once(server, "ghasedak"), Sent)


async def test_smsir_zero_and_null_message_ids_are_not_sent(server: SmsGwServer) -> None:
    server.state.blacklist = {PHONE}
    result = await send_once(server, "smsir")
    assert isinstance(result, Failed)
    assert (result.scope, result.reason) == (
        "recipient",
        "smsir: number on the blacklist (no message id)",
    )


def test_envelope_helpers() -> None:
    data = {"Return": {"STATUS": "418"}, "entries": None}
    assert field(data, "return", "status") == "418"
    assert code_of(field(data, "return", "status")) == 418
    assert field(data, "entries", "x") is None
    assert [code_of(v) for v in (True, 3.5, "x", None, "-1")] == [None, None, None, None, -1]
    assert [id_of(v) for v in (0, "0", None, "", True, 12, " a7 ")] == [
        None, None, None, None, None, "12", "a7"
    ]  # fmt: skip


async def test_keys_never_reach_reasons_or_logs(server: SmsGwServer) -> None:
    reasons: list[str] = []
    with capture_logs() as logs:
        for provider, table in TABLES.items():
            for code in (*table, UNDOCUMENTED[provider]):
                reasons.append(str(await send_once(server, provider, code=code)))
    assert_no_key(*reasons, *logs)


def test_docs_list_every_code_in_its_class() -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "sms.md").read_text("utf-8")
    modules = {"kavenegar": kavenegar, "ghasedak": ghasedak, "smsir": smsir}
    for provider, module in modules.items():
        for verdict in Verdict:
            codes = [c for c, s in module.SEND_STATUS.items() if s.verdict is verdict]
            assert f"| {provider} | {verdict.value} | {', '.join(map(str, codes))} |" in doc
        for state in Delivery:
            codes = [c for c, s in module.DELIVERY.items() if s is state]
            line = f"| {provider} | {state.value} | {', '.join(map(str, codes))} |"
            assert not codes or line in doc, line
