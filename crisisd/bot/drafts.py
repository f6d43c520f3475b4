"""The state of one officer's conversation: what they chose so far, and its buttons.

Every button of a conversation carries the draft's nonce (``c:<nonce>:<action>[:<n>]``),
so a button left over from an earlier step or an earlier report does nothing but say so.
Choices are sent as indices into ``Draft.choices``: callback data stays within 64 bytes
whatever the playbook's ids are.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from enum import IntEnum

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from crisisd.bot import replies
from crisisd.bot.runtime import Bot, Ctx
from crisisd.bot.texts import say

PREFIX = "c:"


class State(IntEnum):
    FACTORY = 1
    TYPE = 2
    SEVERITY = 3
    DUPLICATE = 4
    DETAILS = 5
    CONFIRM = 6


@dataclass(slots=True)
class Draft:
    """One conversation: a report, a drill, or an action on an incident."""

    kind: str  # report | drill | update | resolve | takeover
    lang: str
    chat_id: int
    reporter: str = ""  # the officer's contact id
    nonce: str = field(default_factory=lambda: secrets.token_hex(4))
    factory: str | None = None
    incident_type: str | None = None
    severity: str | None = None
    details: str = ""
    incident_id: str | None = None
    drill_audiences: tuple[str, ...] | None = None
    choices: list[str] = field(default_factory=list)
    message_id: int | None = None  # the message whose buttons are live
    shown: str = ""  # its text (HTML), to take the buttons off where keyboards cannot be edited
    not_duplicates: set[str] = field(default_factory=set)  # "a new incident" was chosen

    def showing(self, message_id: int | None, html: str) -> None:
        """``message_id`` (with text ``html``) now carries the live buttons."""
        self.message_id, self.shown = message_id, html

    def data(self, action: str, index: int | None = None) -> str:
        suffix = "" if index is None else f":{index}"
        return f"{PREFIX}{self.nonce}:{action}{suffix}"

    def button(self, label: str, action: str, index: int | None = None) -> InlineKeyboardButton:
        return InlineKeyboardButton(label, callback_data=self.data(action, index))

    def pick(self, labels: list[str], action: str, per_row: int = 2) -> InlineKeyboardMarkup:
        """One button per choice (``choices`` must be set in the same order), then Cancel."""
        buttons = [self.button(label, action, i) for i, label in enumerate(labels)]
        rows = [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]
        return InlineKeyboardMarkup([*rows, [self.button(say("btn_cancel", self.lang), "x")]])

    def cancel_only(self, back: bool = False) -> InlineKeyboardMarkup:
        row = [self.button(say("btn_cancel", self.lang), "x")]
        if back:
            row.insert(0, self.button(say("btn_back", self.lang), "b"))
        return InlineKeyboardMarkup([row])

    def confirm(self) -> InlineKeyboardMarkup:
        first = [self.button(say("btn_confirm", self.lang), "ok")]
        second = [self.button(say("btn_cancel", self.lang), "x")]
        if self.kind in ("report", "update"):  # the text they wrote can be rewritten
            second.insert(0, self.button(say("btn_edit", self.lang), "e"))
        return InlineKeyboardMarkup([first, second])


def draft_of(context: Ctx) -> Draft | None:
    data = context.user_data
    found = data.get("draft") if data is not None else None
    return found if isinstance(found, Draft) else None


def keep(context: Ctx, draft: Draft) -> None:
    if context.user_data is not None:
        context.user_data["draft"] = draft


def drop(context: Ctx) -> Draft | None:
    found = draft_of(context)
    if context.user_data is not None:
        context.user_data.pop("draft", None)
    return found


def parse(data: str | None) -> tuple[str, str, int | None]:
    """(nonce, action, index) of a conversation button."""
    parts = (data or "").removeprefix(PREFIX).split(":")
    nonce = parts[0] if parts else ""
    action = parts[1] if len(parts) > 1 else ""
    index = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else None
    return nonce, action, index


async def pressed(update: Update, context: Ctx) -> tuple[Draft, str, int | None] | None:
    """The live draft and the action of a button press; None (after saying so) when the
    button is from an earlier step."""
    query = update.callback_query
    if query is None:
        return None
    draft = draft_of(context)
    nonce, action, index = parse(query.data)
    message = query.message
    live = draft is not None and draft.nonce == nonce
    if (
        draft is None
        or not live
        or (message is not None and message.message_id != draft.message_id)
    ):
        lang = draft.lang if draft else "fa"
        await query.answer(replies.toast(say("stale_button", lang)))
        return None
    await query.answer()
    return draft, action, index


async def unbutton(bot: Bot, draft: Draft) -> None:
    """Take the buttons off the draft's live message (best effort)."""
    await replies.unbutton(bot, draft.chat_id, draft.message_id, draft.shown or None, draft.lang)
