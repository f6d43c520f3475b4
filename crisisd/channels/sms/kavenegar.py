"""Kavenegar: ``POST {base}/v1/{API-KEY}/sms/send.json`` with form fields.

Reference: https://kavenegar.com/rest.html#sms-send (official clients:
github.com/kavenegar/kavenegar-go ``message_send.go``/``client.go``/``message.go``,
github.com/kavenegar/kavenegar-python ``kavenegar.py``).

Request form: ``receptor`` (we send the national form ``09121234567``; Kavenegar also
takes ``989…``), ``message``, ``sender`` (the line; optional, the account's default
line otherwise) and ``localid`` (numeric; Kavenegar will not send a second message
with a ``localid`` it has seen, so a retry after a lost answer is harmless).

Answer: ``{"return": {"status": 200, "message": "تایید شد"}, "entries": [{"messageid": …,
"status": …, "receptor": …, …}]}``. On errors the HTTP status equals ``return.status``.
The API key sits in the URL path, so no URL is ever put in a reason or a log.

Classification:
    200                        Sent("<gateway>:<messageid>")
    411 invalid receptor       Failed(recipient)
    401 account inactive, 403 invalid key, 407 no access to the method,
    412 invalid sender line, 418 insufficient credit, 426 needs a premium plan
                               Failed(channel): this gateway cannot send anything now
    409 server unable, 451 too many calls from this IP, 5xx
                               Retry (Retry-After when given)
    anything else (400, 413 bad message, 414, 417, 422 bad chars, …)
                               Failed(recipient) with Kavenegar's message
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from yarl import URL

from crisisd.channels.base import Failed, Retry, SendResult
from crisisd.channels.sms.gateway import (
    RATE_LIMIT_RETRY_AFTER,
    SERVER_ERROR_RETRY_AFTER,
    HttpGateway,
    Reply,
    national_mobile,
    retry_after,
    sent,
)

CHANNEL_DOWN = {401, 403, 407, 412, 418, 426}
RETRYABLE = {409, 451}
INVALID_RECEPTOR = 411


class KavenegarGateway(HttpGateway):
    provider = "kavenegar"
    default_base_url = "https://api.kavenegar.com"

    async def _send(self, phone_e164: str, text: str, localid: str) -> SendResult:
        key = self.api_key()
        if not key:
            return self.no_key()
        # encoded=True: the key goes out exactly as quoted here, the form scrub() masks
        url = URL(f"{self.base_url}/v1/{quote(key, safe='')}/sms/send.json", encoded=True)
        form = {"receptor": national_mobile(phone_e164), "message": text, "localid": localid}
        if self.cfg.sender:
            form["sender"] = self.cfg.sender
        reply = await self.request("POST", url, data=form)
        return self._classify(reply)

    def _classify(self, reply: Reply) -> SendResult:
        data = reply.json_object()
        ret = data.get("return") if data is not None else None
        if not isinstance(ret, dict) or not isinstance(ret.get("status"), int):
            return self.by_http_status(reply) if reply.status >= 300 else self.unreadable(reply)
        status: int = ret["status"]
        message = str(ret.get("message", ""))
        what = f"{self.name}: {status} {message}".rstrip()
        if status == 200:
            messageid = _first_messageid(data)
            return sent(self.name, messageid) if messageid is not None else self.unreadable(reply)
        if status == INVALID_RECEPTOR:
            return Failed(f"{what} (invalid receptor)", "recipient")
        if status in CHANNEL_DOWN:
            return Failed(what, "channel")
        if status == 451:
            return Retry(
                retry_after(reply.headers, RATE_LIMIT_RETRY_AFTER), f"{what} (rate limited)"
            )
        if status in RETRYABLE or status >= 500:
            return Retry(retry_after(reply.headers, SERVER_ERROR_RETRY_AFTER), what)
        return Failed(what, "recipient")


def _first_messageid(data: Any) -> object | None:
    entries = data.get("entries")
    if isinstance(entries, list) and entries and isinstance(entries[0], dict):
        return entries[0].get("messageid")
    return None
