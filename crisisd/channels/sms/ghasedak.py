"""Ghasedak (current REST API): ``POST {base}/Rest/api/v1/WebService/SendSingleSMS``, JSON.

Reference: https://ghasedak.me/docs (official SDK github.com/ghasedakapi/ghasedaksms-php,
``src/Constants.php``, ``SingleMessageDTO.php``, ``GhasedaksmsApi.php``).

Header ``ApiKey: <key>``. Body ``{"sendDate": ISO-8601, "lineNumber": "3000…",
"receptor": "0912…", "message": …, "clientReferenceId": …, "udh": false}``; the
receptor is the national form ``09121234567``. We pass our numeric ``localid`` as
``clientReferenceId``.

Answer: ``{"isSuccess": true, "statusCode": 200, "message": "…", "data": {"receptor": …,
"lineNumber": …, "cost": …, "messageId": "…", "message": …, "sendDate": …}}``. The
envelope's ``statusCode`` decides (the HTTP status is only used when there is no
envelope, e.g. a proxy's 429 or 502).

Classification (codes as documented for the v1 web service):
    200                         Sent("<gateway>:<messageId>")
    401 inactive account / not authorised, 406 line not yours, 412 line unusable,
    416 IP not allowed, 418 not enough credit, 419 bad tariff, 426 upgrade plan
                                Failed(channel)
    402 operation failed, 500 unknown error
                                Retry
    451 duplicate request       Sent("<gateway>:ref:<clientReferenceId>"): this very
                                message (same clientReferenceId) was already accepted,
                                typically by an attempt whose answer we lost
    anything else (400 invalid input / bad receptor, 413 too long, 422 bad chars, …)
                                Failed(recipient) with Ghasedak's message
"""

from __future__ import annotations

from datetime import UTC, datetime

from crisisd.channels.base import Failed, Retry, SendResult, Sent
from crisisd.channels.sms.gateway import (
    SERVER_ERROR_RETRY_AFTER,
    HttpGateway,
    Reply,
    national_mobile,
    retry_after,
    sent,
)

PATH = "/Rest/api/v1/WebService/SendSingleSMS"
CHANNEL_DOWN = {401, 406, 412, 416, 418, 419, 426}
RETRYABLE = {402, 500}
DUPLICATE = 451


class GhasedakGateway(HttpGateway):
    provider = "ghasedak"
    default_base_url = "https://gw.ghasedak.me"

    async def _send(self, phone_e164: str, text: str, localid: str) -> SendResult:
        key = self.api_key()
        if not key:
            return self.no_key()
        if not self.cfg.sender:
            return Failed(f"{self.name}: no sender line configured (Ghasedak needs one)", "channel")
        body = {
            "sendDate": datetime.now(UTC).isoformat(timespec="seconds"),
            "lineNumber": self.cfg.sender,
            "receptor": national_mobile(phone_e164),
            "message": text,
            "clientReferenceId": localid,
            "udh": False,
        }
        reply = await self.request("POST", self.base_url + PATH, json=body, headers={"ApiKey": key})
        return self._classify(reply, localid)

    def _classify(self, reply: Reply, localid: str) -> SendResult:
        data = reply.json_object()
        if data is None or not isinstance(data.get("statusCode"), int):
            return self.by_http_status(reply) if reply.status >= 300 else self.unreadable(reply)
        status: int = data["statusCode"]
        what = f"{self.name}: {status} {data.get('message') or ''}".rstrip()
        if status == 200 and data.get("isSuccess") is True:
            payload = data.get("data")
            message_id = payload.get("messageId") if isinstance(payload, dict) else None
            return sent(self.name, message_id) if message_id else self.unreadable(reply)
        if status == DUPLICATE:
            return Sent(f"{self.name}:ref:{localid}")
        if status in CHANNEL_DOWN:
            return Failed(what, "channel")
        if status in RETRYABLE or status >= 500:
            return Retry(retry_after(reply.headers, SERVER_ERROR_RETRY_AFTER), what)
        return Failed(what, "recipient")
