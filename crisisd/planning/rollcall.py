"""Planning a roll call: the "are you safe?" question to each member of an audience.

Pure, like the rest of planning. A question is an ordinary outbox message of purpose
``roll_call`` (key ``<incident>/roll_call/<round>/<step>/<contact>``), so it is stored with
the incident in one transaction and delivered, retried and failed over like any alert.
Round 0 is the first question; round 1 the re-ask on the person's next channel.

What each channel carries (the words are crisisd's own, not a template: the answers must
be the same everywhere for the replies to be read):

- a messenger: the question; the channel adds two buttons (``rc:<code>:safe|help``);
- SMS: reply codes in the reader's language (``۱ = سالم هستم، ۲ = کمک لازم دارم``) and a
  short signed link (``/v1/rc/<token>``);
- email: one link per answer; each opens a confirm page that answers only on POST.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from html import escape

from crisisd.domain import (
    IncidentFacts,
    PlannedMessage,
    Purpose,
    Rendering,
    channel_kind,
)
from crisisd.formats.textfit import fit_sms, fit_telegram_html, sms_info
from crisisd.formats.timefmt import fa_digits
from crisisd.planning.sources import Sources
from crisisd.playbook import Contact, Playbook
from crisisd.steps import RollCallStep
from crisisd.templates import Rendered, finalize

AckLink = Callable[[str], str]  # message key -> signed ack URL (…/v1/ack/<token>)
ROLL_CALL_PATH = "/v1/rc/"
FIRST, REASK = 0, 1

_QUESTION = {
    "fa": "{factory}: {type}. آیا سالم هستید؟",
    "en": "{factory}: {type}. Are you safe?",
}
_BUTTONS = {
    "fa": "با یکی از دکمه‌های زیر پاسخ دهید.",
    "en": "Answer with one of the buttons below.",
}
_CODES = {
    "fa": "پاسخ دهید: {one} = {safe}، {two} = {help}",
    "en": "Reply {one} = {safe}, {two} = {help}",
}
# Where to write one's location: on the link's page (email), in the SMS reply. A messenger
# button carries the answer only (a typed chat message is not read as a location), so the
# chat question says what pressing 🆘 does instead of asking for something never read.
_WHERE = {
    "fa": "اگر کمک لازم دارید، در صفحه‌ای که باز می‌شود محل خود را هم بنویسید.",
    "en": "If you need help, write where you are on the page that opens.",
}
_WHERE_CHAT = {
    "fa": "با 🆘 نام و تلفن شما همان لحظه به تیم اضطراری می‌رسد.",
    "en": "With 🆘 your name and phone reach the emergency team at once.",
}
_WHERE_SMS = {"fa": " و محل خود", "en": " and where you are"}
_LINK = {"fa": "یا: {url}", "en": "Or: {url}"}
_AGAIN = {
    "fa": "یادآوری: هنوز پاسخ شما نرسیده است.",
    "en": "Reminder: we have no answer from you yet.",
}


def roll_call_url(ack_link: AckLink, key: str) -> str:
    """The signed roll-call link of message ``key``: the ack token under ``/v1/rc/``."""
    return ack_link(key).replace("/v1/ack/", ROLL_CALL_PATH, 1)


def question_key(incident_id: str, round_: int, position: int, member: str) -> str:
    return f"{incident_id}/{Purpose.ROLL_CALL.value}/{round_}/{position}/{member}"


def plan_roll_calls(
    lib: Sources, facts: IncidentFacts, ack_link: AckLink | None
) -> tuple[list[PlannedMessage], list[tuple[str, str]]]:
    """The first question to every member of each roll call of the incident's severity,
    and the (audience, contact) pairs that no channel reaches."""
    pb = lib.playbook(facts.factory)
    sev = pb.plan_for(facts.incident_type, facts.severity)
    out: list[PlannedMessage] = []
    unreachable: list[tuple[str, str]] = []
    for rc in sev.roll_calls:
        aud = pb.audiences[rc.roll_call]
        if facts.drill and (
            aud.external
            or (facts.drill_audiences is not None and rc.roll_call not in facts.drill_audiences)
        ):
            continue
        at = facts.opened_at + rc.after
        for member in dict.fromkeys(aud.members):
            contact = lib.directory.contacts[member]
            channels = lib.usable(contact, rc.channels)
            if not channels:
                unreachable.append((rc.roll_call, member))
            key = question_key(facts.id, FIRST, sev.position(rc), member)
            out.append(question(lib, pb, facts, rc, key, member, channels, at, ack_link))
    return out, unreachable


def question(
    lib: Sources,
    pb: Playbook,
    facts: IncidentFacts,
    rc: RollCallStep,
    key: str,
    member: str,
    channels: tuple[str, ...],
    at: datetime,
    ack_link: AckLink | None,
    again: bool = False,
) -> PlannedMessage:
    """One question to ``member`` on ``channels`` (preference order), going out at ``at``."""
    contact = lib.directory.contacts[member]
    url = roll_call_url(ack_link, key) if ack_link is not None else None
    renderings = {
        kind: _rendering(pb, facts, rc, contact, kind, url, again)
        for kind in dict.fromkeys(channel_kind(c) for c in channels)
    }
    drill_penalty = 100 if facts.drill else 0
    return PlannedMessage(
        key=key,
        incident_id=facts.id,
        purpose=Purpose.ROLL_CALL,
        step=int(key.split("/")[3]),
        audience=rc.roll_call,
        recipient=member,
        lang=contact.lang,
        channels=channels,
        renderings=renderings,
        priority=pb.priority_of(rc.roll_call) + drill_penalty,
        not_before=at,
        drill=facts.drill,
    )


def _rendering(
    pb: Playbook,
    facts: IncidentFacts,
    rc: RollCallStep,
    contact: Contact,
    kind: str,
    url: str | None,
    again: bool,
) -> Rendering:
    lang = contact.lang if contact.lang in _QUESTION else "en"
    ask = _QUESTION[lang].format(
        factory=pb.factory.name.get(lang), type=pb.incidents[facts.incident_type].name.get(lang)
    )
    if again:
        ask = f"{_AGAIN[lang]} {ask}"
    safe, need = rc.answers.safe.get(lang), rc.answers.help.get(lang)
    if kind == "sms":
        return _sms(ask, lang, safe, need, rc.ask_location, url, facts.drill)
    if kind == "chat":
        lines = [f"<b>{escape(ask, quote=False)}</b>", escape(_BUTTONS[lang], quote=False)]
        if rc.ask_location:
            lines.append(escape(_WHERE_CHAT[lang], quote=False))
        done = finalize(Rendered("\n".join(lines)), "chat", lang, facts.drill)
        return Rendering(kind="chat", text=fit_telegram_html(done.text))
    return _email(ask, lang, safe, need, rc.ask_location, url, facts.drill, contact)


def _sms(
    ask: str, lang: str, safe: str, need: str, where: bool, url: str | None, drill: bool
) -> Rendering:
    one, two = ("۱", "۲") if lang == "fa" else ("1", "2")
    codes = _CODES[lang].format(one=one, two=two, safe=safe, help=need)
    if where:
        codes += _WHERE_SMS[lang]
    text = f"{ask} {codes}."
    if url:
        text += " " + _LINK[lang].format(url=url)
    done = finalize(Rendered(text), "sms", lang, drill).text
    body = fit_sms(done, 4)
    return Rendering(kind="sms", text=body, sms_parts=sms_info(body).parts)


def _email(
    ask: str,
    lang: str,
    safe: str,
    need: str,
    where: bool,
    url: str | None,
    drill: bool,
    contact: Contact,
) -> Rendering:
    text_lines, html_lines = [ask], [f"<p><b>{escape(ask)}</b></p>"]
    for word, answer in ((f"✅ {safe}", "safe"), (f"🆘 {need}", "help")):
        if url:
            text_lines.append(f"{word}: {url}?a={answer}")
            html_lines.append(f'<p><a href="{escape(url)}?a={answer}">{escape(word)}</a></p>')
    if where:
        text_lines.append(_WHERE[lang])
        html_lines.append(f"<p>{escape(_WHERE[lang])}</p>")
    rendered = Rendered("\n\n".join(text_lines), subject=ask, html="\n".join(html_lines))
    done = finalize(rendered, "email", lang, drill)
    return Rendering(
        kind="email",
        text=done.text,
        subject=done.subject,
        html=done.html,
        to_name=contact.name.get(lang),
    )


def reask_channels(channels: Iterable[str], last: str | None) -> tuple[str, ...]:
    """``channels`` starting from the one after ``last`` (wrapping round): a re-ask tries
    the person's next channel first, and the others after it."""
    order = tuple(channels)
    if last not in order:
        return order
    i = order.index(last) + 1
    return order[i:] + order[:i]


def persian_count(n: int, lang: str) -> str:
    return fa_digits(n) if lang == "fa" else str(n)
