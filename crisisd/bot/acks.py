"""The "Acknowledge" button under alerts (callback data ``ack:<code>``).

Only the person the alert was sent to may press it: the presser is looked up in the
directory by their id on this messenger and must be the message's recipient. The ack is
recorded once (which stops that person's escalation); the button is answered, and the
alert is edited to say when it was acknowledged, without the button. Pressing again
changes nothing.

The stamped alert is the text crisisd sent (the stored chat rendering, in this messenger's
dialect), not the text the messenger echoes back: Bale's echo is its Markdown source, and
editing that in again would show its markers.
"""

from __future__ import annotations

from html import escape

import structlog
from telegram import CallbackQuery, Message, Update

from crisisd.bot.access import Gate
from crisisd.bot.labels import at_clock
from crisisd.bot.replies import edit, toast
from crisisd.bot.runtime import BotRuntime, Ctx
from crisisd.bot.texts import say
from crisisd.channels.base import ACK_CALLBACK_PREFIX
from crisisd.errors import PermissionDeniedError, StoreError, UnknownIncidentError
from crisisd.redaction import redact

log = structlog.get_logger("crisisd.bot")
PATTERN = f"^{ACK_CALLBACK_PREFIX}[0-9a-f]{{1,60}}$"


class AckButton:
    """PTB callback for ack buttons."""

    def __init__(self, rt: BotRuntime, gate: Gate) -> None:
        self.rt = rt
        self.gate = gate

    async def __call__(self, update: Update, context: Ctx) -> None:
        query, user = update.callback_query, update.effective_user
        if query is None or user is None:
            return
        code = (query.data or "").removeprefix(ACK_CALLBACK_PREFIX)
        person = self.gate.person(user)
        if person.contact_id is None:
            await self.gate.refuse(
                update, context, person, "ack", "not_a_contact", key="ack_not_yours"
            )
            return
        try:
            result = await self.rt.ctx.service.acknowledge_code(
                code, via=self.rt.messenger, presser=person.contact_id
            )
        except PermissionDeniedError:
            await self.gate.refuse(
                update, context, person, "ack", "not_the_recipient", key="ack_not_yours"
            )
            return
        except UnknownIncidentError:
            await query.answer(toast(say("ack_unknown", person.lang)), show_alert=True)
            return
        except StoreError as exc:  # not recorded: the person must know to press again
            log.warning("bot.ack_not_recorded", error=redact(str(exc))[:300])
            await query.answer(toast(say("not_recorded", person.lang)), show_alert=True)
            return
        lang = person.lang
        time = at_clock(self.rt.lib, result.at, lang)
        if result.new:
            self.rt.ctx.metrics.acks.labels(self.rt.messenger).inc()
            log.info("bot.ack", incident_id=result.incident_id, recipient=result.recipient)
        await query.answer(toast(say("ack_stamp" if result.new else "ack_again", lang, time=time)))
        await self._stamp(context, query, code, say("ack_stamp", lang, time=time), lang)

    async def _stamp(
        self, context: Ctx, query: CallbackQuery, code: str, stamp: str, lang: str
    ) -> None:
        """The alert as it was sent, plus when it was acknowledged; no button any more."""
        message = query.message
        if not isinstance(message, Message):
            return
        if (message.text or "").rstrip().endswith(stamp):
            return  # pressed again on a client that still showed the button
        row = await self.rt.ctx.store.message_by_ack_code(code)
        if row is not None and "chat" in row.renderings:
            base = row.rendering("chat").text
        elif message.text:
            base = escape(message.text, quote=False)
        else:
            return
        tail = f"\n\n{stamp}"
        await edit(context.bot, message.chat.id, message.message_id, base, lang, tail=tail)
