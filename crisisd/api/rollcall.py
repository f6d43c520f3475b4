"""Roll-call routes: the page a link opens, the answer it posts, the headcount, and the
generic inbound-SMS webhook.

- ``GET /v1/rc/{token}`` checks the signed link (the ack token format, see acklinks.py)
  and shows the two answers as buttons, with a box for "where are you"; it records
  nothing, so mail scanners and link previews never answer for a person.
- ``POST /v1/rc/{token}`` (form ``answer=safe|help``, ``location``) records the answer.
  A forged or cut link is refused (400), an expired one too (410); the same link used
  again records the new answer (the latest wins) and says so.
- ``GET /v1/incidents/{id}/headcount`` (API token): the live headcount per audience,
  with the names of those who need help and those not heard from.
- ``POST /v1/inbound/sms`` (API token): ``{"from": "+98…", "text": "۱", "id": "…",
  "gateway": "…"}`` from any SMS gateway that can forward what it receives; ``id`` makes a
  repeat harmless.
"""

from __future__ import annotations

from html import escape
from typing import Annotated

import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from crisisd.api.acklinks import AckLinkError, ExpiredAckLinkError
from crisisd.api.requests import authenticate, body
from crisisd.api.state import STATE
from crisisd.domain import Answer
from crisisd.errors import UnknownIncidentError
from crisisd.rollcall.headcount import Headcount, State
from crisisd.rollcall.service import RollCalls

log = structlog.get_logger("crisisd.api.rollcall")
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}
_STYLE = (
    "body{font-family:Tahoma,Vazirmatn,sans-serif;max-width:34rem;margin:2rem auto;"
    "padding:0 1rem;line-height:1.7}button{font-size:1.2rem;padding:.6rem 1.4rem;margin:.3rem}"
    "textarea{width:100%}"
)
_PAGES = {
    "ask": ("آیا سالم هستید؟", "Are you safe?"),
    "safe": ("ثبت شد: سالم هستید. ممنون.", "Recorded: you are safe. Thank you."),
    "help": (
        "ثبت شد: کمک لازم دارید. تیم واکنش اضطراری همین حالا باخبر شد.",
        "Recorded: you need help. The emergency team has just been told.",
    ),
    "late": (
        "پاسخ شما ثبت شد؛ وضعیت اضطراری پیش‌تر پایان یافته بود.",
        "Your answer is recorded; the all-clear had already been given.",
    ),
    "invalid": (
        "این پیوند کامل یا درست نیست. پیوند را کامل از پیام باز کنید.",
        "This link is incomplete or altered. Open the whole link from the message.",
    ),
    "expired": (
        "مهلت این پیوند گذشته است. با پیامک پاسخ دهید یا تماس بگیرید.",
        "This link has expired. Reply by SMS or call.",
    ),
    "unknown": ("این پرسش پیدا نشد.", "This question was not found."),
}
_STATUS = {"invalid": 400, "expired": 410, "unknown": 404}


def add_rollcall_routes(router: web.UrlDispatcher) -> None:
    """Register the roll-call routes (one line in api/app.py)."""
    router.add_get("/v1/rc/{token}", confirm, allow_head=False)
    router.add_post("/v1/rc/{token}", answer)
    router.add_get("/v1/incidents/{id}/headcount", get_headcount)
    router.add_post("/v1/inbound/sms", inbound_sms)


def _page(kind: str, form: bool = False, chosen: str = "") -> web.Response:
    fa, en = _PAGES[kind]
    buttons = ""
    if form:
        first = ["safe", "help"] if chosen != "help" else ["help", "safe"]
        words = {"safe": "✅ سالم هستم — I am safe", "help": "🆘 کمک لازم دارم — I need help"}
        buttons = (
            '<form method="post"><p><label>محل شما / where are you (optional)<br>'
            '<textarea name="location" maxlength="200" rows="2"></textarea></label></p>'
            + "".join(
                f'<button type="submit" name="answer" value="{a}">{escape(words[a])}</button>'
                for a in first
            )
            + "</form>"
        )
    html = (
        '<!doctype html>\n<html lang="fa" dir="rtl"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="robots" content="noindex"><title>{fa}</title><style>{_STYLE}</style>'
        f'</head><body><h1>{fa}</h1><p lang="en" dir="ltr">{en}</p>{buttons}</body></html>\n'
    )
    return web.Response(
        text=html, status=_STATUS.get(kind, 200), content_type="text/html", headers=_HEADERS
    )


def _verify(request: web.Request) -> str | web.Response:
    try:
        return request.app[STATE].signer.verify(request.match_info["token"])
    except AckLinkError as exc:
        log.info("rollcall.link_refused", reason=type(exc).__name__)
        return _page("expired" if isinstance(exc, ExpiredAckLinkError) else "invalid")


async def confirm(request: web.Request) -> web.Response:
    """Opening the link: check it, offer both answers; nothing is recorded."""
    code = _verify(request)
    if isinstance(code, web.Response):
        return code
    msg = await request.app[STATE].ctx.store.message_by_ack_code(code)
    if msg is None or msg.purpose != "roll_call":
        return _page("unknown")
    return _page("ask", form=True, chosen=request.query.get("a", ""))


async def answer(request: web.Request) -> web.Response:
    code = _verify(request)
    if isinstance(code, web.Response):
        return code
    form = await request.post()
    raw = str(form.get("answer", ""))
    if raw not in ("safe", "help"):
        return _page("ask", form=True)
    rc = RollCalls(request.app[STATE].ctx.service)
    try:
        done = await rc.answer_code(
            code, Answer(raw), "link", location=str(form.get("location", ""))
        )
    except UnknownIncidentError:
        return _page("unknown")
    return _page("late" if done.outcome == "after_close" else raw)


async def get_headcount(request: web.Request) -> web.Response:
    authenticate(request)
    rc = RollCalls(request.app[STATE].ctx.service)
    count = await rc.headcount(request.match_info["id"])
    return web.json_response(headcount_view(request.match_info["id"].upper(), count))


def headcount_view(incident_id: str, count: Headcount) -> dict[str, object]:
    """The headcount as JSON: totals, per audience, and who needs help or is silent."""

    def tally(t: object) -> dict[str, int]:
        return {k: getattr(t, k) for k in ("safe", "help", "no_answer", "unreachable", "total")}

    return {
        "incident": incident_id,
        "total": tally(count.total),
        "audiences": {a: tally(t) for a, t in sorted(count.by_audience.items())},
        "need_help": [
            {"contact": p.contact, "location": p.location, "via": p.via}
            for p in count.named(State.HELP)
        ],
        "no_answer": sorted(p.contact for p in count.named(State.NO_ANSWER)),
        "unreachable": sorted(p.contact for p in count.named(State.UNREACHABLE)),
    }


class InboundSms(BaseModel):
    """One SMS a gateway received, as the webhook takes it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    sender: Annotated[str, Field(min_length=3, max_length=32, alias="from")]
    text: Annotated[str, Field(max_length=2000)]
    id: Annotated[str, Field(max_length=128)] | None = None
    gateway: Annotated[str, Field(max_length=60)] = "webhook"


async def inbound_sms(request: web.Request) -> web.Response:
    caller = authenticate(request)
    sms = await body(request, InboundSms)
    rc = RollCalls(request.app[STATE].ctx.service)
    source = f"webhook:{sms.gateway}" if sms.id else None
    done = await rc.answer_sms(sms.sender, sms.text, f"sms:{sms.gateway}", source, sms.id)
    log.info("rollcall.inbound", caller=caller, outcome=done.outcome)
    return web.json_response(
        {"outcome": done.outcome, "counted": done.counted, "incident": done.incident_id},
        status=202 if done.counted else 200,
    )
