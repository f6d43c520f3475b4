"""The training chat page: play a PR officer or a staff member against the real bot.

A phone-like page (Persian and right-to-left first, English second) on which a person
picks who they play — a seeded user of one of the sandbox messengers — and then chats with
the officers' bot through the fake Bot API: types ``/report``, presses the inline buttons,
reads the preview, confirms, watches the progress message change, presses "✅ دریافت شد"
under an alert, or answers a roll call with ✅ سالم هستم / 🆘 کمک لازم دارم. Nothing
leaves the machine: a typed message is queued on the fake as that user's Update (as
``/_control/message`` would), a button press as a ``callback_query``
(as ``/_control/callback`` would), and the conversation is read from the fake's state.

Routes, relative to where the app is mounted (``/train/`` on the inbox page)::

    GET  /                 the page; ?m=<messenger>&u=<chat id> picks who is played
    GET  /trainer.css, /trainer.js   (static/trainer.{html,css,js} in this package)
    GET  /api/users        the messengers and the people one may play on each
    GET  /api/chat         ?messenger=&chat_id= : the conversation with the bot, oldest first
    POST /api/send         {messenger, chat_id, text}: that user writes to the bot
    POST /api/press        {messenger, chat_id, message_id, data}: they press a button
    POST /api/contact      {messenger, chat_id}: they press the bot's "share my number"
                           button (their own number, as the app sends it)

Newcomers (someone in the directory with a phone and no chat id on that messenger) can
be played too: they send /start, share their number, or paste an invite link they got by
SMS or email (a ``t.me`` / ``ble.ir`` link to this bot is opened, as tapping it would:
``/start <token>``).

A bot's message is shown as its messenger's app shows it (:mod:`.trainer_view`), built
on the server from escaped text and a few bare tags before the page's script puts it in
place. The page loads no external resource and its Content-Security-Policy forbids
inline scripts. POSTs must be JSON, so a page elsewhere
cannot submit to this one without a CORS preflight (which it does not answer).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import tzinfo
from html import escape
from importlib import resources
from typing import Any

from aiohttp import web

from crisisd.formats.timefmt import TEHRAN
from crisisd.sandbox.botapi_state import BotApiState
from crisisd.sandbox.botapi_wire import MAX_TEXT, BotApiError
from crisisd.sandbox.deeplinks import start_link
from crisisd.sandbox.trainer_users import TrainerUser, UsersSource, trainer_users
from crisisd.sandbox.trainer_view import Trainer, button_data, dumps, http_error

__all__ = ["TrainerUser", "create_trainer_app", "trainer_users"]

JSON = dict[str, Any]
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


TRAINER: web.AppKey[Trainer] = web.AppKey("trainer", Trainer)
PAGE: web.AppKey[str] = web.AppKey("trainer_page", str)


def create_trainer_app(
    botapi: Mapping[str, BotApiState],
    users: UsersSource = (),
    *,
    tz: tzinfo = TEHRAN,
    inbox_href: str | None = None,
) -> web.Application:
    """The training page over the fakes in ``botapi`` (messenger -> state, read per request).

    ``users``: who may be played, or a function returning them (called per request, so a
    reloaded directory shows up); any other private chat the fake knows is listed too.
    ``inbox_href``: where the page links to the inbox page (None: no link). Mount it with
    ``inbox_app.add_subapp("/train/", app)`` or serve it on its own.
    """
    app = web.Application()
    app[TRAINER] = Trainer(botapi, users, tz=tz, inbox_href=inbox_href)
    app[PAGE] = _read("trainer.html")  # {base}, {css}, {js}, {inbox} filled per request
    app.router.add_get("/", _index, name="index")
    app.router.add_get("/trainer.css", _static("trainer.css", "text/css"), name="css")
    app.router.add_get("/trainer.js", _static("trainer.js", "text/javascript"), name="js")
    app.router.add_get("/api/users", _api_users)
    app.router.add_get("/api/chat", _api_chat)
    app.router.add_post("/api/send", _api_send)
    app.router.add_post("/api/press", _api_press)
    app.router.add_post("/api/contact", _api_contact)
    return app


# -- handlers -------------------------------------------------------------------------
async def _index(request: web.Request) -> web.Response:
    trainer = request.app[TRAINER]
    router = request.app.router
    base = str(router["index"].url_for())
    css, js = router["css"].url_for(), router["js"].url_for()
    inbox = ""
    if trainer.inbox_href:
        inbox = (
            f'<a class="inbox-link" href="{escape(trainer.inbox_href)}">صندوق پیام‌ها — inbox</a>'
        )
    html = request.app[PAGE].format(
        base=escape(base), css=escape(str(css)), js=escape(str(js)), inbox=inbox
    )
    response = web.Response(text=html, content_type="text/html", charset="utf-8")
    response.headers.update(_HEADERS)
    return response


def _read(name: str) -> str:
    return resources.files("crisisd.sandbox").joinpath("static", name).read_text("utf-8")


def _static(name: str, content_type: str) -> Callable[[web.Request], Any]:
    text = _read(name)

    async def handler(_request: web.Request) -> web.Response:
        response = web.Response(text=text, content_type=content_type, charset="utf-8")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-cache"
        return response

    return handler


async def _api_users(request: web.Request) -> web.Response:
    return _json(request.app[TRAINER].roster())


async def _api_chat(request: web.Request) -> web.Response:
    trainer = request.app[TRAINER]
    state = trainer.state(request.query.get("messenger"))
    chat_id = trainer.chat_id(state, request.query.get("chat_id"))
    return _json(trainer.conversation(state, chat_id))


async def _api_send(request: web.Request) -> web.Response:
    trainer = request.app[TRAINER]
    body = await _body(request)
    state = trainer.state(body.get("messenger"))
    chat_id = trainer.chat_id(state, body.get("chat_id"))
    text = str(body.get("text") or "").strip()
    if not text:
        raise http_error(400, "پیام خالی است — the message is empty")
    if len(text) > MAX_TEXT:
        raise http_error(400, f"پیام بیش از {MAX_TEXT} نویسه است — longer than {MAX_TEXT}")
    bot = trainer.bot(state)
    link = start_link(text)
    if link is not None and link[0] != bot.username:
        raise http_error(409, f"این پیوند برای ربات دیگری است — a link to another bot ({link[0]})")
    if link is not None:  # tapping an invite link opens the bot and presses Start
        update = state.inject_start(chat_id, link[1], bot=bot)
    else:
        update = state.inject_message(chat_id, text, user_id=chat_id, bot=bot)
    message = update["message"]
    return _json(
        {"ok": True, "update_id": update["update_id"], "message_id": message["message_id"]}
    )


async def _api_press(request: web.Request) -> web.Response:
    trainer = request.app[TRAINER]
    body = await _body(request)
    state = trainer.state(body.get("messenger"))
    chat_id = trainer.chat_id(state, body.get("chat_id"))
    bot = trainer.bot(state)
    data = str(body.get("data") or "")
    try:
        message_id = int(str(body.get("message_id")))
    except ValueError:
        raise http_error(400, "message_id must be an integer") from None
    message = state.messages.get((bot.id, chat_id, message_id))
    if message is None or message.deleted or not message.sender.get("is_bot"):
        raise http_error(404, "این پیام دیگر نیست — no such message from the bot")
    if data not in button_data(message.reply_markup):
        # The bot edited the message meanwhile: Telegram would not deliver this press either.
        raise http_error(409, "این دکمه دیگر زیر پیام نیست — that button is no longer there")
    try:
        update = state.inject_callback(chat_id, message_id, data, chat_id=chat_id, bot=bot)
    except BotApiError as exc:
        raise http_error(409, exc.description) from None
    query = update["callback_query"]
    return _json({"ok": True, "update_id": update["update_id"], "callback_query_id": query["id"]})


async def _api_contact(request: web.Request) -> web.Response:
    trainer = request.app[TRAINER]
    body = await _body(request)
    state = trainer.state(body.get("messenger"))
    chat_id = trainer.chat_id(state, body.get("chat_id"))
    played = next(
        (u for u in trainer.users() if u.messenger == state.name and u.chat_id == chat_id), None
    )
    if played is None or not played.phone:
        raise http_error(409, "شماره‌ای برای این کاربر نیست — no phone number for this user")
    update = state.inject_contact(
        chat_id, played.phone, contact_user_id=chat_id, bot=trainer.bot(state)
    )
    return _json({"ok": True, "update_id": update["update_id"]})


async def _body(request: web.Request) -> JSON:
    if request.content_type != "application/json":
        raise http_error(415, "JSON only (Content-Type: application/json)")
    try:
        body = await request.json()
    except ValueError:
        raise http_error(400, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise http_error(400, "the body must be a JSON object")
    return body


def _json(data: object, status: int = 200) -> web.Response:
    response = web.json_response(data, status=status, dumps=dumps)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


_HEADERS = {
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
