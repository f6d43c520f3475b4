"""The fake Bot API's control API (``/_control/…``): what tests and the demo drive.

JSON in, JSON out. ``bot`` is a bot's username or id (default: the first bot).

- ``POST /_control/bots`` {token, username?} serves another bot.
- ``POST /_control/users`` {id, first_name, username?, language_code?, type?, title?,
  started?}: a user (``started: false``: has not started any bot: sends answer 403) or a
  group (``type: "group"``, a negative id).
- ``POST /_control/message`` {chat_id | user_id, text, bot?} and ``POST /_control/callback``
  {user_id, message_id, data, bot?} queue updates.
- ``POST /_control/start`` {user_id, payload?, bot?}: the user opens the bot's deep link
  (``?start=<payload>``) and presses Start: ``/start <payload>``.
- ``POST /_control/open`` {user_id, link}: the user opens a deep link
  (``https://t.me/<bot>?start=…`` or ``https://ble.ir/<bot>?start=…``) of one of the fake's
  bots and presses Start.
- ``POST /_control/contact`` {user_id, phone_number, contact_user_id?, first_name?,
  last_name?, bot?}: the user shares a contact; ``contact_user_id`` defaults to the user's
  own id (a ``request_contact`` button), ``null`` leaves it out (someone else's card).
- ``POST /_control/chat_fault`` {chat_id, fault, retry_after?, count?, to?}: ``rate_limit``
  (the next ``count`` sends, or all, answer 429), ``block``/``unblock`` (403),
  ``not_started`` (403 until the user writes), ``migrate`` (a group becomes the supergroup
  ``to``, default ``-100<id>``: sends answer 400 with ``migrate_to_chat_id``), ``none``.
- ``GET /_control/sent?chat_id=&bot=`` lists what the bots sent (``text`` as sent, ``html``
  as the reader's app shows it); ``GET /_control/callbacks``.
- ``GET|POST /_control/faults`` {mode, rate, count, retry_after, latency_ms, methods?}
  fails every request of the fake (:mod:`crisisd.sandbox.faults`).
- ``GET /_control/stats``; ``POST /_control/block`` {chat_id, blocked?};
  ``POST /_control/reset``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable

from aiohttp import web

from crisisd.sandbox.botapi_state import BOTAPI_STATE, BotApiState, FakeBot
from crisisd.sandbox.botapi_wire import JSON, BotApiError
from crisisd.sandbox.deeplinks import start_link

_dumps = functools.partial(json.dumps, ensure_ascii=False)
Handler = Callable[[BotApiState, JSON, web.Request], object]


def add_control_routes(app: web.Application) -> None:
    """Mount the control API on a fake Bot API application."""
    for methods, path, handler in _CONTROL:
        wrapped = _control(handler)
        for method in methods:
            app.router.add_route(method, path, wrapped)


def _control(handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Wrap a control handler: JSON in, JSON out, errors as 4xx with a readable message."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.Response:
        state = request.app[BOTAPI_STATE]
        body: JSON = {}
        if request.method == "POST" and request.can_read_body:
            try:
                loaded = await request.json()
            except ValueError:
                return web.json_response({"error": "body must be JSON"}, status=400)
            body = loaded if isinstance(loaded, dict) else {}
        try:
            result = handler(state, body, request)
        except BotApiError as exc:
            return web.json_response({"error": exc.description}, status=exc.code, dumps=_dumps)
        except KeyError as exc:
            return web.json_response({"error": f"missing field {exc}"}, status=400)
        except LookupError as exc:
            return web.json_response({"error": str(exc)}, status=404, dumps=_dumps)
        except (TypeError, ValueError) as exc:
            return web.json_response({"error": str(exc)}, status=400, dumps=_dumps)
        return web.json_response(result, dumps=_dumps)

    return wrapped


def _pick_bot(state: BotApiState, body: JSON) -> FakeBot:
    token, name = body.get("token"), body.get("bot")
    return state.bot(str(token) if token else None, str(name) if name else None)


def _bots(state: BotApiState, body: JSON, request: web.Request) -> object:
    if request.method == "POST":
        state.add_bot(
            str(body["token"]), username=body.get("username"), first_name=body.get("first_name")
        )
    return [
        bot.user()
        | {
            "webhook_url": bot.webhook_url,
            "commands": bot.commands,
            "pending_updates": len(bot.updates),
        }
        for bot in state.bots.values()
    ]


def _users(state: BotApiState, body: JSON, request: web.Request) -> object:
    details = {k: v for k, v in body.items() if k not in ("id", "first_name")}
    return state.add_user(int(body["id"]), str(body.get("first_name", "")), **details).chat()


def _message(state: BotApiState, body: JSON, request: web.Request) -> object:
    chat_id = int(body.get("chat_id") or body["user_id"])
    user_id = int(body.get("user_id") or chat_id)
    return state.inject_message(
        chat_id, str(body["text"]), user_id=user_id, bot=_pick_bot(state, body)
    )


def _start(state: BotApiState, body: JSON, request: web.Request) -> object:
    user_id = int(body["user_id"])
    payload = str(body.get("payload") or "")
    return state.inject_start(user_id, payload, bot=_pick_bot(state, body))


def _open(state: BotApiState, body: JSON, request: web.Request) -> object:
    found = start_link(str(body["link"]))
    if found is None:
        raise ValueError("not a bot's deep link (https://t.me/<bot>?start=… or ble.ir)")
    username, payload = found
    return state.inject_start(int(body["user_id"]), payload, bot=state.bot(name=username))


def _contact(state: BotApiState, body: JSON, request: web.Request) -> object:
    user_id = int(body["user_id"])
    own = body.get("contact_user_id", user_id)
    phone = body["phone_number"]  # a number stays one: Bale may send it so
    return state.inject_contact(
        user_id,
        phone if isinstance(phone, int) and not isinstance(phone, bool) else str(phone),
        contact_user_id=int(own) if own is not None else None,
        first_name=body.get("first_name"),
        last_name=body.get("last_name"),
        bot=_pick_bot(state, body),
    )


def _chat_fault(state: BotApiState, body: JSON, request: web.Request) -> object:
    chat_id = int(body["chat_id"])
    options = {k: body[k] for k in ("retry_after", "count", "to") if k in body}
    state.set_fault(chat_id, str(body["fault"]), **options)
    chat = state.chat(chat_id)
    return chat.chat() | {"blocked": chat.blocked, "migrate_to_chat_id": chat.migrated_to}


def _callback(state: BotApiState, body: JSON, request: web.Request) -> object:
    chat_id = body.get("chat_id")
    return state.inject_callback(
        int(body["user_id"]),
        int(body["message_id"]),
        str(body["data"]),
        chat_id=int(chat_id) if chat_id is not None else None,
        bot=_pick_bot(state, body),
    )


def _sent(state: BotApiState, body: JSON, request: web.Request) -> object:
    chat_id = request.query.get("chat_id")
    return state.sent(int(chat_id) if chat_id else None, request.query.get("bot"))


def _callbacks(state: BotApiState, body: JSON, request: web.Request) -> object:
    return state.callbacks


def _faults(state: BotApiState, body: JSON, request: web.Request) -> object:
    if request.method == "GET":
        return _faults_view(state)
    methods = body.pop("methods", None)
    state.faults.update(body)
    state.fault_methods = frozenset(str(m).lower() for m in methods) if methods else None
    return _faults_view(state)


def _faults_view(state: BotApiState) -> JSON:
    methods = sorted(state.fault_methods) if state.fault_methods is not None else None
    return state.faults.as_dict() | {"methods": methods}


def _stats(state: BotApiState, body: JSON, request: web.Request) -> object:
    dialect = state.dialect
    return state.stats.as_dict() | {
        "name": state.name,
        "mode": dialect.mode,
        "bale_strict": dialect.bale_strict,
        "faults_now": _faults_view(state),
    }


def _block(state: BotApiState, body: JSON, request: web.Request) -> object:
    state.block(int(body["chat_id"]), bool(body.get("blocked", True)))
    return {"ok": True}


def _reset(state: BotApiState, body: JSON, request: web.Request) -> object:
    state.reset()
    return {"ok": True}


_CONTROL: list[tuple[tuple[str, ...], str, Handler]] = [
    (("GET", "POST"), "/_control/bots", _bots),
    (("POST",), "/_control/users", _users),
    (("POST",), "/_control/message", _message),
    (("POST",), "/_control/callback", _callback),
    (("POST",), "/_control/start", _start),
    (("POST",), "/_control/open", _open),
    (("POST",), "/_control/contact", _contact),
    (("POST",), "/_control/chat_fault", _chat_fault),
    (("GET",), "/_control/sent", _sent),
    (("GET",), "/_control/callbacks", _callbacks),
    (("GET", "POST"), "/_control/faults", _faults),
    (("GET",), "/_control/stats", _stats),
    (("POST",), "/_control/block", _block),
    (("POST",), "/_control/reset", _reset),
]
