"""What the training chat page shows: the messengers, who may be played, and one person's
conversation with the bot as their phone would show it.

A bot's message is rendered the way its messenger's app renders it
(:mod:`crisisd.sandbox.botapi_render`): on Telegram the text with the entities the fake
parsed from ``parse_mode``; on Bale (no ``parse_mode``) the Markdown in the text, any HTML
tags the bot sent staying visible as characters. All text is escaped on the server.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any

from aiohttp import web

from crisisd.formats.timefmt import TEHRAN, clock
from crisisd.sandbox.botapi_render import render_message, safe_href
from crisisd.sandbox.botapi_state import BotApiState, FakeBot, FakeMessage
from crisisd.sandbox.trainer_users import TrainerUser, UsersSource

JSON = dict[str, Any]
HISTORY_LIMIT = 200  # newest messages a conversation shows
TOAST_LIMIT = 5  # newest answered button presses (the bot's little pop-ups) a chat returns
MESSENGER_NAMES = {"bale": "بله — Bale", "telegram": "تلگرام — Telegram"}
dumps = functools.partial(json.dumps, ensure_ascii=False)


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
            raise http_error(404, f"پیام‌رسان ناشناخته — unknown messenger {messenger!r} ({known})")
        return state

    def bot(self, state: BotApiState) -> FakeBot:
        try:
            return state.bot()
        except LookupError:
            raise http_error(409, f"ربات روی {state.name} نیست — no bot on {state.name}") from None

    def chat_id(self, state: BotApiState, value: object) -> int:
        """A chat the fake knows (a listed user not seeded yet is registered now)."""
        try:
            chat_id = int(str(value))
        except ValueError:
            raise http_error(400, "شناسهٔ گفت‌وگو عدد نیست — chat_id must be an integer") from None
        if chat_id not in state.chats:
            listed = next(
                (u for u in self.users() if u.messenger == state.name and u.chat_id == chat_id),
                None,
            )
            if listed is None:
                raise http_error(404, f"کاربر ناشناخته — unknown user {chat_id} on {state.name}")
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
        messages = [
            self._message(state, m, m.message_id in waiting) for m in found[-HISTORY_LIMIT:]
        ]
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
            "contact_button": contact_button(found),
            "messenger": state.name,
            "chat_id": chat_id,
            "name": chat.first_name,
            "bot": bot.user(),
            "pending_updates": len(bot.updates),
            "messages": messages,
            "toasts": answers,
        }
        body["rev"] = hashlib.blake2b(dumps(body).encode(), digest_size=12).hexdigest()
        return body

    def _message(self, state: BotApiState, m: FakeMessage, waiting: bool) -> JSON:
        from_bot = bool(m.sender.get("is_bot"))
        html = render_message(m, markdown=state.dialect.markdown_text)
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


def contact_button(messages: list[FakeMessage]) -> str | None:
    """The "share my number" button's text while the bot's reply keyboard offers one: the
    bot's newest message that set or removed a reply keyboard decides."""
    for m in reversed(messages):
        markup = m.reply_markup or {}
        if not m.sender.get("is_bot") or not ("keyboard" in markup or "remove_keyboard" in markup):
            continue
        for row in markup.get("keyboard") or []:
            for button in row if isinstance(row, list) else []:
                if isinstance(button, dict) and button.get("request_contact"):
                    return str(button.get("text", ""))
        return None
    return None


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
            elif isinstance(button.get("url"), str) and safe_href(button["url"]):
                drawn.append({"text": text, "url": button["url"]})
            else:
                drawn.append({"text": text})  # shown, does nothing (web apps, logins, …)
        if drawn:
            out.append(drawn)
    return out


def button_data(markup: JSON | None) -> set[str]:
    return {b["data"] for row in _buttons(markup) for b in row if "data" in b}


def http_error(status: int, message: str) -> web.HTTPException:
    """A JSON error the page shows as it is (Persian first, English second)."""
    return _HTTP_ERRORS[status](text=dumps({"error": message}), content_type="application/json")


_HTTP_ERRORS: dict[int, type[web.HTTPException]] = {
    400: web.HTTPBadRequest,
    404: web.HTTPNotFound,
    409: web.HTTPConflict,
    415: web.HTTPUnsupportedMediaType,
}
