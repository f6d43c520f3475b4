"""Bulk SMS against the strict fakes over real HTTP: one text to many numbers in the providers'
documented bulk requests and batch sizes, each number's result mapped back to its message,
refused numbers found alone, failover of only what was not sent, garbage never counted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from crisisd.channels.base import BulkChannel, Failed, OutboundMessage, Retry, Sent
from crisisd.channels.sms import SmsChannel
from crisisd.channels.sms.codes import ids_by_number
from crisisd.channels.sms.gateway import localid_for
from crisisd.config import SmsGateway
from crisisd.sandbox.inbox import Inbox
from crisisd.sandbox.smsgw import SmsGwServer, start_smsgw
from crisisd.sandbox.smsgw_state import Forced

KEYS = {"kavenegar": "kv-bulk/1+=", "ghasedak": "gh-bulk-2", "smsir": "ir-bulk-3"}
TEXT = "هشدار: آتش‌سوزی در سالن ۲. فوراً از درِ شرقی تخلیه کنید."
BATCHES = {  # 250 numbers -> the documented (or chosen) bulk sizes
    "kavenegar": [200, 50],
    "smsir": [100, 100, 50],
    "ghasedak": [100, 100, 50],
}
INVALID = "+982112345678"  # a landline: every provider refuses it as a mobile


def gw(provider: str, **over: Any) -> SmsGateway:
    fields: dict[str, Any] = {"name": provider, "provider": provider, "sender": "30005088"}
    fields |= {"api_key": SecretStr(KEYS[provider]), "rate_per_second": 1000.0}
    return SmsGateway(**(fields | over))


def phone(i: int) -> str:
    return f"+98912{i:07d}"


def msgs(n: int, invalid: tuple[int, ...] = ()) -> list[OutboundMessage]:
    return [
        OutboundMessage(
            key=f"inc-9/step-0/r-{i}/sms",
            channel="sms",
            address=INVALID if i in invalid else phone(i),
            text=TEXT,
            incident_id="inc-9",
        )
        for i in range(n)
    ]


@pytest.fixture
async def fake() -> AsyncIterator[SmsGwServer]:
    srv = await start_smsgw(Inbox(), KEYS)
    try:
        yield srv
    finally:
        await srv.aclose()


@pytest.fixture
async def make(fake: SmsGwServer) -> AsyncIterator[Any]:
    made: list[SmsChannel] = []

    def build(*gateways: SmsGateway) -> SmsChannel:
        ch = SmsChannel(list(gateways), base_urls={g.name: fake.url for g in gateways})
        made.append(ch)
        return ch

    yield build
    for ch in made:
        await ch.aclose()


@pytest.mark.parametrize("provider", list(BATCHES))
async def test_250_numbers_go_in_the_documented_batches(
    provider: str, fake: SmsGwServer, make: Any
) -> None:
    channel = make(gw(provider))
    assert isinstance(channel, BulkChannel)
    out = msgs(250)
    results = await channel.send_many(out)

    assert [n for p, n in fake.state.batches if p == provider] == BATCHES[provider]
    assert fake.state.requests[provider] == len(BATCHES[provider])
    assert all(isinstance(r, Sent) for r in results)
    # each id is the one the provider gave that very number, with our text and line
    for m, r in zip(out, results, strict=True):
        assert isinstance(r, Sent)
        name, _, message_id = r.provider_id.partition(":")
        item = fake.state.find(provider, message_id)
        assert name == provider and item is not None
        assert (item.to, item.text, item.sender) == (m.address, TEXT, "30005088")
        if provider == "kavenegar":  # localmessageids: a resent batch is not sent twice
            assert item.localid == localid_for(m.key)
    assert len({r.provider_id for r in results if isinstance(r, Sent)}) == 250


@pytest.mark.parametrize("provider", list(BATCHES))
async def test_a_refused_number_gets_its_own_failure_and_the_rest_are_sent(
    provider: str, fake: SmsGwServer, make: Any
) -> None:
    channel = make(gw(provider))
    out = msgs(100, invalid=(3, 70))
    results = await channel.send_many(out)

    for i, r in enumerate(results):
        if i in (3, 70):
            assert isinstance(r, Failed) and r.scope == "recipient", r
        else:
            assert isinstance(r, Sent), (i, r)
    assert sum(isinstance(r, Sent) for r in results) == 98
    sent_to = sorted(s.to for s in fake.state.sent)
    assert sent_to == sorted(m.address for i, m in enumerate(out) if i not in (3, 70))
    if provider == "smsir":  # per-number null in messageIds: one request does it
        assert fake.state.requests["smsir"] == 1
    else:  # the whole request is refused (411 / 400): halved until each is alone
        assert 1 < fake.state.requests[provider] < 40  # one by one: 100


async def test_smsir_blacklisted_number_is_refused_alone(fake: SmsGwServer, make: Any) -> None:
    fake.state.blacklist = {phone(2)}
    results = await make(gw("smsir")).send_many(msgs(5))
    assert [type(r) for r in results] == [Sent, Sent, Failed, Sent, Sent]
    assert isinstance(results[2], Failed) and "blacklist" in results[2].reason


@pytest.mark.parametrize("provider", list(BATCHES))
async def test_garbage_to_a_bulk_request_is_a_clear_retry_and_nothing_counts_as_sent(
    provider: str, fake: SmsGwServer, make: Any
) -> None:
    fake.state.faults[provider].update({"mode": "garbage", "count": 1})
    results = await make(gw(provider)).send_many(msgs(30))
    assert len(results) == 30
    for r in results:
        assert isinstance(r, Retry)
        assert "unreadable answer" in r.reason and "none counted as sent" in r.reason
        assert KEYS[provider] not in r.reason
    assert fake.state.requests[provider] == 1


async def test_garbage_fails_over_the_whole_batch_to_the_next_gateway(
    fake: SmsGwServer, make: Any
) -> None:
    fake.state.faults["kavenegar"].update({"mode": "garbage", "count": 1})
    channel = make(gw("kavenegar"), gw("smsir"))
    results = await channel.send_many(msgs(150))
    assert all(isinstance(r, Sent) and r.provider_id.startswith("smsir:") for r in results)
    assert [n for p, n in fake.state.batches if p == "smsir"] == [100, 50]
    assert "busy" in channel.health()["kavenegar"]


async def test_a_gateway_down_mid_batch_hands_only_the_unsent_on(
    fake: SmsGwServer, make: Any
) -> None:
    # Kavenegar sends the first 200 and is out of credit for the second request
    channel = make(gw("kavenegar"), gw("smsir"))
    first = await channel.send_many(msgs(200))
    assert all(isinstance(r, Sent) for r in first)
    fake.state.forced["kavenegar"] = Forced(418, None, 1)
    out = msgs(60)
    results = await channel.send_many(out)
    assert all(isinstance(r, Sent) and r.provider_id.startswith("smsir:") for r in results)
    assert channel.health()["kavenegar"].startswith("down")
    assert channel.bulk_size == 100  # the first gateway up now is SMS.ir


async def test_no_gateway_left_gives_each_number_a_channel_failure(
    fake: SmsGwServer, make: Any
) -> None:
    fake.state.faults["smsir"].update({"mode": "no_credit"})
    results = await make(gw("smsir")).send_many(msgs(4))
    assert all(isinstance(r, Failed) and r.scope == "channel" for r in results)
    assert all("102" in r.reason for r in results if isinstance(r, Failed))


async def test_kavenegar_without_a_sender_line_sends_one_by_one(
    fake: SmsGwServer, make: Any
) -> None:
    channel = make(gw("kavenegar", sender=None))
    assert channel.bulk_size == 1
    results = await channel.send_many(msgs(3))
    assert all(isinstance(r, Sent) for r in results)
    assert fake.state.batches == [] and fake.state.requests["kavenegar"] == 3


async def test_ghasedak_camel_case_answers_are_read(fake: SmsGwServer, make: Any) -> None:
    fake.state.key_case = "camel"
    results = await make(gw("ghasedak")).send_many(msgs(7))
    assert all(isinstance(r, Sent) for r in results)


def test_ids_are_matched_by_order_or_by_number() -> None:
    sent = ["09120000001", "09120000002", "09120000003"]
    in_order = [("09120000001", 11), (None, 12), ("989120000003", "13")]
    assert ids_by_number(sent, in_order) == ["11", "12", "13"]
    shuffled = [("09120000003", 13), ("09120000001", 11)]
    assert ids_by_number(sent, shuffled) == ["11", None, "13"]
    assert ids_by_number(sent, [("09120000001", 0), ("09120000002", None)]) == [None] * 3


async def test_different_texts_are_never_sent_in_one_request(fake: SmsGwServer, make: Any) -> None:
    out = msgs(3)
    out[1] = OutboundMessage(key="other", channel="sms", address=phone(1), text="another text")
    results = await make(gw("kavenegar")).send_many(out)
    assert all(isinstance(r, Sent) for r in results)
    assert fake.state.batches == [] and fake.state.requests["kavenegar"] == 3
    assert {s.text for s in fake.state.sent} == {TEXT, "another text"}
