"""The sandbox inbox page: every message the fakes accepted, as its recipient would read it.

Routes::

    GET /                    newest first; ?to=<address>&channel=<chat|sms|email|service>
    GET /message/{id}        one message; an HTML email in a sandboxed iframe (srcdoc)
    GET /api/messages        JSON, oldest first; ?since=<id>&to=&channel=
    GET /inbox.css, /inbox.js

Nothing a message contains is rendered raw: a chat message is shown as its messenger's
app shows it (Telegram: the text with the entities the fake parsed; Bale: its Markdown),
built by :mod:`crisisd.sandbox.botapi_render` from escaped text and a few bare tags.
The page works offline (no CDN, no web fonts) and a Content-Security-Policy forbids
inline scripts as a second line of defence.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from html import escape
from urllib.parse import urlencode

from aiohttp import web

from crisisd.formats.textfit import sms_info
from crisisd.formats.timefmt import fa_digits, local_date
from crisisd.sandbox.botapi_render import render_sent
from crisisd.sandbox.inbox import Delivered, Inbox

INBOX_KEY = web.AppKey("inbox", Inbox)
PAGE_LIMIT = 300  # newest messages shown on the page; the API has them all
POLL_MS = 3000

_CHANNEL_FA = {"chat": "پیام‌رسان", "sms": "پیامک", "email": "ایمیل"}
_CSP_PAGE = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# The email preview iframe inherits this policy: inline styles yes, scripts and fetches no.
_CSP_MESSAGE = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; frame-ancestors 'none'"
)


def _matches(item: Delivered, to: str, channel: str) -> bool:
    return (not to or item.to == to) and (not channel or channel in (item.channel, item.service))


def _filters(request: web.Request) -> tuple[str, str]:
    return request.query.get("to", "").strip(), request.query.get("channel", "").strip()


def _when(item: Delivered) -> str:
    return local_date(datetime.fromtimestamp(item.at, UTC), "fa")


def _drill(item: Delivered) -> bool:
    headers = item.extra.get("headers")
    return isinstance(headers, dict) and headers.get("X-Crisisd-Drill") == "yes"


def _body(item: Delivered, *, detail: bool = False) -> str:
    text = f'<div class="text" dir="auto">{escape(item.text)}</div>'
    if item.channel == "chat":
        return f'<div class="text" dir="auto">{render_sent(item.text, item.extra)}</div>'
    if item.channel == "email":
        subject = escape(item.subject or "(بدون موضوع — no subject)")
        link = ""
        if item.html and not detail:
            link = f'<a class="more" href="/message/{item.id}">نمایش ایمیل HTML — view HTML</a>'
        return f'<div class="subject" dir="auto">{subject}</div>{text}{link}'
    if item.channel == "sms":
        info = sms_info(item.text)
        parts = item.extra.get("parts", info.parts)
        size = f"{fa_digits(parts)} بخش · {info.encoding.upper()} · {fa_digits(info.units)} واحد"
        return f'{text}<div class="parts">{escape(size)}</div>'
    return text


def _card(item: Delivered, *, detail: bool = False) -> str:
    kind = escape(item.channel)
    label = escape(_CHANNEL_FA.get(item.channel, item.channel))
    drill = '<span class="badge drill">مانور — drill</span>' if _drill(item) else ""
    sender = f"<span>از <bdi>{escape(item.sender)}</bdi></span>" if item.sender else ""
    return (
        f'<article class="msg {kind}" id="m{item.id}">'
        f'<div class="meta"><span class="badge {kind}">{label}</span>'
        f"<span>{escape(item.service)}</span>"
        f"<span>به <bdi>{escape(item.to)}</bdi></span>{sender}{drill}"
        f'<a class="when" href="/message/{item.id}">{escape(_when(item))}</a></div>'
        f"{_body(item, detail=detail)}</article>"
    )


def _chips(name: str, values: Iterable[str], current: str, other: dict[str, str]) -> str:
    links = []
    for value in ["", *sorted(set(values))]:
        query = urlencode({k: v for k, v in {**other, name: value}.items() if v})
        label = escape(_CHANNEL_FA.get(value, value)) if value else "همه — all"
        on = " on" if value == current else ""
        links.append(f'<a class="chip{on}" href="/?{escape(query)}"><bdi>{label}</bdi></a>')
    return "".join(links)


def _page(title: str, body: str, *, last_id: int = 0, poll: bool = False) -> str:
    script = '<script src="/inbox.js" defer></script>' if poll else ""
    refresh = '<noscript><meta http-equiv="refresh" content="5"></noscript>' if poll else ""
    return (
        '<!doctype html>\n<html lang="fa" dir="rtl"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{escape(title)}</title><link rel="stylesheet" href="/inbox.css">'
        f'{script}{refresh}</head><body data-last-id="{last_id}">{body}</body></html>'
    )


_HEADER = (
    '<header><h1>صندوق پیام‌های آزمایشی</h1><p class="en" dir="ltr">Sandbox inbox — what the'
    " fake Bot API, SMS gateways and SMTP server accepted</p></header>"
)


async def _index(request: web.Request) -> web.Response:
    inbox = request.app[INBOX_KEY]
    to, channel = _filters(request)
    everything = list(inbox)
    shown = [d for d in reversed(everything) if _matches(d, to, channel)]
    cards = "".join(_card(d) for d in shown[:PAGE_LIMIT])
    if not cards:
        cards = '<p class="empty">هنوز پیامی نرسیده است. — No messages yet.</p>'
    kinds = [d.channel for d in everything] + [d.service for d in everything]
    nav = (
        f'<nav class="filters">{_chips("channel", kinds, channel, {"to": to})}</nav>'
        f'<nav class="filters">{_chips("to", (d.to for d in everything), to, {"channel": channel})}'
        "</nav>"
    )
    count = f'<p class="count">{fa_digits(len(shown))} پیام — {len(shown)} messages</p>'
    last_id = everything[-1].id if everything else 0
    html = _page(
        "صندوق پیام‌های آزمایشی — Sandbox inbox",
        f"{_HEADER}{nav}<main>{count}{cards}</main>",
        last_id=last_id,
        poll=True,
    )
    return _html(html, _CSP_PAGE)


async def _message(request: web.Request) -> web.Response:
    inbox = request.app[INBOX_KEY]
    try:
        wanted = int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound(text="no such message") from None
    item = next((d for d in inbox if d.id == wanted), None)
    if item is None:
        raise web.HTTPNotFound(text="no such message")
    preview = ""
    if item.html:
        # sandbox="" : no scripts, no forms, no same-origin access; srcdoc keeps it offline.
        preview = (
            '<h2>نسخهٔ HTML — HTML version</h2><iframe sandbox="" referrerpolicy="no-referrer" '
            f'title="email" srcdoc="{escape(item.html, quote=True)}"></iframe>'
        )
    headers = item.extra.get("headers")
    rows = ""
    if isinstance(headers, dict):
        rows = "".join(
            f"<tr><th>{escape(str(k))}</th><td dir='auto'>{escape(str(v))}</td></tr>"
            for k, v in headers.items()
        )
        rows = f'<table class="headers">{rows}</table>' if rows else ""
    back = '<p><a href="/">→ بازگشت — back</a></p>'
    body = f"{_HEADER}<main>{back}{_card(item, detail=True)}{rows}{preview}</main>"
    return _html(_page(f"پیام {fa_digits(item.id)} — message {item.id}", body), _CSP_MESSAGE)


async def _api_messages(request: web.Request) -> web.Response:
    inbox = request.app[INBOX_KEY]
    to, channel = _filters(request)
    try:
        since = int(request.query.get("since", "0") or 0)
    except ValueError:
        return web.json_response({"error": "since must be a message id (an integer)"}, status=400)
    items = [d.as_dict() for d in inbox if d.id > since and _matches(d, to, channel)]
    last_id = max((d.id for d in inbox), default=0)
    return web.json_response(
        {"messages": items, "last_id": last_id},
        dumps=lambda data: json.dumps(data, ensure_ascii=False, default=str),
    )


def _html(text: str, csp: str) -> web.Response:
    response = web.Response(text=text, content_type="text/html", charset="utf-8")
    response.headers["Content-Security-Policy"] = csp
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


async def _css(_request: web.Request) -> web.Response:
    return web.Response(text=_CSS, content_type="text/css", charset="utf-8")


async def _js(_request: web.Request) -> web.Response:
    return web.Response(text=_JS, content_type="text/javascript", charset="utf-8")


def create_inbox_app(inbox: Inbox) -> web.Application:
    """The inbox page over ``inbox``; mount it or run it with ``web.AppRunner``."""
    app = web.Application()
    app[INBOX_KEY] = inbox
    app.router.add_get("/", _index)
    app.router.add_get("/message/{id}", _message)
    app.router.add_get("/api/messages", _api_messages)
    app.router.add_get("/inbox.css", _css)
    app.router.add_get("/inbox.js", _js)
    return app


# Served as a file so the page's CSP can forbid inline script.
_JS = f"""(() => {{
  const last = Number(document.body.dataset.lastId || 0);
  const params = new URLSearchParams(location.search);
  params.set("since", String(last));
  const poll = async () => {{
    try {{
      const r = await fetch("/api/messages?" + params.toString(), {{cache: "no-store"}});
      if (r.ok && (await r.json()).messages.length) {{ location.reload(); return; }}
    }} catch (e) {{ /* the sandbox may be restarting; try again */ }}
    setTimeout(poll, {POLL_MS});
  }};
  setTimeout(poll, {POLL_MS});
  // As in the messenger's app: a spoiler shows on a tap, an expandable quote opens.
  document.addEventListener("click", (event) => {{
    const hidden = event.target.closest(".spoiler, blockquote.expandable");
    if (hidden) hidden.classList.toggle("open");
  }});
}})();
"""

# Vazirmatn when installed locally, then the Persian-capable fonts phones and desktops ship.
_CSS = """:root{--bg:#f3f4f6;--card:#fff;--ink:#1c2230;--muted:#667085;--line:#e3e6ea;
--chat:#2481cc;--sms:#12924f;--email:#c26a00;--drill:#b42318}
@media (prefers-color-scheme:dark){:root{--bg:#101317;--card:#1a1e24;--ink:#e7e9ec;
--muted:#9aa3b2;--line:#2a3038}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:16px/1.75 Vazirmatn,Vazir,
"Vazirmatn UI",Sahel,"Noto Sans Arabic","Noto Naskh Arabic",Tahoma,"Segoe UI",system-ui,
-apple-system,"Helvetica Neue",Arial,sans-serif}
header{padding:.9rem 1rem;background:var(--card);border-bottom:1px solid var(--line)}
h1{margin:0;font-size:1.25rem}h2{font-size:1rem}
.en{margin:0;color:var(--muted);font-size:.8rem;text-align:right}
main,.filters{max-width:46rem;margin:0 auto;padding:.4rem .75rem}
.filters{display:flex;flex-wrap:wrap;gap:.35rem}
.chip{padding:.1rem .65rem;border:1px solid var(--line);border-radius:999px;
text-decoration:none;color:inherit;background:var(--card);font-size:.82rem}
.chip.on{border-color:var(--chat);color:var(--chat);font-weight:700}
.count{color:var(--muted);font-size:.85rem;margin:.2rem 0}
.msg{background:var(--card);border:1px solid var(--line);border-inline-start:4px solid var(--chat);
border-radius:12px;padding:.7rem .9rem;margin:.6rem 0;overflow-wrap:anywhere}
.msg.sms{border-inline-start-color:var(--sms)}.msg.email{border-inline-start-color:var(--email)}
.meta{display:flex;flex-wrap:wrap;gap:.2rem .6rem;color:var(--muted);font-size:.8rem}
.when{color:inherit;margin-inline-start:auto}
.badge{color:#fff;background:var(--chat);border-radius:6px;padding:0 .45rem}
.badge.sms{background:var(--sms)}.badge.email{background:var(--email)}
.badge.drill{background:var(--drill)}
.text,.subject{unicode-bidi:plaintext;white-space:pre-wrap;margin:.35rem 0 0}
.subject{font-weight:700}
.parts{color:var(--muted);font-size:.78rem}
.more{font-size:.85rem}
code,pre{font-family:ui-monospace,"Cascadia Mono",Menlo,Consolas,monospace;font-size:.9em;
direction:ltr;unicode-bidi:isolate}
pre{white-space:pre-wrap;background:var(--bg);padding:.45rem;border-radius:6px}
blockquote{margin:.3rem 0;padding:.1rem .6rem;border-inline-start:3px solid var(--chat);
background:rgba(36,129,204,.08);border-radius:4px}
blockquote.expandable:not(.open){max-height:4.9em;overflow:hidden;cursor:pointer}
.spoiler:not(.open){background:var(--muted);color:transparent;border-radius:3px;cursor:pointer}
a{color:var(--chat)}
.empty{text-align:center;color:var(--muted);padding:3rem 1rem}
.headers{font-size:.8rem;border-collapse:collapse;width:100%}
.headers th{text-align:start;color:var(--muted);font-weight:400;padding-inline-end:.6rem}
iframe{width:100%;min-height:70vh;border:1px solid var(--line);border-radius:8px;background:#fff}
"""
