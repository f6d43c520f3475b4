"""The fake SMS gateways over real HTTP: wire formats, validation, faults, control API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from crisisd.sandbox.inbox import Inbox
from crisisd.sandbox.smsgw import (
    SMSGW_STATE,
    SmsGwServer,
    SmsGwState,
    create_smsgw_app,
    iran_mobile,
    start_smsgw,
)

KEYS = {
    "kavenegar": "kv-7f3a9c",
    "ghasedak": "gh-51d2e8",
    "smsir": "ir-90bb41",
    "generic": "ge-1c2d",
}
GHASEDAK = "/rest/api/v1/WebService/SendSingleSMS"
PERSIAN = "هشدار: آتش‌سوزی در سالن ۲. فوراً از درِ شرقی تخلیه کنید."


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


async def kavenegar(
    http: aiohttp.ClientSession, srv: SmsGwServer, key: str = KEYS["kavenegar"], **form: str
) -> tuple[int, Any]:
    data = {"receptor": "09121234567", "message": PERSIAN, "sender": "10008663"} | form
    async with http.post(f"{srv.url}/v1/{key}/sms/send.json", data=data) as resp:
        return resp.status, await resp.json()


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
    return body | {"message": PERSIAN, "clientReferenceId": "77", "udh": False} | over


def smsir_body(**over: object) -> dict[str, object]:
    body = {"lineNumber": 30004505000017, "messageText": PERSIAN, "mobiles": ["9121234567"]}
    return body | {"sendDateTime": None} | over


async def set_fault(
    http: aiohttp.ClientSession, srv: SmsGwServer, provider: str, **f: object
) -> None:
    async with http.post(f"{srv.url}/_control/faults/{provider}", json=f) as resp:
        assert resp.status == 200, await resp.text()


# -- wire formats and validation ---------------------------------------------------------


async def test_kavenegar_accepts_and_records_in_inbox(
    server: SmsGwServer, http: aiohttp.ClientSession
) -> None:
    status, body = await kavenegar(http, server, localid="123456789")
    assert status == 200
    assert body["return"] == {"status": 200, "message": "تایید شد"}
    entry = body["entries"][0]
    assert entry["receptor"] == "09121234567"
    assert entry["sender"] == "10008663"
    assert isinstance(entry["messageid"], int)
    assert entry["message"] == PERSIAN
    [item] = server.state.inbox.query(service="kavenegar")
    assert (item.channel, item.to, item.text, item.sender) == (
        "sms",
        "+989121234567",
        PERSIAN,
        "10008663",
    )
    assert item.extra["encoding"] == "ucs2"
    assert item.extra["parts"] == 1
    assert server.state.sent[0].id == entry["messageid"]


async def test_kavenegar_validates_like_the_real_api(
    server: SmsGwServer, http: aiohttp.ClientSession
) -> None:
    assert (await kavenegar(http, server, key="wrong"))[0] == 403
    status, body = await kavenegar(http, server, receptor="0912123")
    assert (status, body["return"]["status"]) == (411, 411)
    assert (await kavenegar(http, server, message=""))[0] == 413
    assert (await kavenegar(http, server, message="ب" * 269))[0] == 413, "Persian: 268 at most"
    assert (await kavenegar(http, server, sender="line-1"))[0] == 412
    assert (await kavenegar(http, server, localid="abc"))[0] == 400
    url = f"{server.url}/v1/{KEYS['kavenegar']}/sms/send.json"
    async with http.post(url, data={"receptor": "09121234567"}) as resp:
        assert resp.status == 400, "no message at all: parameters incomplete"
    form = {"receptor": "09121234567", "message": PERSIAN}
    async with http.post(url, json=form) as resp:
        assert resp.status == 400, "Kavenegar reads a form, not JSON"
    cp1256 = "receptor=09121234567&message=" + quote("سلام".encode("cp1256"))
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    async with http.post(url, data=cp1256, headers=headers) as resp:
        assert (resp.status, (await resp.json())["return"]["status"]) == (422, 422)
    async with http.put(url, data=form) as resp:
        assert resp.status == 405
    assert len(server.state.inbox) == 0
    assert (await kavenegar(http, server, message="ب" * 268))[0] == 200
    async with http.get(url, params=form) as resp:
        assert resp.status == 200, "GET with a query is documented too"


async def test_kavenegar_does_not_send_a_localid_twice(
    server: SmsGwServer, http: aiohttp.ClientSession
) -> None:
    _, first = await kavenegar(http, server, localid="42")
    _, again = await kavenegar(http, server, localid="42")
    assert first["entries"][0]["messageid"] == again["entries"][0]["messageid"]
    assert len(server.state.inbox) == 1


async def test_ghasedak_answers_as_documented(
    server: SmsGwServer, http: aiohttp.ClientSession
) -> None:
    url = server.url + GHASEDAK
    status, body = await post_json(http, url, ghasedak_body(), {"ApiKey": KEYS["ghasedak"]})
    assert status == 200
    assert (body["IsSuccess"], body["StatusCode"]) == (True, 200)
    assert body["Data"]["Receptor"] == "09121234567"
    assert body["Data"]["MessageId"]
    await control(http, server, "settings", key_case="camel")
    pascal = {"LineNumber": "30005088", "Receptor": "+989351112233", "Message": "salam"}
    upper = server.url + GHASEDAK.upper().replace("/REST/API/V1", "/Rest/api/v1")
    status, body = await post_json(http, upper, pascal, {"apikey": KEYS["ghasedak"]})
    assert status == 200, body
    assert (body["isSuccess"], body["statusCode"]) == (True, 200), "SDK-style keys on demand"
    assert [d.to for d in server.state.inbox.query(service="ghasedak")] == [
        "+989121234567",
        "+989351112233",
    ]


async def test_ghasedak_validates_like_the_real_api(
    server: SmsGwServer, http: aiohttp.ClientSession
) -> None:
    url, key = server.url + GHASEDAK, {"ApiKey": KEYS["ghasedak"]}
    assert (await post_json(http, url, ghasedak_body(), {"ApiKey": "no"}))[1]["StatusCode"] == 401
    status, body = await post_json(http, url, ghasedak_body(receptor="12345"), key)
    assert (status, body["IsSuccess"], body["StatusCode"]) == (400, False, 400)
    assert (await post_json(http, url, ghasedak_body(lineNumber=""), key))[0] == 412
    status, body = await post_json(http, url, ghasedak_body(lineNumber=30005088), key)
    assert (status, body["title"]) == (400, "One or more validation errors occurred.")
    assert "StatusCode" not in body, "a body that does not bind gets ASP.NET's problem JSON"
    async with http.post(url, data={"receptor": "09121234567"}, headers=key) as resp:
        assert resp.status == 415
    assert len(server.state.inbox) == 0


async def test_smsir_accepts_and_validates(
    server: SmsGwServer, http: aiohttp.ClientSession
) -> None:
    url, key = f"{server.url}/v1/send/bulk", {"X-API-KEY": KEYS["smsir"]}
    await control(http, server, "blacklist", phones=["09350000000"])
    mobiles = ["9121234567", "09351112233", "0912", "09350000000"]
    status, body = await post_json(http, url, smsir_body(mobiles=mobiles), key)
    assert (status, body["status"], body["message"]) == (200, 1, "موفق")
    ids = body["data"]["messageIds"]
    assert ids[2:] == [None, 0], "null for a refused number, 0 for the blacklist"
    assert all(isinstance(i, int) and i > 0 for i in ids[:2])
    assert body["data"]["packId"]
    cases = [
        ({"X-API-KEY": "nope"}, smsir_body(), 401, 10),
        (key, smsir_body(mobiles=["0912"]), 400, 104),
        (key, smsir_body(mobiles=[]), 400, 107),
        (key, smsir_body(mobiles=["9121234567"] * 101), 400, 105),
        (key, smsir_body(lineNumber=0), 400, 101),
        (key, smsir_body(messageText=""), 400, 103),
        (key, smsir_body(sendDateTime=1_000_000), 400, 109),
    ]
    for headers, payload, http_status, code in cases:
        status, body = await post_json(http, url, payload, headers)
        assert (status, body["status"], body["data"]) == (http_status, code, None)
    status, body = await post_json(http, url, smsir_body(lineNumber="30x"), key)
    assert (status, body["status"], "errors" in body) == (400, 400, True), "does not bind"
    assert (await post_json(http, url, smsir_body(lineNumber="30004505000017"), key))[0] == 200
    assert len(server.state.inbox) == 3


async def test_generic_takes_json_form_and_query(
    server: SmsGwServer, http: aiohttp.ClientSession
) -> None:
    url, auth = f"{server.url}/generic/send", {"X-Api-Key": KEYS["generic"]}
    fields = {"receptor": "+989121234567", "message": PERSIAN, "localid": "9"}
    status, body = await post_json(http, url, fields, auth)
    assert status == 200
    assert body["status"] == "ok"
    assert body["id"].startswith("g-")
    async with http.post(
        url, data=fields, headers={"Authorization": f"Bearer {KEYS['generic']}"}
    ) as r:
        assert r.status == 200
    async with http.get(url, params=fields, headers=auth) as r:
        assert r.status == 200
    async with http.post(url, data=fields) as r:
        assert r.status == 401
    assert (await post_json(http, url, fields | {"receptor": "+1555"}, auth))[0] == 400
    assert [d.text for d in server.state.inbox.query(service="generic")] == [PERSIAN] * 3


async def test_a_provider_without_a_configured_key_accepts_any_key(
    http: aiohttp.ClientSession,
) -> None:
    srv = await start_smsgw(Inbox(), {})
    try:
        assert (await kavenegar(http, srv, key="anything"))[0] == 200
    finally:
        await srv.aclose()


@pytest.mark.parametrize(
    ("raw", "e164"),
    [("09121234567", "+989121234567"), ("9121234567", "+989121234567"),
     ("989121234567", "+989121234567"), ("+989121234567", "+989121234567"),
     ("00989121234567", "+989121234567"), ("0912123456", None), ("02112345678", None)],
)  # fmt: skip
def test_iran_mobile(raw: str, e164: str | None) -> None:
    assert iran_mobile(raw) == e164


# -- faults and control ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "http_status", "code"),
    [
        ("no_credit", 418, 418),
        ("permanent", 403, 403),
        ("error", 500, 500),
        ("rate_limit", 451, 451),
    ],
)
async def test_kavenegar_faults(
    server: SmsGwServer, http: aiohttp.ClientSession, mode: str, http_status: int, code: int
) -> None:
    await set_fault(http, server, "kavenegar", mode=mode, retry_after=9)
    data = {"receptor": "09121234567", "message": "x"}
    async with http.post(f"{server.url}/v1/{KEYS['kavenegar']}/sms/send.json", data=data) as resp:
        body = await resp.json()
        assert (resp.status, body["return"]["status"]) == (http_status, code)
        if mode == "rate_limit":
            assert resp.headers["Retry-After"] == "9"
    assert len(server.state.inbox) == 0


@pytest.mark.parametrize(
    ("mode", "http_status", "code"),
    [("no_credit", 400, 102), ("permanent", 401, 10), ("error", 500, 0), ("rate_limit", 429, 20)],
)
async def test_smsir_faults(
    server: SmsGwServer, http: aiohttp.ClientSession, mode: str, http_status: int, code: int
) -> None:
    await set_fault(http, server, "smsir", mode=mode)
    url, key = f"{server.url}/v1/send/bulk", {"X-API-KEY": KEYS["smsir"]}
    status, body = await post_json(http, url, smsir_body(), key)
    assert (status, body["status"]) == (http_status, code)


async def test_ghasedak_no_credit_and_generic_rate_limit(
    server: SmsGwServer, http: aiohttp.ClientSession
) -> None:
    await set_fault(http, server, "ghasedak", mode="no_credit")
    url = server.url + GHASEDAK
    status, body = await post_json(http, url, ghasedak_body(), {"ApiKey": KEYS["ghasedak"]})
    assert (status, body["StatusCode"], body["Message"]) == (418, 418, "اعتبار کافی نیست")
    await set_fault(http, server, "generic_http", mode="rate_limit", retry_after=4)
    async with http.post(f"{server.url}/generic/send", data={"receptor": "09121234567"}) as r:
        assert (r.status, r.headers["Retry-After"]) == (429, "4")


async def test_fault_count_applies_to_that_many_requests(
    server: SmsGwServer, http: aiohttp.ClientSession
) -> None:
    await set_fault(http, server, "kavenegar", mode="error", count=2)
    statuses = [(await kavenegar(http, server))[0] for _ in range(3)]
    assert statuses == [500, 500, 200]
    assert server.state.requests["kavenegar"] == 3


async def test_garbage_is_truncated_json(server: SmsGwServer, http: aiohttp.ClientSession) -> None:
    await set_fault(http, server, "smsir", mode="garbage")
    async with http.post(f"{server.url}/v1/send/bulk", json=smsir_body()) as resp:
        assert resp.status == 200
        with pytest.raises(ValueError):
            await resp.json()


async def test_drop_closes_the_connection(server: SmsGwServer, http: aiohttp.ClientSession) -> None:
    await set_fault(http, server, "kavenegar", mode="drop")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await kavenegar(http, server)


async def test_hang_is_released_by_reset(server: SmsGwServer, http: aiohttp.ClientSession) -> None:
    await set_fault(http, server, "kavenegar", mode="hang")

    async def send() -> int:
        async with http.post(f"{server.url}/v1/{KEYS['kavenegar']}/sms/send.json") as resp:
            return resp.status

    hung = asyncio.create_task(send())
    for _ in range(500):  # until the fake has the request in hand
        if server.state.requests["kavenegar"]:
            break
        await asyncio.sleep(0.01)
    assert not hung.done()
    async with http.post(f"{server.url}/_control/reset") as resp:
        assert resp.status == 200
    assert await asyncio.wait_for(hung, 5) == 503
    assert server.state.faults["kavenegar"].mode == "none"


async def test_control_api(server: SmsGwServer, http: aiohttp.ClientSession) -> None:
    await kavenegar(http, server)
    await post_json(http, f"{server.url}/v1/send/bulk", smsir_body(), {"X-API-KEY": KEYS["smsir"]})
    async with http.get(f"{server.url}/_control/sent", params={"provider": "smsir"}) as resp:
        body = await resp.json()
    assert [s["provider"] for s in body["sent"]] == ["smsir"]
    assert body["sent"][0]["to"] == "+989121234567"
    assert body["sent"][0]["text"] == PERSIAN
    assert body["requests"] == {"kavenegar": 1, "smsir": 1}
    async with http.get(f"{server.url}/_control/sent") as resp:
        assert len((await resp.json())["sent"]) == 2
    async with http.post(f"{server.url}/_control/faults/nokia", json={"mode": "error"}) as resp:
        assert resp.status == 404
    async with http.post(f"{server.url}/_control/faults/smsir", json={"mode": "explode"}) as resp:
        assert resp.status == 400
        assert "unknown fault mode" in (await resp.json())["error"]
    await set_fault(http, server, "smsir", mode="no_credit", count=1)
    async with http.get(f"{server.url}/_control/faults") as resp:
        assert (await resp.json())["smsir"]["mode"] == "no_credit"
    async with http.post(f"{server.url}/_control/reset") as resp:
        assert resp.status == 200
    assert server.state.sent == []
    assert not server.state.requests
    assert server.state.faults["smsir"].mode == "none"
    assert len(server.state.inbox) == 2, "reset leaves the shared inbox alone"


def test_state_is_reachable_through_its_app_key() -> None:
    inbox = Inbox()
    app = create_smsgw_app(inbox, KEYS)
    state = app[SMSGW_STATE]
    assert isinstance(state, SmsGwState)
    assert state.inbox is inbox
    assert state.api_keys == KEYS
