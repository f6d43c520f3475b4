"""Receiving SMS replies: each provider's documented receive API, read through the same
gateway object (session, timeout, key scrubbing) that sends.

- **Kavenegar** — ``GET {base}/v1/{API-KEY}/sms/receive.json?linenumber=<line>&isread=0``:
  the unread messages of the line, at most 100 a call, marked read as they are returned;
  ``entries`` of ``{messageid, message, sender, receptor, date}`` (date in Unix seconds).
  https://kavenegar.com/rest.html ("دریافت پیامک" receive); official SDKs
  github.com/kavenegar/kavenegar-python ``sms_receive`` and kavenegar-dotnet
  ``Models/ReceiveResult.cs``.
- **SMS.ir** — ``GET {base}/v1/receive/live?pageNumber=1&pageSize=100&sortByNewest=true``
  with ``X-API-KEY``: today's received messages, ``data`` of ``{messageText, number,
  mobile, receivedDateTime}`` (no message id: the sender, time and text make one).
  https://app.sms.ir/developer/help ("گزارش پیامک‌های دریافتی روز"); official SDK
  github.com/IPeCompany/SmsPanelV2.Python ``sms_ir/services.py`` ``report_today_received``.
- **Ghasedak** — ``GET {base}/rest/api/v1/WebService/GetReceivedSmses?LineNumber=<line>&
  IsRead=false`` with ``ApiKey``: ``Data.Items`` of ``{Id, Message, Sender, LineNumber,
  ReceiveDate}``. https://ghasedak.me/docs; official SDKs
  github.com/ghasedakapi/ghasedak_sms_python ``get_received_smses`` and
  github.com/ghasedakapi/GhasedakSms.Core ``Dto/ReceivedSmsesResponse.cs``.

Other gateways forward what they receive to ``POST /v1/inbound/sms`` instead. Nothing here
raises for a provider's trouble: an :class:`Inbox` carries what was read and an error.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from crisisd.channels.sms.gateway import HttpGateway, describe_error

PAGE = 100  # the providers' page size


@dataclass(frozen=True, slots=True)
class Received:
    """One SMS a gateway received."""

    gateway: str
    id: str  # the provider's id, or a digest of sender, time and text
    sender: str
    text: str


@dataclass(slots=True)
class Inbox:
    received: list[Received] = field(default_factory=list)
    error: str | None = None


def has_inbox(gateway: object) -> bool:
    return isinstance(gateway, HttpGateway) and gateway.provider in _READERS


async def receive(gateway: HttpGateway) -> Inbox:
    """The SMS ``gateway`` has received since it was last asked (see the module docstring)."""
    reader = _READERS.get(gateway.provider)
    if reader is None:
        return Inbox(error=f"{gateway.name}: {gateway.provider} has no receive API we read")
    if gateway.api_key() is None:
        return Inbox(error=f"{gateway.name}: no api_key configured for this gateway")
    try:
        return await reader(gateway)
    except TimeoutError:
        return Inbox(error=f"{gateway.name}: no answer within {gateway.timeout:g}s")
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        return Inbox(error=gateway.scrub(f"{gateway.name}: {describe_error(exc)}"))


def _get(d: Any, *names: str) -> Any:
    """A key read case-insensitively (the providers' docs and SDKs disagree on case)."""
    if not isinstance(d, dict):
        return None
    lower = {str(k).lower(): v for k, v in d.items()}
    for n in names:
        if n.lower() in lower:
            return lower[n.lower()]
    return None


async def _kavenegar(gw: HttpGateway) -> Inbox:
    key = quote(gw.api_key() or "", safe="")
    url = URL(f"{gw.base_url}/v1/{key}/sms/receive.json", encoded=True)
    out = Inbox()
    for _ in range(10):  # 100 a call; unread ones only, so each call gets the next ones
        reply = await gw.request(
            "GET", url, params={"linenumber": gw.cfg.sender or "", "isread": "0"}
        )
        body = reply.json_object()
        status = _get(_get(body, "return"), "status")
        if status != 200:
            out.error = f"{gw.name}: receive answered {status or reply.status}"
            return out
        entries = _get(body, "entries") or []
        for e in entries:
            out.received.append(
                Received(
                    gw.name,
                    str(_get(e, "messageid")),
                    str(_get(e, "sender")),
                    str(_get(e, "message") or ""),
                )
            )
        if len(entries) < PAGE:
            break
    return out


async def _smsir(gw: HttpGateway) -> Inbox:
    url = f"{gw.base_url}/v1/receive/live"
    params = {"pageNumber": "1", "pageSize": str(PAGE), "sortByNewest": "true"}
    reply = await gw.request("GET", url, params=params, headers={"X-API-KEY": gw.api_key() or ""})
    body = reply.json_object()
    if _get(body, "status") != 1:
        return Inbox(error=f"{gw.name}: receive answered {_get(body, 'status') or reply.status}")
    out = Inbox()
    for e in _get(body, "data") or []:
        sender, text = str(_get(e, "mobile")), str(_get(e, "messageText") or "")
        when = str(_get(e, "receivedDateTime"))
        digest = hashlib.sha256(f"{sender}|{when}|{text}".encode()).hexdigest()[:32]
        out.received.append(Received(gw.name, digest, _mobile(sender), text))
    return out


async def _ghasedak(gw: HttpGateway) -> Inbox:
    url = f"{gw.base_url}/rest/api/v1/WebService/GetReceivedSmses"
    params = {"LineNumber": gw.cfg.sender or "", "IsRead": "false"}
    reply = await gw.request("GET", url, params=params, headers={"ApiKey": gw.api_key() or ""})
    body = reply.json_object()
    if _get(body, "isSuccess") is not True:
        return Inbox(
            error=f"{gw.name}: receive answered {_get(body, 'statusCode') or reply.status}"
        )
    items = _get(_get(body, "data"), "items") or []
    return Inbox(
        [
            Received(
                gw.name, str(_get(e, "id")), str(_get(e, "sender")), str(_get(e, "message") or "")
            )
            for e in items
        ]
    )


def _mobile(raw: str) -> str:
    """SMS.ir gives mobiles as ``912…``: the national form without its 0."""
    return "0" + raw if raw.startswith("9") and len(raw) == 10 else raw


_READERS = {"kavenegar": _kavenegar, "smsir": _smsir, "ghasedak": _ghasedak}
