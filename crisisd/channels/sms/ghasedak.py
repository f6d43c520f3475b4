"""Ghasedak (v1 web service): ``POST {base}/rest/api/v1/WebService/SendSingleSMS``, JSON.

Reference: https://ghasedak.me/docs (the v1 web service: "ارسال تکی", "وضعیت پیام های ارسالی",
"جدول خطاها"), and the official SDKs github.com/ghasedakapi/ghasedaksms-php
(``src/Constants.php``, ``SingleMessageDTO.php``, ``CheckSmsStatusDTO.php``),
github.com/ghasedakapi/ghasedak_sms_python (``ghasedak_sms/ghasedak.py``) and
github.com/ghasedakapi/GhasedakSms.Core (``Dto/SmsStatusResponseItems.cs``).

Header ``ApiKey: <key>``. Body ``{"sendDate": ISO-8601, "lineNumber": "3000…", "receptor":
"0912…", "message": …, "clientReferenceId": …, "udh": false}``; our numeric ``localid`` is
the ``clientReferenceId``.

Answer: the documentation shows ``{"IsSuccess": true, "StatusCode": 200, "Message": "…",
"Data": {…, "MessageId": "…"}}`` while the SDKs read ``isSuccess``/``statusCode``: every key
is read case-insensitively. Sent only when ``StatusCode`` is 200, ``IsSuccess`` is true and
``Data.MessageId`` is readable. The HTTP status is only used when there is no envelope
(e.g. a proxy's 429 or 502 page).

Bulk: ``POST {base}/rest/api/v1/WebService/SendBulkSMS``, the official SDKs' bulk call
(ghasedaksms-php ``Constants::SEND_BULK`` and ``BulkMessageDTO``: ``sendDate``,
``lineNumber``, ``receptors`` (a list), ``message``, ``clientReferenceId`` (one for the
request), ``isVoice``, ``udh``; ghasedak_sms_python ``send_bulk_sms``/``SendBulkInput``).
Its ``Data`` lists ``receptors`` as ``{receptor, messageId}`` (``BulkMessageResponseDTO``,
``ReceptorResponseDTO``), matched back to each number. Neither the SDKs nor the pages of
the documentation that could be read give a largest list; crisisd sends 100 a request (the
documented ceiling of its status query). Ghasedak does not document a per-number error in a
bulk answer: an invalid number refuses the request (400), and the batch is halved until it
is sent alone. Its 429 counts requests, so a bulk request is one.

Status: ``GET {base}/rest/api/v1/WebService/CheckSmsStatus?Ids=1,2&Type=1`` (``Type`` 1:
message ids, 2: client reference ids), at most 100 ids a call ("امکان دریافت وضعیت ۱۰۰ پیامک");
``Data`` is a list of ``{MessageId, ClientReferenceId, Status, SendDate, …}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from crisisd.channels.base import Failed, SendResult
from crisisd.channels.sms.codes import (
    Delivery,
    Receipt,
    Receipts,
    SendStatusTable,
    code_of,
    delivery_of,
    down,
    field,
    id_of,
    ids_by_number,
    recipient,
    retry,
    sent,
)
from crisisd.channels.sms.gateway import BulkAnswer, HttpGateway, Reply, national_mobile
from crisisd.channels.sms.gateway import sent as sent_as
from crisisd.channels.sms.wire import localid_for

SEND_PATH = "/rest/api/v1/WebService/SendSingleSMS"
BULK_PATH = "/rest/api/v1/WebService/SendBulkSMS"
BULK_MAX = 100  # numbers per SendBulkSMS request: no documented maximum found; see above
SPLIT_ON = frozenset({400})  # InvalidInput: a receptor in the list
STATUS_PATH = "/rest/api/v1/WebService/CheckSmsStatus"
STATUS_BATCH = 100
BY_MESSAGE_ID = 1  # CheckSmsStatus Type: 1 message ids, 2 client reference ids

# The v1 web service's error table (https://ghasedak.me/docs, "جدول خطاها"). Only the first
# screens of that page could be re-read for this revision, so this is the list crisisd has
# shipped since the v1 API, minus 451: the documentation does not define it, so it is no
# longer read as "duplicate, already sent" (issue 11) but falls to the undocumented rule
# (retried, then failed over; never counted as sent).
SEND_STATUS: SendStatusTable = {
    200: sent("sent"),  # با موفقیت انجام شد
    400: recipient("invalid input (receptor or message)"),  # InvalidInput
    401: down("not authorised: API key invalid or account inactive"),  # NotAuthorized
    402: retry("operation failed"),  # عملیات ناموفق بود
    404: down("method not found"),  # wrong base URL: every message
    406: down("line does not belong to this account"),
    412: down("line cannot be used"),  # InaccessibleLine
    413: recipient("message too long"),
    416: down("calling IP not allowed"),
    418: down("out of credit"),  # NotEnoughCredit
    419: down("tariff not defined for this line"),
    422: recipient("text has characters that cannot be processed"),
    426: down("plan needs an upgrade"),
    429: retry("too many requests", rate_limit=True),
    500: retry("unknown server error"),  # UnknownError
}

# CheckSmsStatus ``Status`` as documented with the method (https://ghasedak.me/docs,
# "وضعیت پیام"): 0 no status yet, 1 cancelled, 2 blacklisted, 3 handed to the operator,
# 4 did not reach the phone, 5 reached the phone, 6 failed, 7 debug mode, 8 unknown.
# The Python SDK's ``enums/send_status.py`` numbers an internal enum differently (there 5
# is DEBUG_MODE and 14 DELIVERED); the documentation is followed, and any other number is
# UNKNOWN, so a disagreement can only delay "delivered", never invent it.
DELIVERY: Mapping[int, Delivery] = {
    0: Delivery.PENDING,  # بدون وضعیت
    1: Delivery.UNDELIVERED,  # لغو شده
    2: Delivery.UNDELIVERED,  # بلک لیست
    3: Delivery.PENDING,  # تحویل به اپراتور
    4: Delivery.UNDELIVERED,  # به گوشی نرسیده
    5: Delivery.DELIVERED,  # رسیده به گوشی
    6: Delivery.UNDELIVERED,  # ارسال با خطا
    7: Delivery.UNDELIVERED,  # حالت خطایابی: a debug-mode send never reaches a phone
    8: Delivery.UNKNOWN,  # نامشخص
}


class GhasedakGateway(HttpGateway):
    provider = "ghasedak"
    default_base_url = "https://gateway.ghasedak.me"
    receipts_batch = STATUS_BATCH
    bulk_max = BULK_MAX

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
        headers = {"ApiKey": key}
        reply = await self.request("POST", self.base_url + SEND_PATH, json=body, headers=headers)
        return self._classify(reply)

    async def _send_bulk(
        self, phones: Sequence[str], text: str, localids: Sequence[str]
    ) -> BulkAnswer:
        key = self.api_key()
        if not key:
            return self.no_key()
        if not self.cfg.sender:
            return Failed(f"{self.name}: no sender line configured (Ghasedak needs one)", "channel")
        receptors = [national_mobile(p) for p in phones]
        body = {
            "sendDate": datetime.now(UTC).isoformat(timespec="seconds"),
            "lineNumber": self.cfg.sender,
            "receptors": receptors,
            "message": text,
            "clientReferenceId": localid_for("/".join(localids)),
            "isVoice": False,
            "udh": False,
        }
        headers = {"ApiKey": key}
        reply = await self.request("POST", self.base_url + BULK_PATH, json=body, headers=headers)
        data = reply.json_object()
        code = code_of(field(data, "StatusCode"))
        if code is None:
            return self.without_envelope(reply)
        items = field(data, "Data", "receptors")
        if code != 200 or field(data, "IsSuccess") is not True or not isinstance(items, list):
            return self.bulk_verdict(SEND_STATUS, code, field(data, "Message"), reply, SPLIT_ON)
        pairs = [(field(i, "receptor"), field(i, "messageId")) for i in items]
        return [
            sent_as(self.name, i) if i else self.unreadable(reply, "no message id for the number")
            for i in ids_by_number(receptors, pairs)
        ]

    def _classify(self, reply: Reply) -> SendResult:
        data = reply.json_object()
        code = code_of(field(data, "StatusCode"))
        if code is None:
            return self.without_envelope(reply)
        if code == 200 and field(data, "IsSuccess") is True:
            message_id = id_of(field(data, "Data", "MessageId"))
            if message_id is not None:
                return sent_as(self.name, message_id)
        return self.by_table(SEND_STATUS, code, field(data, "Message"), reply)

    async def _receipts(self, message_ids: Sequence[str]) -> Receipts:
        key = self.api_key()
        if not key:
            return Receipts({}, self.no_key().reason)
        query = {"Ids": ",".join(message_ids), "Type": str(BY_MESSAGE_ID)}
        url = self.base_url + STATUS_PATH
        reply = await self.request("GET", url, params=query, headers={"ApiKey": key})
        data = reply.json_object()
        code, items = code_of(field(data, "StatusCode")), field(data, "Data")
        if code != 200 or field(data, "IsSuccess") is not True or not isinstance(items, list):
            why = f"{code} {field(data, 'Message') or ''}" if code else f"HTTP {reply.status}"
            return Receipts({}, f"{self.name}: status query refused or unreadable ({why.strip()})")
        asked, found = set(message_ids), dict[str, Receipt]()
        for item in items:
            message_id = id_of(field(item, "MessageId"))
            if message_id is None or message_id not in asked:
                continue
            state = code_of(field(item, "Status"))
            found[message_id] = Receipt(message_id, delivery_of(DELIVERY, state), None, str(state))
        return Receipts(found)
