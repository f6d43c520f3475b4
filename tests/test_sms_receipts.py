"""Delivery receipts, the gateway half: each provider's status API on the fakes, and the
gateways reading it into typed per-id states (batched as each provider documents)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from pydantic import SecretStr

from crisisd.channels.base import Sent
from crisisd.channels.sms import SmsChannel, build_gateway, ghasedak, kavenegar, smsir
from crisisd.channels.sms.codes import Delivery, DeliveryTable
from crisisd.channels.sms.gateway import HttpGateway
from crisisd.config import SmsGateway
from crisisd.sandbox.inbox import Inbox
from crisisd.sandbox.smsgw import SmsGwServer, start_smsgw

KEYS = {"kavenegar": "kv/r3c+pt=", "ghasedak": "gh-rcpt-77", "smsir": "ir-rcpt-88"}
KEYS |= {"generic": "ge-rcpt-99"}
PHONE = "+989121234567"
GHASEDAK = "/rest/api/v1/WebService/SendSingleSMS"
TABLES: dict[str, DeliveryTable] = {
    "kavenegar": kavenegar.DELIVERY,
    "ghasedak": ghasedak.DELIVERY,
    "smsir": smsir.DELIVERY,
}
CODES = [(p, code, state) for p, table in TABLES.items() for code, state in table.items()]


@pytest.fixture
async def server() -> AsyncIterator[SmsGwServer]:
    srv = await start_smsgw(Inbox(), KEYS)
    try:
        yield srv
    finally:
        await srv.aclose()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        yield session


async def kavenegar_send(http: aiohttp.ClientSession, srv: SmsGwServer) -> Any:
    data = {"receptor": "09121234567", "message": "سلام", "sender": "10008663"}
    async with http.post(
        f"{srv.url}/v1/{quote(KEYS['kavenegar'], safe='')}/sms/send.json", data=data
    ) as resp:
        return await resp.json()


async def post_json(
    http: aiohttp.ClientSession, url: str, body: object, headers: dict[str, str]
) -> tuple[int, Any]:
    async with http.post(url, json=body, headers=headers) as resp:
        return resp.status, await resp.json()


async def control(http: aiohttp.ClientSession, srv: SmsGwServer, path: str, **body: object) -> Any:
    async with http.post(f"{srv.url}/_control/{path}", json=body) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


def ghasedak_body(**over: object) -> dict[str, object]:
    body = {"sendDate": None, "lineNumber": "30005088", "receptor": "09121234567"}
    return body | {"message": "سلام", "clientReferenceId": "77", "udh": False} | over


def smsir_body(**over: object) -> dict[str, object]:
    body = {"lineNumber": 30004505000017, "messageText": "سلام", "mobiles": ["9121234567"]}
    return body | {"sendDateTime": None} | over


def gw(provider: str, **over: Any) -> SmsGateway:
    fields: dict[str, Any] = {"name": provider, "provider": provider, "sender": "30005088"}
    if provider == "generic_http":
        fields |= {"name": "generic", "url": "http://x/generic/send"}
        fields |= {"headers": {"X-Api-Key": SecretStr(KEYS["generic"])}}
    else:
        fields |= {"api_key": SecretStr(KEYS[provider])}
    return SmsGateway(**(fields | over))


@pytest.fixture
async def gateways(server: SmsGwServer) -> AsyncIterator[dict[str, HttpGateway]]:
    made = {}
    for provider in TABLES:
        gateway = build_gateway(gw(provider), server.url, None, timeout=5)
        assert isinstance(gateway, HttpGateway)
        made[provider] = gateway
    yield made
    for gateway in made.values():
        await gateway.aclose()


async def sent_ids(gateway: HttpGateway, n: int) -> list[str]:
    ids = []
    for i in range(n):
        result = await gateway.send(PHONE, f"پیام {i}", str(100 + i))
        assert isinstance(result, Sent)
        ids.append(result.provider_id.split(":", 1)[1])
    return ids


def outcome(
    server: SmsGwServer, provider: str, message_id: str, name: str, code: int | None = None
) -> None:
    item = server.state.find(provider, message_id)
    assert item is not None
    server.state.set_outcome(item, name, code)  # type: ignore[arg-type]


@pytest.mark.parametrize("provider", list(TABLES))
async def test_each_gateway_reads_delivered_undelivered_and_pending(
    server: SmsGwServer, gateways: dict[str, HttpGateway], provider: str
) -> None:
    gateway = gateways[provider]
    ids = await sent_ids(gateway, 3)
    outcome(server, provider, ids[1], "undelivered")
    outcome(server, provider, ids[2], "pending")
    answer = await gateway.receipts([*ids, "424242"])
    assert answer.error is None
    states = {mid: r.state for mid, r in answer.receipts.items()}
    assert [states[i] for i in ids] == [Delivery.DELIVERED, Delivery.UNDELIVERED, Delivery.PENDING]
    assert states.get("424242", Delivery.UNKNOWN) is Delivery.UNKNOWN, "never delivered"
    delivered = answer.receipts[ids[0]]
    if provider == "smsir":  # the only report that carries the provider's time
        assert delivered.at is not None and answer.receipts[ids[2]].at is None
    else:
        assert delivered.at is None


@pytest.mark.parametrize(
    ("provider", "code", "state"), CODES, ids=[f"{p}-{c}" for p, c, _ in CODES]
)
async def test_every_documented_delivery_state(
    server: SmsGwServer, gateways: dict[str, HttpGateway], provider: str, code: int, state: Delivery
) -> None:
    [message_id] = await sent_ids(gateways[provider], 1)
    outcome(server, provider, message_id, "pending", code)
    answer = await gateways[provider].receipts([message_id])
    assert answer.receipts[message_id].state is state
    assert answer.receipts[message_id].detail.startswith(str(code))


@pytest.mark.parametrize("provider", list(TABLES))
async def test_an_undocumented_delivery_state_is_unknown(
    server: SmsGwServer, gateways: dict[str, HttpGateway], provider: str
) -> None:
    [message_id] = await sent_ids(gateways[provider], 1)
    outcome(server, provider, message_id, "pending", 77)
    answer = await gateways[provider].receipts([message_id])
    assert answer.receipts[message_id].state is Delivery.UNKNOWN


@pytest.mark.parametrize(
    ("provider", "batch", "requests"), [("kavenegar", 2, 3), ("ghasedak", 2, 3), ("smsir", 1, 5)]
)
async def test_ids_are_asked_in_the_providers_batches(
    server: SmsGwServer, gateways: dict[str, HttpGateway], provider: str, batch: int, requests: int
) -> None:
    gateway = gateways[provider]
    ids = await sent_ids(gateway, 5)
    gateway.receipts_batch = batch
    answer = await gateway.receipts(ids + ids[:1])  # a repeated id is asked once
    assert set(answer.receipts) == set(ids)
    assert server.state.requests[f"{provider}.status"] == requests
    assert {kavenegar.STATUS_BATCH, ghasedak.STATUS_BATCH} == {500, 100}


@pytest.mark.parametrize("provider", list(TABLES))
async def test_a_refused_status_query_is_an_error_without_the_key(
    server: SmsGwServer, provider: str
) -> None:
    gateway = build_gateway(gw(provider), server.url, None, timeout=5)
    [message_id] = await sent_ids(gateway, 1)  # type: ignore[arg-type]
    await gateway.aclose()
    wrong = build_gateway(gw(provider, api_key=SecretStr("wrong/key")), server.url, None)
    try:
        answer = await wrong.receipts([message_id])
    finally:
        await wrong.aclose()
    assert answer.receipts == {} or all(
        r.state is Delivery.UNKNOWN for r in answer.receipts.values()
    )
    assert answer.error is not None and answer.error.startswith(f"{provider}: ")
    for secret in ("wrong/key", quote("wrong/key", safe="")):
        assert secret not in answer.error


async def test_an_unreachable_status_api_is_an_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gateway = build_gateway(gw("kavenegar"), f"http://127.0.0.1:{port}", None, timeout=5)
    try:
        answer = await gateway.receipts(["1", "2"])
    finally:
        await gateway.aclose()
    assert answer.receipts == {}
    assert answer.error is not None and "cannot connect to 127.0.0.1" in answer.error
    assert "kv/r3c" not in answer.error and quote(KEYS["kavenegar"], safe="") not in answer.error


async def test_the_channel_asks_each_gateway_for_its_own_ids(server: SmsGwServer) -> None:
    providers = ["kavenegar", "ghasedak", "smsir", "generic_http"]
    configs = [gw(p) for p in providers]
    channel = SmsChannel(configs, base_urls={c.name: server.url for c in configs})
    try:
        ids = []
        for gateway in channel.gateways:
            result = await gateway.send(PHONE, "آزمایش", "9")
            assert isinstance(result, Sent)
            ids.append(result.provider_id)
        assert [channel.tracks_delivery(i) for i in ids] == [True, True, True, False]
        assert not channel.tracks_delivery("gone:5")
        answer = await channel.receipts([*ids, "gone:5", "malformed"])
    finally:
        await channel.aclose()
    assert answer.error is None
    assert set(answer.receipts) == set(ids[:3])
    assert {r.state for r in answer.receipts.values()} == {Delivery.DELIVERED}


async def test_kavenegar_status_api(server: SmsGwServer, http: aiohttp.ClientSession) -> None:
    ids = [(await kavenegar_send(http, server))["entries"][0]["messageid"] for _ in range(2)]
    await control(http, server, "delivery/kavenegar", outcome="undelivered", ids=[ids[1]])
    url = f"{server.url}/v1/{quote(KEYS['kavenegar'], safe='')}/sms/status.json"
    async with http.post(url, data={"messageid": f"{ids[0]},{ids[1]},999"}) as resp:
        body = await resp.json()
    assert [(e["messageid"], e["status"]) for e in body["entries"]] == [
        (ids[0], 10), (ids[1], 11), (999, 100)
    ]  # fmt: skip
    async with http.post(url, data={"messageid": ",".join(["1"] * 501)}) as resp:
        assert resp.status == 414
    async with http.post(f"{server.url}/v1/nope/sms/status.json", data={"messageid": "1"}) as r:
        assert r.status == 403


async def test_ghasedak_status_api(server: SmsGwServer, http: aiohttp.ClientSession) -> None:
    url, key = server.url + GHASEDAK, {"ApiKey": KEYS["ghasedak"]}
    first = (await post_json(http, url, ghasedak_body(clientReferenceId="71"), key))[1]
    second = (await post_json(http, url, ghasedak_body(clientReferenceId="72"), key))[1]
    ids = [first["Data"]["MessageId"], second["Data"]["MessageId"]]
    await control(http, server, "delivery/ghasedak", outcome="pending", ids=[ids[1]])
    status_url = f"{server.url}/rest/api/v1/WebService/CheckSmsStatus"
    query = {"ids": f"{ids[0]},{ids[1]},404404", "type": "1"}
    async with http.get(status_url, params=query, headers=key) as resp:
        body = await resp.json()
    assert [(d["MessageId"], d["Status"]) for d in body["Data"]] == [(ids[0], 5), (ids[1], 3)]
    async with http.get(status_url, params={"Ids": "72", "Type": "2"}, headers=key) as resp:
        assert [d["ClientReferenceId"] for d in (await resp.json())["Data"]] == ["72"]
    many = {"Ids": ",".join(str(i) for i in range(101)), "Type": "1"}
    async with http.get(status_url, params=many, headers=key) as resp:
        assert resp.status == 400


async def test_smsir_report(server: SmsGwServer, http: aiohttp.ClientSession) -> None:
    url, key = f"{server.url}/v1/send/bulk", {"X-API-KEY": KEYS["smsir"]}
    [message_id] = (await post_json(http, url, smsir_body(), key))[1]["data"]["messageIds"]
    async with http.get(f"{server.url}/v1/send/{message_id}", headers=key) as resp:
        data = (await resp.json())["data"]
    assert (data["messageId"], data["deliveryState"]) == (message_id, 1)
    assert isinstance(data["deliveryDateTime"], int)
    await control(http, server, "delivery/smsir", outcome="pending")
    async with http.get(f"{server.url}/v1/send/{message_id}", headers=key) as resp:
        data = (await resp.json())["data"]
    assert (data["deliveryState"], data["deliveryDateTime"]) == (3, None)
    async with http.get(f"{server.url}/v1/send/1", headers=key) as resp:
        assert (resp.status, (await resp.json())["status"]) == (400, 111)
