"""SMS.ir (API v1): ``POST {base}/v1/send/bulk`` with header ``X-API-KEY``, JSON.

Reference: SMS.ir v1 REST docs, https://docs.sms.ir ("ارسال گروهی" and the "کدهای وضعیت"
table); shapes cross-checked against public clients (github.com/movahhedi/sms-ir-node).

Body ``{"lineNumber": 3000…, "messageText": …, "mobiles": ["9121234567"],
"sendDateTime": null}``. Mobiles go in the short form ``9121234567`` (``0912…`` is
also accepted). ``lineNumber`` is a number.

Answer: ``{"status": 1, "message": "موفق", "data": {"packId": "…", "messageIds": [...],
"cost": …}}``. Any other ``status`` is an error, with HTTP 400 (logic), 401 (key),
429 (too many requests) or 500 (server).

Classification:
    1                           Sent("<gateway>:<messageIds[0]>")
    10 invalid key, 11 key inactive, 12 key limited to other IPs, 13 account inactive,
    14 account suspended, 15 plan upgrade needed, 101 invalid line, 102 not enough credit
                                Failed(channel)
    0 server error              Retry
    20 too many requests        Retry (Retry-After when given)
    anything else (103 empty text, 104 invalid mobile, 115 blacklisted, …)
                                Failed(recipient) with SMS.ir's message
"""

from __future__ import annotations

from crisisd.channels.base import Failed, Retry, SendResult
from crisisd.channels.sms.gateway import (
    RATE_LIMIT_RETRY_AFTER,
    SERVER_ERROR_RETRY_AFTER,
    HttpGateway,
    Reply,
    retry_after,
    sent,
    short_mobile,
)

PATH = "/v1/send/bulk"
SUCCESS = 1
CHANNEL_DOWN = {10, 11, 12, 13, 14, 15, 101, 102}
SERVER_ERROR = 0
TOO_MANY_REQUESTS = 20


class SmsIrGateway(HttpGateway):
    provider = "smsir"
    default_base_url = "https://api.sms.ir"

    async def _send(self, phone_e164: str, text: str, localid: str) -> SendResult:
        key = self.api_key()
        if not key:
            return self.no_key()
        line = self.cfg.sender or ""
        if not line.isdigit():
            return Failed(f"{self.name}: sender must be the numeric SMS.ir line number", "channel")
        body = {
            "lineNumber": int(line),
            "messageText": text,
            "mobiles": [short_mobile(phone_e164)],
            "sendDateTime": None,
        }
        reply = await self.request(
            "POST", self.base_url + PATH, json=body, headers={"X-API-KEY": key}
        )
        return self._classify(reply)

    def _classify(self, reply: Reply) -> SendResult:
        data = reply.json_object()
        if data is None or not isinstance(data.get("status"), int):
            return self.by_http_status(reply) if reply.status >= 300 else self.unreadable(reply)
        status: int = data["status"]
        what = f"{self.name}: {status} {data.get('message') or ''}".rstrip()
        if status == SUCCESS:
            payload = data.get("data")
            ids = payload.get("messageIds") if isinstance(payload, dict) else None
            if isinstance(ids, list) and ids:
                return sent(self.name, ids[0])
            return self.unreadable(reply)
        if status in CHANNEL_DOWN:
            return Failed(what, "channel")
        if status == TOO_MANY_REQUESTS:
            return Retry(
                retry_after(reply.headers, RATE_LIMIT_RETRY_AFTER), f"{what} (rate limited)"
            )
        if status == SERVER_ERROR:
            return Retry(retry_after(reply.headers, SERVER_ERROR_RETRY_AFTER), what)
        return Failed(what, "recipient")
