"""The one ConversationHandler: /report, /update, /resolve, /takeover and /drill share its
states (a duplicate report can turn into an update mid-way), Cancel and the timeout.

Conversations are kept per user and chat (``per_message=False``); PTB warns that button
presses are then not tracked per message, which is what the drafts' nonces are for: a
button from an older message is answered "from an earlier step" and does nothing.
"""

from __future__ import annotations

import warnings
from datetime import timedelta

from telegram import Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from crisisd.bot.actions import ActionFlow
from crisisd.bot.drafts import PREFIX, State, draft_of, drop, pressed, unbutton
from crisisd.bot.replies import send, toast
from crisisd.bot.report import ReportFlow
from crisisd.bot.runtime import BotRuntime, Ctx
from crisisd.bot.texts import say
from crisisd.formats.timefmt import duration_words

END = ConversationHandler.END
TEXT = filters.TEXT & ~filters.COMMAND


def _button(callback: object, actions: str) -> CallbackQueryHandler[Ctx, object]:
    return CallbackQueryHandler(callback, pattern=rf"^{PREFIX}[0-9a-f]+:(?:{actions})(?::\d+)?$")  # type: ignore[arg-type]


class Common:
    """Cancel, timeout, stale buttons and stray text inside a conversation."""

    def __init__(self, rt: BotRuntime) -> None:
        self.rt = rt

    async def cancel(self, update: Update, context: Ctx) -> int | None:
        if update.callback_query is not None and await pressed(update, context) is None:
            return None  # a Cancel button on an older message: the live draft stays
        draft = drop(context)  # (a live button press was answered by pressed())
        chat = update.effective_chat
        lang = draft.lang if draft else "fa"
        if draft is not None:
            await unbutton(context.bot, draft)
        if chat is not None:
            await send(context.bot, chat.id, say("cancelled", lang), lang)
        return END

    async def timeout(self, update: object, context: Ctx) -> None:
        draft = drop(context)
        if draft is None:
            return
        await unbutton(context.bot, draft)
        minutes = duration_words(
            timedelta(seconds=self.rt.settings.conversation_timeout), draft.lang
        )
        await send(
            context.bot, draft.chat_id, say("timed_out", draft.lang, minutes=minutes), draft.lang
        )

    async def stale(self, update: Update, context: Ctx) -> None:
        """A conversation button that fits no step: say so, stay where we are."""
        if update.callback_query is not None:
            await update.callback_query.answer(toast(say("stale_button", _lang(context))))

    async def stray_text(self, update: Update, context: Ctx) -> None:
        chat = update.effective_chat
        if chat is not None:
            lang = _lang(context)
            await send(context.bot, chat.id, say("use_buttons", lang), lang)


def _lang(context: Ctx) -> str:
    draft = draft_of(context)
    return draft.lang if draft else "fa"


def build_conversation(
    rt: BotRuntime, report: ReportFlow, actions: ActionFlow
) -> ConversationHandler[Ctx]:
    common = Common(rt)
    entry: list[BaseHandler[Update, Ctx, object]] = [
        CommandHandler("report", report.start),
        CommandHandler("update", actions.update_start),
        CommandHandler("resolve", actions.resolve_start),
        CommandHandler("takeover", actions.takeover_start),
        CommandHandler("drill", actions.drill_start),
    ]
    states: dict[object, list[BaseHandler[Update, Ctx, object]]] = {
        State.FACTORY: [_button(report.on_factory, "f")],
        State.TYPE: [_button(report.on_type, "t")],
        State.SEVERITY: [_button(report.on_severity, "s")],
        State.DUPLICATE: [_button(report.on_duplicate, "u|n")],
        State.DETAILS: [MessageHandler(TEXT, report.on_details), _button(report.on_back, "b")],
        State.CONFIRM: [_button(actions.on_confirm, "ok"), _button(report.on_edit, "e")],
        ConversationHandler.TIMEOUT: [TypeHandler(Update, common.timeout)],
    }
    fallbacks: list[BaseHandler[Update, Ctx, object]] = [
        CommandHandler("cancel", common.cancel),
        _button(common.cancel, "x"),
        CallbackQueryHandler(common.stale, pattern=f"^{PREFIX}"),
        MessageHandler(TEXT, common.stray_text),
    ]
    with warnings.catch_warnings():
        # per_message=False on purpose (see the module docstring): the nonce does that job.
        warnings.filterwarnings("ignore", "If 'per_message=False'", PTBUserWarning)
        return ConversationHandler(
            entry_points=entry,
            states=states,
            fallbacks=fallbacks,
            allow_reentry=True,
            per_chat=True,
            per_user=True,
            per_message=False,
            conversation_timeout=rt.settings.conversation_timeout,
            name=f"officer-{rt.messenger}",
        )
