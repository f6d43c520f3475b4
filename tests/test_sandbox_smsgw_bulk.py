"""The fakes' bulk requests over real HTTP, in the documented wire formats and limits:
Kavenegar sendarray.json, Ghasedak SendBulkSMS, SMS.ir send/bulk."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from crisisd.sandbox.inbox import Inbox
from crisisd.sandbox.smsgw import SmsGwServer, start_smsgw

KEYS = {"kavenegar": "kv-arr-1", "ghasedak": "gh-arr-2", "smsir": "ir-arr-3"}
TEXT = "هشدار: تخلیه فوری سالن ۲"
BULK = "/rest/api/v1/WebService/SendBulkSMS"


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


def numbers(n: int) -> list[str]:
    return [f"0912{i:07d}" for i in range(n)]


async def sendarray(
    http: aiohttp.ClientSession, srv: SmsGwServer, receptors: list[str], **over: Any
) -> tuple[int, Any]:
    n = len(receptors)
    form = {"receptor": receptors, "sender": ["10008663"] * n, "message": [TEXT] * n} | over
    data = {k: v if isinstance(v, str) else json.dumps(v) for k, v in form.items()}
    url = f"{srv.url}/v1/{KEYS['kavenegar']}/sms/sendarray.json"
    async with http.post(url, data=data) as resp:
        return resp.status, await resp.json()


async def test_kavenegar_sendarray_answers_an_entry_per_number(
    server: SmsGwServer, http: aiohttp.ClientSession
) -> None:
    status, body = await sendarray(http, server, numbers(3), localmessageids=["11", "12", "13"])
    assert status == 200 and body["return"]["status"] == 200
    assert [e["receptor"] for e in body["entries"]] == numbers(3)
    assert len({e["messageid"] for e in body["entries"]}) == 3
    # the same localmessageids again: nothing new is sent, the first sends are answered
    _, again = await sendarray(http, server, numbers(3), localmessageids=["11", "12", "13"])
    assert [e["messageid"] for e in again["entries"]] == [e["messageid"] for e in body["entries"]]
    assert len(server.state.sent) == 3


@pytest.mark.parametrize(
    ("receptors", "over", "code"),
    [
        (numbers(3), {"sender": ["10008663"]}, 419),  # arrays of different lengths
        (numbers(2), {"localmessageids": ["1"]}, 419),
        (numbers(201), {}, 414),  # more than 200 numbers a call
        (["09121234567", "02112345678"], {}, 411),  # one landline refuses the call
        (numbers(2), {"message": "not an array"}, 400),
        ([], {}, 406),
    ],
)
async def test_kavenegar_sendarray_refuses_as_documented(
    server: SmsGwServer,
    http: aiohttp.ClientSession,
    receptors: list[str],
    over: dict[str, Any],
    code: int,
) -> None:
    status, body = await sendarray(http, server, receptors, **over)
    assert (status, body["return"]["status"]) == (code, code)
    assert server.state.sent == []


async def test_ghasedak_bulk_lists_each_receptor_with_its_id(
    server: SmsGwServer, http: aiohttp.ClientSession
) -> None:
    body: dict[str, Any] = {"sendDate": "2025-03-01T08:00:00+00:00", "lineNumber": "30005088"}
    body |= {"receptors": numbers(4), "message": TEXT, "clientReferenceId": "77"}
    body |= {"isVoice": False, "udh": False}
    headers = {"ApiKey": KEYS["ghasedak"]}
    async with http.post(server.url + BULK, json=body, headers=headers) as resp:
        status, answer = resp.status, await resp.json()
    assert status == 200 and answer["IsSuccess"] is True
    assert [r["Receptor"] for r in answer["Data"]["Receptors"]] == numbers(4)
    async with http.post(
        server.url + BULK, json=body | {"receptors": "09121234567"}, headers=headers
    ) as resp:  # a string where a list belongs: ASP.NET's problem answer
        assert resp.status == 400 and "errors" in await resp.json()
    async with http.post(
        server.url + BULK, json=body | {"receptors": [*numbers(2), "021"]}, headers=headers
    ) as resp:
        assert resp.status == 400 and (await resp.json())["StatusCode"] == 400
    assert server.state.batches == [("ghasedak", 4), ("ghasedak", 3)]


async def test_smsir_bulk_over_100_mobiles_is_refused(
    server: SmsGwServer, http: aiohttp.ClientSession
) -> None:
    body: dict[str, Any] = {"lineNumber": 30005088, "messageText": TEXT, "sendDateTime": None}
    body |= {"mobiles": [n[1:] for n in numbers(101)]}
    headers = {"X-API-KEY": KEYS["smsir"]}
    async with http.post(server.url + "/v1/send/bulk", json=body, headers=headers) as resp:
        assert resp.status == 400 and (await resp.json())["status"] == 105
    async with http.get(server.url + "/_control/sent", params={"provider": "smsir"}) as resp:
        assert (await resp.json())["batches"] == [["smsir", 101]]
