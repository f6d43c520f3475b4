"""An update worded per group and language, and its preview.

After the first text (which goes to everyone), the officer may word it apart for a group
(staff and management, authorities, press) in a language its readers read, or in the
other language for everyone — one optional, skippable step listing only the groups and
languages this update reaches. The preview then says who gets it at what time: an
audience whose first statement is not due yet gets the update right after it, unless the
officer confirms with "send now".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from html import escape

from telegram import InlineKeyboardMarkup, Update

from crisisd.bot.drafts import Draft, State, draft_of, pressed, unbutton
from crisisd.bot.dryrun import update_plan
from crisisd.bot.previews import update_preview
from crisisd.bot.runtime import BotRuntime, Ctx
from crisisd.bot.texts import LANG_NAMES, Html, norm, say
from crisisd.channels.dialects import fit
from crisisd.domain import DETAILS_LIMIT, AudienceGroup, UpdateTexts
from crisisd.templates import clean_user_text

GROUPS = [g.value for g in AudienceGroup]
ALL = "all"
SHOWN = 300  # units of a text quoted back in the menu
Show = Callable[[Ctx, Draft, str, InlineKeyboardMarkup], Awaitable[None]]
Preview = Callable[[Ctx, Draft], Awaitable[int]]


def update_texts(draft: Draft) -> str | UpdateTexts:
    """What the incident service is given: the one text, or a text per group and language
    (each falling back to the officer's own text in their language)."""
    if not draft.texts:
        return draft.details
    own, other = norm(draft.lang), "en" if norm(draft.lang) == "fa" else "fa"
    common = {own: draft.details, other: draft.texts.get((ALL, other), "")}
    groups = {
        g: {
            lang: text
            for lang in (own, other)
            if (text := draft.texts.get((g, lang)) or common[lang])
        }
        for g in GROUPS
    }
    return UpdateTexts(common=draft.details, groups=groups)


class UpdateWording:
    """The wording step of /update (State.WORDING, State.GROUP_TEXT) and its preview."""

    def __init__(self, rt: BotRuntime, show: Show, preview: Preview) -> None:
        self.rt = rt
        self.show = show
        self.to_preview = preview

    async def _targets(self, draft: Draft) -> list[tuple[str, str]]:
        """(group, language) pairs this update reaches; (all, other language) first when
        readers of the other language are in more than one group."""
        assert draft.incident_id is not None
        store, now = self.rt.ctx.store, self.rt.now()
        row = await store.get_incident(draft.incident_id)
        if row is None:
            return []
        msgs = await store.messages_of(row.id)
        plan = update_plan(self.rt.ctx.service, row, msgs, draft.details, now)
        pb = self.rt.lib.playbook(row.factory)
        reached = {(pb.group_of(m.audience), m.lang) for m in plan.messages}
        pairs = [(g, lang) for g in GROUPS for lang in ("fa", "en") if (g, lang) in reached]
        other = "en" if norm(draft.lang) == "fa" else "fa"
        if len({g for g, lang in pairs if lang == other}) > 1:
            pairs.insert(0, (ALL, other))
        return pairs

    def _label(self, target: tuple[str, str], lang: str) -> tuple[Html, str]:
        group, language = target
        return say(f"group_{group}", lang), LANG_NAMES[norm(lang)][language]

    async def ask(self, context: Ctx, draft: Draft) -> int:
        """The menu under the text just written (a new message)."""
        targets = await self._targets(draft)
        draft.choices = [f"{g}:{lang}" for g, lang in targets]
        buttons = []
        for i, target in enumerate(targets):
            group, language = self._label(target, draft.lang)
            label = say("btn_word_for", draft.lang, group=group, language=language)
            buttons.append(draft.button(label, "w", i))
        rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
        markup = InlineKeyboardMarkup(
            [
                [draft.button(say("btn_preview", draft.lang), "p")],
                *rows,
                [draft.button(say("btn_cancel", draft.lang), "x")],
            ]
        )
        written = ""
        if draft.texts:
            written = say("wording_written", draft.lang)
            for target, text in draft.texts.items():
                group, language = self._label(target, draft.lang)
                quoted = Html(fit(escape(text, quote=False), self.rt.dialect, 80))
                written += say(
                    "wording_line", draft.lang, group=group, language=language, text=quoted
                )
        quoted = Html(fit(escape(draft.details, quote=False), self.rt.dialect, SHOWN))
        text = say("ask_wording", draft.lang, text=quoted, written=Html(written))
        draft.showing(None, "")  # under what they typed
        await self.show(context, draft, text, markup)
        return State.WORDING

    async def on_target(self, update: Update, context: Ctx) -> int | None:
        got = await pressed(update, context)
        if got is None:
            return None
        draft, _action, index = got
        if index is None or not 0 <= index < len(draft.choices):
            return None
        group, _, language = draft.choices[index].partition(":")
        draft.writing = (group, language)
        name, language_name = self._label(draft.writing, draft.lang)
        text = say(
            "ask_group_text", draft.lang, group=name, language=language_name, limit=DETAILS_LIMIT
        )
        await self.show(context, draft, text, draft.cancel_only())
        return State.GROUP_TEXT

    async def on_text(self, update: Update, context: Ctx) -> int | None:
        draft, message = draft_of(context), update.effective_message
        if draft is None or message is None or draft.writing is None:
            return None
        text = clean_user_text(message.text or "", DETAILS_LIMIT)
        if not text:
            return None
        draft.texts[draft.writing] = text
        draft.writing = None
        await unbutton(context.bot, draft)
        return await self.ask(context, draft)

    async def on_preview(self, update: Update, context: Ctx) -> int | None:
        got = await pressed(update, context)
        if got is None:
            return None
        await unbutton(context.bot, got[0])
        return await self.to_preview(context, got[0])

    async def preview(self, draft: Draft) -> tuple[str, bool] | None:
        """The update's preview, and whether some audience would get it later than now."""
        assert draft.incident_id is not None
        store, now = self.rt.ctx.store, self.rt.now()
        row = await store.get_incident(draft.incident_id)
        if row is None:
            return None
        msgs = await store.messages_of(row.id)
        plan = update_plan(self.rt.ctx.service, row, msgs, update_texts(draft), now)
        title = say("update_title", draft.lang, number=row.update_number + 1, id=row.id)
        return update_preview(
            self.rt.lib, row.factory, title, plan, draft.lang, now, self.rt.dialect
        )
