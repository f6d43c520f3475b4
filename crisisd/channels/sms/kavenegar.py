"""Kavenegar: ``POST {base}/v1/{API-KEY}/sms/send.json`` with form fields; status by message id.

Reference: https://kavenegar.com/rest.html ("ارسال پیامک" sms/send, "وضعیت پیامک" sms/status
and the error table "خطاها"); official clients github.com/kavenegar/kavenegar-python
``kavenegar.py`` (form POST to ``/v1/{key}/{method}.json``, ``return.status`` checked) and
github.com/kavenegar/kavenegar-dotnet ``KavenegarApi.cs`` (``Status(messageids)`` joins the
ids with commas) and ``Models/Enums/MessageStatus.cs`` (the delivery states).

Send form: ``receptor`` (the national form ``09121234567``), ``message``, ``sender`` (the
line; optional, the account's default line otherwise) and ``localid`` (numeric; Kavenegar
sends nothing for a ``localid`` it has already seen, so a retry after a lost answer is
harmless). The API key sits in the URL path, so no URL ever reaches a reason or a log.

Answer: ``{"return": {"status": 200, "message": "تایید شد"}, "entries": [{"messageid": …,
"status": …, "receptor": …, …}]}``; on errors the HTTP status equals ``return.status``.
Keys are read case-insensitively.

Bulk: ``POST {base}/v1/{API-KEY}/sms/sendarray.json`` (rest.html "ارسال گروهی"
sms/sendarray): form fields ``receptor``, ``sender`` and ``message`` are arrays of equal
length (419 when they are not), ``localmessageids`` an optional array of the same length
(github.com/kavenegar/kavenegar-php pull #19: "if localmessageids send in params it must be
array and its size must be equal to receptors"). Each array goes as JSON text in its form
field, as the official PHP client does (``KavenegarApi.php`` ``SendArray``:
``"receptor" => json_encode($receptor)``; kavenegar-python ``sms_sendarray`` posts the same
form). At most 200 numbers a call (the 414 text: "ارسال پیامک: هر فراخوانی حداکثر 200
رکورد"). The answer has one entry per number, as for send. A number Kavenegar refuses
refuses the whole call (411), so the batch is halved until that number is sent alone.
Kavenegar's rate limit counts calls (451 "فراخوانی بیش از حد"), so a bulk call is one.

Status: ``POST {base}/v1/{API-KEY}/sms/status.json`` with ``messageid`` = ids joined by
commas, at most 500 per call (the 414 text: "کنترل وضعیت هر فراخوانی 500 رکورد"); each
entry has ``messageid``, ``status`` and ``statustext``. Kavenegar gives no time with it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from urllib.parse import quote

from yarl import URL

from crisisd.channels.base import SendResult
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

# Every status of the error table at https://kavenegar.com/rest.html ("خطاها"). Codes about
# the account, the key, the calling IP, the credit or the line are DOWN: every message would
# fail alike, so the next gateway must take over. Codes that describe a request crisisd
# never makes (lookup templates, voice calls, array sizes) are RECIPIENT, with the meaning.
SEND_STATUS: SendStatusTable = {
    200: sent("accepted"),  # درخواست تایید شد
    400: down("parameters incomplete"),  # پارامترها ناقص هستند — our request, every message
    401: down("account disabled"),  # حساب کاربری غیرفعال شده است
    402: down("operation failed"),  # عملیات ناموفق بود — account-wide (issue 11)
    403: down("API key invalid"),  # کد شناسائی API-Key معتبر نمی‌باشد
    404: down("method not found"),  # متدی با این نام پیدا نشده است — wrong base URL
    405: down("GET/POST method wrong"),  # متد فراخوانی Get یا Post اشتباه است
    406: down("required parameters empty"),  # پارامترهای اجباری خالی ارسال شده اند
    407: down("no access to this information"),  # دسترسی به اطلاعات مورد نظر … امکان پذیر نیست
    409: retry("server cannot answer now"),  # سرور قادر به پاسخگوئی نیست بعدا تلاش کنید
    411: recipient("receptor invalid"),  # دریافت کننده نامعتبر است
    412: down("sender line invalid"),  # ارسال کننده نامعتبر است
    413: recipient("message empty or too long"),  # پیام خالی است و یا طول پیام بیش از حد …
    414: recipient("request too large"),  # حجم درخواست بیشتر از حد مجاز است (200/500 records)
    415: recipient("start index beyond the total"),  # اندیس شروع بزرگ تر از کل تعداد …
    416: down("calling IP not allowed"),  # IP سرویس مبدا با تنظیمات مطابقت ندارد
    417: recipient("send date invalid"),  # تاریخ ارسال اشتباه است
    418: down("out of credit"),  # اعتبار حساب شما کافی نیست
    419: recipient("array lengths differ"),  # طول آرایه متن و گیرنده و فرستنده هم اندازه نیست
    420: down("links in messages restricted for this account"),  # استفاده از لینک … محدود شده
    422: recipient("text has characters that cannot be processed"),  # کاراکتر نامناسب
    424: recipient("template not found"),  # الگوی مورد نظر پیدا نشد (verify/lookup)
    426: down("method needs the advanced plan"),  # نیازمند سرویس پیشرفته می‌باشد
    427: down("sender line needs an access level"),  # استفاده از این خط نیازمند ایجاد سطح دسترسی
    428: recipient("code cannot be sent as a voice call"),  # ارسال کد از طریق تماس تلفنی …
    429: down("calling IP restricted"),  # IP مورد نظر محدود شده است — not a rate limit
    431: recipient("code structure invalid"),  # ساختار کد صحیح نمی‌باشد (verify/lookup)
    432: recipient("code parameter missing in text"),  # پارامتر کد در متن پیام پیدا نشد
    451: retry("too many calls from this IP", rate_limit=True),  # فراخوانی بیش از حد …
    501: down("test account: SMS only to the account owner"),  # فقط امکان ارسال پیام تست به …
}

# Delivery states of sms/status.json (rest.html "وضعیت پیامک", MessageStatus.cs).
DELIVERY: Mapping[int, Delivery] = {
    1: Delivery.PENDING,  # در صف ارسال قرار دارد (Queued)
    2: Delivery.PENDING,  # زمان بندی شده (Scheduled)
    4: Delivery.PENDING,  # ارسال شده به مخابرات (SentToCenter)
    5: Delivery.PENDING,  # ارسال شده به مخابرات (SentToCarrier)
    6: Delivery.UNDELIVERED,  # خطا در ارسال پیام … به معنی عدم رسیدن پیامک
    10: Delivery.DELIVERED,  # رسیده به گیرنده (Delivered)
    11: Delivery.UNDELIVERED,  # نرسیده به گیرنده: خاموش یا خارج از دسترس (Undelivered)
    13: Delivery.UNDELIVERED,  # لغو شده یا مشکل در ارسال، هزینه برگشت داده می‌شود (Canceled)
    14: Delivery.UNDELIVERED,  # بلاک شده: گیرنده پیامک تبلیغاتی نمی‌خواهد (Filtered)
    100: Delivery.UNKNOWN,  # شناسه پیامک نامعتبر است (Incorrect)
}

SUCCESS = 200
STATUS_BATCH = 500
SENDARRAY_MAX = 200  # numbers per sendarray call (414's text)
SPLIT_ON = frozenset({411})  # receptor invalid: some number in the list


class KavenegarGateway(HttpGateway):
    provider = "kavenegar"
    default_base_url = "https://api.kavenegar.com"
    receipts_batch = STATUS_BATCH
    bulk_max = SENDARRAY_MAX

    @property
    def bulk_size(self) -> int:
        # sendarray wants a sender per number: without a configured line, one by one
        return self.bulk_max if self.cfg.sender else 1

    def _url(self, key: str, method: str) -> URL:
        # encoded=True: the key goes out exactly as quoted here, the form scrub() masks
        return URL(f"{self.base_url}/v1/{quote(key, safe='')}/sms/{method}.json", encoded=True)

    async def _send(self, phone_e164: str, text: str, localid: str) -> SendResult:
        key = self.api_key()
        if not key:
            return self.no_key()
        form = {"receptor": national_mobile(phone_e164), "message": text, "localid": localid}
        if self.cfg.sender:
            form["sender"] = self.cfg.sender
        reply = await self.request("POST", self._url(key, "send"), data=form)
        return self._classify(reply)

    async def _send_bulk(
        self, phones: Sequence[str], text: str, localids: Sequence[str]
    ) -> BulkAnswer:
        key = self.api_key()
        if not key:
            return self.no_key()
        receptors = [national_mobile(p) for p in phones]
        form = {
            "receptor": _array(receptors),
            "sender": _array([self.cfg.sender or ""] * len(phones)),
            "message": _array([text] * len(phones)),
            "localmessageids": _array(list(localids)),
        }
        reply = await self.request("POST", self._url(key, "sendarray"), data=form)
        data = reply.json_object()
        code = code_of(field(data, "return", "status"))
        if code is None:
            return self.without_envelope(reply)
        entries = field(data, "entries")
        if code != SUCCESS or not isinstance(entries, list):
            message = field(data, "return", "message")
            return self.bulk_verdict(SEND_STATUS, code, message, reply, SPLIT_ON)
        pairs = [(field(e, "receptor"), field(e, "messageid")) for e in entries]
        ids = ids_by_number(receptors, pairs)
        return [
            sent_as(self.name, i) if i else self.unreadable(reply, "no message id for the number")
            for i in ids
        ]

    def _classify(self, reply: Reply) -> SendResult:
        data = reply.json_object()
        code = code_of(field(data, "return", "status"))
        if code is None:
            return self.without_envelope(reply)
        if code == SUCCESS:
            entries = field(data, "entries")
            first = entries[0] if isinstance(entries, list) and entries else None
            message_id = id_of(field(first, "messageid"))
            if message_id is not None:
                return sent_as(self.name, message_id)
        return self.by_table(SEND_STATUS, code, field(data, "return", "message"), reply)

    async def _receipts(self, message_ids: Sequence[str]) -> Receipts:
        key = self.api_key()
        if not key:
            return Receipts({}, self.no_key().reason)
        form = {"messageid": ",".join(message_ids)}
        reply = await self.request("POST", self._url(key, "status"), data=form)
        data = reply.json_object()
        code = code_of(field(data, "return", "status"))
        entries = field(data, "entries")
        if code != SUCCESS or not isinstance(entries, list):
            return Receipts({}, f"{self.name}: status query {self._why(reply, code, data)}")
        asked, found = set(message_ids), dict[str, Receipt]()
        for entry in entries:
            message_id = id_of(field(entry, "messageid"))
            if message_id is None or message_id not in asked:
                continue
            state = code_of(field(entry, "status"))
            detail = f"{state} {field(entry, 'statustext') or ''}".strip()
            found[message_id] = Receipt(message_id, delivery_of(DELIVERY, state), None, detail)
        return Receipts(found)

    def _why(self, reply: Reply, code: int | None, data: object) -> str:
        if code is None:
            return f"unreadable answer (HTTP {reply.status})"
        status = SEND_STATUS.get(code)
        meaning = status.meaning if status else "undocumented status"
        return f"refused: {code} {meaning} ({field(data, 'return', 'message') or ''})"


def _array(values: list[str]) -> str:
    return json.dumps(values, ensure_ascii=False)
