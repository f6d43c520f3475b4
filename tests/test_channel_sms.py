"""The SMS channel against the fake gateways over real HTTP: delivery, classification, failover."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr
from structlog.testing import capture_logs

from crisisd.channels.base import Channel, Failed, OutboundMessage, Retry, SendResult, Sent
from crisisd.channels.sms import GATEWAYS, SmsChannel, build_gateway
from crisisd.channels.sms.gateway import (
    HttpGateway,
    describe_error,
    localid_for,
    national_mobile,
    retry_after,
    short_mobile,
)
from crisisd.config import GenericSuccess, SmsGateway
from crisisd.errors import ConfigError
from crisisd.sandbox.inbox import Inbox
from crisisd.sandbox.smsgw import SmsGwServer, start_smsgw

# Distinctive keys, so a leak anywhere is easy to spot; Kavenegar's has URL-reserved characters.
KEYS = {"kavenegar": "KVKEY/61a9+e0=", "ghasedak": "GHKEY-c51d2e8f"}
KEYS |= {"smsir": "IRKEY-90bb41aa", "generic": "GEKEY-1c2d3e4f"}
PHONE = "+989121234567"
PERSIAN = "هشدار: آتش‌سوزی در سالن ۲. فوراً از درِ شرقی تخلیه کنید. «تمرین نیست»"


def gw(name: str, **over: Any) -> SmsGateway:
    """A gateway config for the fake: provider named like the gateway."""
    provider = "generic_http" if name == "generic" else name
    fields: dict[str, Any] = {"name": name, "provider": provider, "cooldown_seconds": 60}
    if provider != "generic_http":
        fields |= {"api_key": SecretStr(KEYS[name]), "sender": "30005088"}
    else:
        fields |= {"url": "https://sms.example.ir/generic/send"}
        fields |= {"headers": {"X-Api-Key": SecretStr(KEYS["generic"])}}
        fields |= {"success": GenericSuccess(json_field="status", equals="ok", id_field="id")}
    return SmsGateway(**(fields | over))


def msg(
    text: str = PERSIAN, address: str = PHONE, key: str = "inc-1/step-0/r-7/sms"
) -> OutboundMessage:
    return OutboundMessage(key=key, channel="sms", address=address, text=text, incident_id="inc-1")


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def server() -> AsyncIterator[SmsGwServer]:
    srv = await start_smsgw(Inbox(), KEYS)
    try:
        yield srv
    finally:
        await srv.aclose()


@pytest.fixture
async def make(server: SmsGwServer) -> AsyncIterator[Any]:
    """Build SmsChannels pointed at the fake; each is closed after the test."""
    made: list[SmsChannel] = []

    def build(
        *gateways: SmsGateway, timeout: float = 5.0, clock: Any = time.monotonic
    ) -> SmsChannel:
        urls = {g.name: server.url for g in gateways}
        channel = SmsChannel(list(gateways), base_urls=urls, timeout=timeout, clock=clock)
        made.append(channel)
        return channel

    yield build
    for channel in made:
        await channel.aclose()


def fault(server: SmsGwServer, provider: str, **settings: object) -> None:
    server.state.faults[provider].update(dict(settings))


def assert_no_key(*texts: object) -> None:
    for text in texts:
        for key in KEYS.values():
            for form in (key, quote(key, safe=""), key.split("/")[0], key[-6:]):
                assert form not in str(text), text


# -- delivery ----------------------------------------------------------------------------


def test_sms_channel_is_a_channel() -> None:
    channel = SmsChannel([gw("kavenegar")])
    assert isinstance(channel, Channel)
    assert (channel.name, channel.kind) == ("sms", "sms")
    assert channel.limits.max_length == 5 * 67
    assert channel.limits.rate_per_second == 5.0
    assert set(GATEWAYS) == {"kavenegar", "ghasedak", "smsir", "generic_http"}


@pytest.mark.parametrize("name", ["kavenegar", "ghasedak", "smsir", "generic"])
async def test_each_provider_delivers_persian_text(
    server: SmsGwServer, make: Any, name: str
) -> None:
    channel = make(gw(name))
    result = await channel.send(msg())
    [accepted] = server.state.sent
    expected_id = f"g-{accepted.id}" if name == "generic" else accepted.id
    assert result == Sent(f"{name}:{expected_id}")
    [item] = server.state.inbox.query(service=name)
    assert (item.to, item.text, item.channel) == (PHONE, PERSIAN, "sms")
    assert item.extra["encoding"] == "ucs2"
    assert item.extra["parts"] == 1


async def test_kavenegar_localid_makes_a_resend_harmless(server: SmsGwServer, make: Any) -> None:
    channel = make(gw("kavenegar"))
    first, again = await channel.send(msg()), await channel.send(msg())
    assert isinstance(first, Sent)
    assert first == again
    assert len(server.state.inbox) == 1
    assert server.state.sent[0].localid == localid_for("inc-1/step-0/r-7/sms")


# -- classification ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["kavenegar", "ghasedak", "smsir", "generic"])
async def test_server_error_is_retried(server: SmsGwServer, make: Any, name: str) -> None:
    fault(server, name, mode="error")
    result = await make(gw(name)).send(msg())
    assert isinstance(result, Retry)
    assert result.after > 0
    assert result.reason.startswith(f"{name}: ")
    assert_no_key(result.reason)


@pytest.mark.parametrize("name", ["kavenegar", "ghasedak", "smsir", "generic"])
async def test_bad_number_fails_for_the_recipient(
    server: SmsGwServer, make: Any, name: str
) -> None:
    result = await make(gw(name)).send(msg(address="+98912123"))
    assert isinstance(result, Failed)
    assert result.scope == "recipient"
    assert result.reason.startswith(f"{name}: ")
    assert server.state.sent == []


@pytest.mark.parametrize("name", ["kavenegar", "ghasedak", "smsir", "generic"])
async def test_rate_limit_is_retried_after_retry_after(
    server: SmsGwServer, make: Any, name: str
) -> None:
    fault(server, name, mode="rate_limit", retry_after=7)
    result = await make(gw(name)).send(msg())
    assert isinstance(result, Retry)
    assert result.after >= 7
    assert "rate limited" in result.reason


@pytest.mark.parametrize(
    ("name", "mode"),
    [("kavenegar", "no_credit"), ("kavenegar", "permanent"), ("ghasedak", "no_credit"),
     ("ghasedak", "permanent"), ("smsir", "no_credit"), ("smsir", "permanent"),
     ("generic", "permanent"), ("generic", "no_credit")],
)  # fmt: skip
async def test_credit_and_key_problems_take_the_gateway_down(
    server: SmsGwServer, make: Any, name: str, mode: str
) -> None:
    fault(server, name, mode=mode)
    result = await make(gw(name)).send(msg())
    assert isinstance(result, Failed)
    assert result.scope == "channel"
    assert result.reason == f"all SMS gateways are down: {result.reason.split(': ', 1)[1]}"
    assert name in result.reason
    assert_no_key(result.reason)


async def test_a_hung_gateway_is_bounded_by_the_timeout(server: SmsGwServer, make: Any) -> None:
    fault(server, "kavenegar", mode="hang")
    started = time.monotonic()
    result = await make(gw("kavenegar"), timeout=1.0).send(msg())
    assert time.monotonic() - started < 5
    assert isinstance(result, Retry)
    assert result.reason == "kavenegar: no answer within 1s"


@pytest.mark.parametrize(
    ("mode", "words"), [("drop", "connection dropped"), ("garbage", "unreadable answer")]
)
async def test_dropped_connection_and_garbage_are_retried(
    server: SmsGwServer, make: Any, mode: str, words: str
) -> None:
    fault(server, "smsir", mode=mode)
    result = await make(gw("smsir")).send(msg())
    assert isinstance(result, Retry)
    assert words in result.reason
    assert result.reason.startswith("smsir: ")


async def test_unreachable_gateway_is_retried_without_the_key() -> None:
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    channel = SmsChannel([gw("kavenegar")], base_urls={"kavenegar": f"http://127.0.0.1:{port}"})
    result = await channel.send(msg())
    await channel.aclose()
    assert isinstance(result, Retry)
    assert "cannot connect to 127.0.0.1" in result.reason
    assert_no_key(result.reason)


async def test_missing_key_or_line_fails_the_channel_without_a_request(
    server: SmsGwServer, make: Any
) -> None:
    no_key = await make(gw("kavenegar", api_key=None)).send(msg())
    no_line = await make(gw("smsir", sender=None)).send(msg())
    assert isinstance(no_key, Failed)
    assert "no api_key" in no_key.reason
    assert isinstance(no_line, Failed)
    assert "line number" in no_line.reason
    assert not server.state.requests


# -- failover ------------------------------------------------------------------------------


async def test_no_credit_fails_over_and_cools_the_gateway_down(
    server: SmsGwServer, make: Any
) -> None:
    clock = Clock()
    channel = make(gw("kavenegar", cooldown_seconds=120), gw("ghasedak"), clock=clock)
    fault(server, "kavenegar", mode="no_credit", count=1)
    with capture_logs() as logs:
        first = await channel.send(msg(key="m1"))
    assert isinstance(first, Sent)
    assert first.provider_id.startswith("ghasedak:")
    assert server.state.requests == {"kavenegar": 1, "ghasedak": 1}
    [down] = [e for e in logs if e["event"] == "sms.gateway_down"]
    assert down["gateway"] == "kavenegar"
    assert "418" in down["reason"]
    assert channel.health()["kavenegar"].startswith("down for 120s: kavenegar: 418")

    clock.now += 60  # still cooling down: no request reaches Kavenegar
    second = await channel.send(msg(key="m2"))
    assert isinstance(second, Sent)
    assert second.provider_id.startswith("ghasedak:")
    assert server.state.requests == {"kavenegar": 1, "ghasedak": 2}

    clock.now += 61  # cool-down over; the fault was for one request only
    third = await channel.send(msg(key="m3"))
    assert isinstance(third, Sent)
    assert third.provider_id.startswith("kavenegar:")
    assert channel.health() == {"kavenegar": "up", "ghasedak": "up"}


async def test_a_retry_moves_on_to_the_next_gateway(server: SmsGwServer, make: Any) -> None:
    clock = Clock()
    channel = make(gw("smsir"), gw("generic"), clock=clock)
    fault(server, "smsir", mode="rate_limit", retry_after=30)
    result = await channel.send(msg())
    assert isinstance(result, Sent)
    assert result.provider_id.startswith("generic:")
    assert channel.health()["smsir"].startswith("busy for 30s")
    await channel.send(msg(key="other"))
    assert server.state.requests["smsir"] == 1, "a busy gateway is skipped until Retry-After"


async def test_all_gateways_busy_returns_the_soonest_retry(server: SmsGwServer, make: Any) -> None:
    channel = make(gw("kavenegar"), gw("smsir"))
    fault(server, "kavenegar", mode="rate_limit", retry_after=40)
    fault(server, "smsir", mode="rate_limit", retry_after=15)
    result = await channel.send(msg())
    assert isinstance(result, Retry)
    assert 15 <= result.after < 40
    assert "kavenegar: 451" in result.reason
    assert "smsir: 20" in result.reason


async def test_all_gateways_down_names_every_gateway(server: SmsGwServer, make: Any) -> None:
    channel = make(gw("kavenegar"), gw("ghasedak"), gw("smsir"), gw("generic"))
    fault(server, "kavenegar", mode="no_credit")
    fault(server, "ghasedak", mode="permanent")
    fault(server, "smsir", mode="no_credit")
    fault(server, "generic", mode="permanent")
    result = await channel.send(msg())
    assert isinstance(result, Failed)
    assert result.scope == "channel"
    assert result.reason.startswith("all SMS gateways are down: kavenegar: 418 out of credit")
    for part in ("ghasedak: 401 not authorised", "smsir: 102 out of credit", "generic: HTTP 401"):
        assert part in result.reason
    again = await channel.send(msg(key="m2"))  # every gateway cooling down: no request at all
    assert isinstance(again, Failed)
    assert again.reason == result.reason
    assert sum(server.state.requests.values()) == 4


async def test_a_bad_number_is_not_tried_on_other_gateways(server: SmsGwServer, make: Any) -> None:
    result = await make(gw("kavenegar"), gw("ghasedak")).send(msg(address="+98912"))
    assert isinstance(result, Failed)
    assert result.scope == "recipient"
    assert result.reason.startswith("kavenegar: 411")
    assert server.state.requests == {"kavenegar": 1}


async def test_repeated_retries_take_a_gateway_down(server: SmsGwServer, make: Any) -> None:
    clock = Clock()
    channel = make(gw("ghasedak"), clock=clock)
    fault(server, "ghasedak", mode="error")
    results: list[SendResult] = []
    for i in range(4):
        results.append(await channel.send(msg(key=f"m{i}")))
        clock.now += 11  # past each Retry's `after`
    assert [type(r) for r in results] == [Retry, Retry, Failed, Failed]
    assert isinstance(results[2], Failed)
    assert "3 failures in a row" in results[2].reason
    assert server.state.requests["ghasedak"] == 3


async def test_no_gateways_configured() -> None:
    result = await SmsChannel([]).send(msg())
    assert isinstance(result, Failed)
    assert result.scope == "channel"


# -- the key never leaks -----------------------------------------------------------------------


async def test_api_keys_never_reach_reasons_or_logs(server: SmsGwServer, make: Any) -> None:
    reasons: list[str] = []
    with capture_logs() as logs:
        for name in ("kavenegar", "ghasedak", "smsir", "generic"):
            for mode in ("error", "rate_limit", "permanent", "no_credit", "drop", "garbage"):
                server.state.reset()
                fault(server, name, mode=mode)
                result = await make(gw(name)).send(msg())
                assert not isinstance(result, Sent)
                reasons.append(result.reason)
    assert logs, "gateway_down events were logged"
    assert_no_key(*reasons, *logs)


async def test_key_is_scrubbed_from_aiohttp_exception_text() -> None:
    """A redirect loop makes aiohttp raise an error whose text holds the URL, key included."""

    async def loop_forever(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(str(request.rel_url))

    app = web.Application()
    app.router.add_route("*", "/v1/{key}/sms/send.json", loop_forever)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    gateway = build_gateway(gw("kavenegar"), f"http://{host}:{port}", None, timeout=5)
    try:
        with capture_logs() as logs:
            result = await gateway.send(PHONE, PERSIAN, "1")
        assert isinstance(result, Retry)
        assert result.reason.startswith("kavenegar: ")
        assert_no_key(result.reason, logs)
        quoted = quote(KEYS["kavenegar"], safe="")
        async with aiohttp.ClientSession() as session:
            url = f"http://{host}:{port}/v1/{quoted}/sms/send.json"
            with pytest.raises(aiohttp.TooManyRedirects) as caught:
                await session.post(url, max_redirects=2)
        raw = str(caught.value)
        assert "KVKEY%2F61a9%2Be0=" in raw, "aiohttp's own text carries the key (re-normalised)"
        assert isinstance(gateway, HttpGateway)
        assert "KVKEY" not in gateway.scrub(raw)
        assert "KVKEY" not in describe_error(caught.value)
    finally:
        await gateway.aclose()
        await runner.cleanup()


# -- generic gateway configuration -----------------------------------------------------------


async def test_generic_renders_a_json_body_template(server: SmsGwServer, make: Any) -> None:
    body = '{"receptor": {{ receptor|tojson }}, "message": {{ message|tojson }}, '
    body += '"localid": "{{ localid }}"}'
    result = await make(gw("generic", body=body)).send(msg(text='say "hi" & {{ 7*7 }}'))
    assert isinstance(result, Sent)
    [item] = server.state.inbox.query(service="generic")
    assert item.text == 'say "hi" & {{ 7*7 }}', "user text is data, never a template"


async def test_generic_get_with_query_template(server: SmsGwServer, make: Any) -> None:
    query = "receptor={{ national }}&message={{ message|urlencode }}"
    result = await make(gw("generic", method="GET", body=query)).send(msg())
    assert isinstance(result, Sent)
    assert server.state.inbox.query(service="generic")[0].text == PERSIAN


async def test_generic_success_rule_mismatch_fails_the_recipient(
    server: SmsGwServer, make: Any
) -> None:
    rule = GenericSuccess(json_field="status", equals="sent")
    result = await make(gw("generic", success=rule)).send(msg())
    assert isinstance(result, Failed)
    assert result.scope == "recipient"
    assert "status='ok'" in result.reason


def test_generic_bad_template_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="body template"):
        SmsChannel([gw("generic", body="{{ message ")])


# -- helpers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("12", 12.0), (" 3.5 ", 3.5), ("soon", 9.0), ("-4", 0.0), ("99999", 3600.0)],
)
def test_retry_after_seconds(value: str, expected: float) -> None:
    assert retry_after({"retry-after": value}, 9.0) == expected


def test_retry_after_http_date() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    assert 100 < retry_after({"Retry-After": when}, 9.0) <= 120
    assert retry_after({}, 9.0) == 9.0


def test_phone_forms_and_localid() -> None:
    assert (national_mobile(PHONE), short_mobile(PHONE)) == ("09121234567", "9121234567")
    assert national_mobile("+98912") == "98912", "not a mobile: passed on for the provider to judge"
    assert localid_for("k") == localid_for("k") != localid_for("k2")
    assert 0 <= int(localid_for("k")) < 2**60
