"""The training chat page: play a PR officer or a staff member against the real bot.

A phone-like page (Persian and right-to-left first, English second) on which a person
picks who they play — a seeded user of one of the sandbox messengers — and then chats with
the officers' bot through the fake Bot API: types ``/report``, presses the inline buttons,
reads the preview, confirms, watches the progress message change, presses "✅ دریافت شد"
under an alert. Nothing leaves the machine: a typed message is queued on the fake as that
user's Update (as ``/_control/message`` would), a button press as a ``callback_query``
(as ``/_control/callback`` would), and the conversation is read from the fake's state.

Routes, relative to where the app is mounted (``/train/`` on the inbox page)::

    GET  /                 the page; ?m=<messenger>&u=<chat id> picks who is played
    GET  /trainer.css, /trainer.js   (static/trainer.{html,css,js} in this package)
    GET  /api/users        the messengers and the people one may play on each
    GET  /api/chat         ?messenger=&chat_id= : the conversation with the bot, oldest first
    POST /api/send         {messenger, chat_id, text}: that user writes to the bot
    POST /api/press        {messenger, chat_id, message_id, data}: they press a button

Bot messages are Telegram HTML: only b, i, u, s, a, code and pre survive
(:func:`crisisd.sandbox.web.sanitize_chat_html`), everything else is escaped on the
server, before the page's script puts it in place. The page loads no external resource and
its Content-Security-Policy forbids inline scripts. POSTs must be JSON, so a page elsewhere
cannot submit to this one without a CORS preflight (which it does not answer).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, tzinfo
from html import escape
from importlib import resources
from typing import Any

from aiohttp import web

from crisisd.formats.timefmt import TEHRAN, clock
from crisisd.playbook import Directory, Playbook
from crisisd.sandbox.botapi_state import BotApiState, FakeBot, FakeMessage
from crisisd.sandbox.botapi_wire import MAX_TEXT, BotApiError
from crisisd.sandbox.web import _safe_href, sanitize_chat_html

JSON = dict[str, Any]
HISTORY_LIMIT = 200  # newest messages a conversation shows
TOAST_LIMIT = 5  # newest answered button presses (the bot's little pop-ups) a chat returns
MESSENGER_NAMES = {"bale": "بله — Bale", "telegram": "تلگرام — Telegram"}
ROLE_OFFICER, ROLE_CONTACT, ROLE_OTHER = "officer", "contact", "other"
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_dumps = functools.partial(json.dumps, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class TrainerUser:
    """Someone the page lets a person play: one chat on one messenger."""

    messenger: str
    chat_id: int
    name_fa: str
    name_en: str
    contact_id: str = ""
    title_fa: str = ""
    title_en: str = ""
    officer_of: tuple[str, ...] = ()  # factory ids whose PR officer this is
    listed: bool = True  # False: a chat the fake knows that is not in the directory

    @property
    def role(self) -> str:
        if not self.listed:
            return ROLE_OTHER
        return ROLE_OFFICER if self.officer_of else ROLE_CONTACT

    def as_dict(self) -> JSON:
        return asdict(self) | {"role": self.role, "officer_of": list(self.officer_of)}


def trainer_users(
    directory: Directory, playbooks: Mapping[str, Playbook] | None = None
) -> list[TrainerUser]:
    """Everyone in the directory with a chat id, once per messenger; officers first.

    ``playbooks`` tells who is a PR officer (``factory.officers``); without them everyone
    is listed as a contact.
    """
    officer_of: dict[str, list[str]] = {}
    for factory_id, playbook in (playbooks or {}).items():
        for officer in playbook.factory.officers:
            officer_of.setdefault(officer, []).append(factory_id)
    users = [
        TrainerUser(
            messenger,
            chat_id,
            contact.name.fa,
            contact.name.en,
            contact_id,
            contact.title.fa if contact.title else "",
            contact.title.en if contact.title else "",
            tuple(officer_of.get(contact_id, ())),
        )
        for contact_id, contact in directory.contacts.items()
        for messenger, chat_id in contact.chats.items()
    ]
    users.sort(key=lambda u: (u.role != ROLE_OFFICER, u.messenger, u.contact_id))
    return users


UsersSource = Sequence[TrainerUser] | Callable[[], Iterable[TrainerUser]]


class Trainer:
    """What the page's handlers share: the fakes' states and who may be played."""

    def __init__(
        self,
        botapi: Mapping[str, BotApiState],
        users: UsersSource,
        *,
        tz: tzinfo = TEHRAN,
        inbox_href: str | None = None,
    ) -> None:
        self.botapi = botapi  # read on every request: the runner may fill it after mounting
        self._users = users
        self.tz = tz
        self.inbox_href = inbox_href

    def users(self) -> list[TrainerUser]:
        source = self._users
        return list(source() if callable(source) else source)

    def state(self, messenger: object) -> BotApiState:
        state = self.botapi.get(str(messenger or ""))
        if state is None:
            known = ", ".join(self.botapi) or "none"
            raise _error(404, f"پیام‌رسان ناشناخته — unknown messenger {messenger!r} ({known})")
        return state

    def bot(self, state: BotApiState) -> FakeBot:
        try:
            return state.bot()
        except LookupError:
            raise _error(409, f"ربات روی {state.name} نیست — no bot on {state.name}") from None

    def chat_id(self, state: BotApiState, value: object) -> int:
        """A chat the fake knows (a listed user not seeded yet is registered now)."""
        try:
            chat_id = int(str(value))
        except ValueError:
            raise _error(400, "شناسهٔ گفت‌وگو عدد نیست — chat_id must be an integer") from None
        if chat_id not in state.chats:
            listed = next(
                (u for u in self.users() if u.messenger == state.name and u.chat_id == chat_id),
                None,
            )
            if listed is None:
                raise _error(404, f"کاربر ناشناخته — unknown user {chat_id} on {state.name}")
            state.add_user(chat_id, listed.name_en)
        return chat_id

    def roster(self) -> JSON:
        """Messengers, and per messenger the listed users plus any other private chat."""
        listed = self.users()
        messengers, users = [], []
        for name, state in self.botapi.items():
            bot = next(iter(state.bots.values()), None)
            messengers.append(
                {
                    "name": name,
                    "label": MESSENGER_NAMES.get(name, name),
                    "bot": bot.user() if bot else None,
                }
            )
            mine = [u for u in listed if u.messenger == name]
            users += [u.as_dict() for u in mine]
            seen = {u.chat_id for u in mine}
            users += [
                TrainerUser(name, c.id, c.first_name, c.first_name, listed=False).as_dict()
                for c in state.chats.values()
                if c.type == "private" and c.id not in seen
            ]
        return {"messengers": messengers, "users": users}

    def conversation(self, state: BotApiState, chat_id: int) -> JSON:
        """The chat between ``chat_id`` and the fake's bot as that user's phone shows it."""
        bot = self.bot(state)
        found = [
            m
            for m in state.messages.values()
            if m.bot_id == bot.id and m.chat_id == chat_id and not m.deleted
        ]
        found.sort(key=lambda m: m.message_id)
        # A user's message the bot has not fetched yet (getUpdates) shows one tick, else two.
        waiting = {u["message"]["message_id"] for u in bot.updates if "message" in u}
        messages = [self._message(m, m.message_id in waiting) for m in found[-HISTORY_LIMIT:]]
        answers = [
            {"id": qid, "text": str(q["answer"]["text"]), "alert": bool(q["answer"]["show_alert"])}
            for qid, q in state.callbacks.items()
            if q["bot_id"] == bot.id
            and q["user_id"] == chat_id
            and q["answer"] is not None
            and q["answer"].get("text")
        ][-TOAST_LIMIT:]
        chat = state.chats[chat_id]
        body: JSON = {
            "messenger": state.name,
            "chat_id": chat_id,
            "name": chat.first_name,
            "bot": bot.user(),
            "pending_updates": len(bot.updates),
            "messages": messages,
            "toasts": answers,
        }
        body["rev"] = hashlib.blake2b(_dumps(body).encode(), digest_size=12).hexdigest()
        return body

    def _message(self, m: FakeMessage, waiting: bool) -> JSON:
        from_bot = bool(m.sender.get("is_bot"))
        if from_bot and str(m.parse_mode or "").lower() == "html":
            html = sanitize_chat_html(m.source)
        else:
            html = escape(m.text)
        return {
            "id": m.message_id,
            "from": "bot" if from_bot else "user",
            "html": html,
            "date": m.date,
            "time": clock(datetime.fromtimestamp(m.date, UTC), "fa", self.tz),
            # Telegram marks a message "edited" when its text changed, not its buttons.
            "edited": any("text" in edit for edit in m.edits),
            "edits": len(m.edits),
            "reply_to": m.reply_to,
            "buttons": _buttons(m.reply_markup) if from_bot else [],
            "fetched": None if from_bot else not waiting,
        }


def _buttons(markup: JSON | None) -> list[list[JSON]]:
    """Inline keyboard rows as the page draws them: callback buttons and safe links."""
    rows = (markup or {}).get("inline_keyboard") or []
    out: list[list[JSON]] = []
    for row in rows if isinstance(rows, list) else []:
        drawn = []
        for button in row if isinstance(row, list) else []:
            if not isinstance(button, dict):
                continue
            text = str(button.get("text", ""))
            if "callback_data" in button:
                drawn.append({"text": text, "data": str(button["callback_data"])})
            elif isinstance(button.get("url"), str) and _safe_href(button["url"]):
                drawn.append({"text": text, "url": button["url"]})
            else:
                drawn.append({"text": text})  # shown, does nothing (web apps, logins, …)
        if drawn:
            out.append(drawn)
    return out


def _button_data(markup: JSON | None) -> set[str]:
    return {b["data"] for row in _buttons(markup) for b in row if "data" in b}


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
        raise _error(400, "پیام خالی است — the message is empty")
    if len(text) > MAX_TEXT:
        raise _error(400, f"پیام بیش از {MAX_TEXT} نویسه است — longer than {MAX_TEXT}")
    update = state.inject_message(chat_id, text, user_id=chat_id, bot=trainer.bot(state))
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
        raise _error(400, "message_id must be an integer") from None
    message = state.messages.get((bot.id, chat_id, message_id))
    if message is None or message.deleted or not message.sender.get("is_bot"):
        raise _error(404, "این پیام دیگر نیست — no such message from the bot")
    if data not in _button_data(message.reply_markup):
        # The bot edited the message meanwhile: Telegram would not deliver this press either.
        raise _error(409, "این دکمه دیگر زیر پیام نیست — that button is no longer there")
    try:
        update = state.inject_callback(chat_id, message_id, data, chat_id=chat_id, bot=bot)
    except BotApiError as exc:
        raise _error(409, exc.description) from None
    query = update["callback_query"]
    return _json({"ok": True, "update_id": update["update_id"], "callback_query_id": query["id"]})


async def _body(request: web.Request) -> JSON:
    if request.content_type != "application/json":
        raise _error(415, "JSON only (Content-Type: application/json)")
    try:
        body = await request.json()
    except ValueError:
        raise _error(400, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise _error(400, "the body must be a JSON object")
    return body


def _json(data: object, status: int = 200) -> web.Response:
    response = web.json_response(data, status=status, dumps=_dumps)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _error(status: int, message: str) -> web.HTTPException:
    """A JSON error the page shows as it is (Persian first, English second)."""
    return _HTTP_ERRORS[status](text=_dumps({"error": message}), content_type="application/json")


_HTTP_ERRORS: dict[int, type[web.HTTPException]] = {
    400: web.HTTPBadRequest,
    404: web.HTTPNotFound,
    409: web.HTTPConflict,
    415: web.HTTPUnsupportedMediaType,
}
_HEADERS = {
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
