"""Rendering one template for one person and one channel kind, fitted to its limits.

:func:`template_context` is everything a template sees (tools/docsgen documents it and a
test keeps the two equal); user text reaches it cleaned and is never a template itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from crisisd.domain import DETAILS_LIMIT, LOCATION_LIMIT, IncidentFacts, Rendering
from crisisd.errors import TemplateRenderError
from crisisd.formats.textfit import fit_sms, fit_telegram_html, sms_info
from crisisd.planning.sources import Sources
from crisisd.playbook import Contact, Playbook
from crisisd.templates import Kind, finalize, marked_user_text

SINK_NOTE = {
    "fa": "در حالت واقعی این پیام برای «{aud}» ({n} نفر) فرستاده می‌شد:",
    "en": "In a real incident this would go to “{aud}” ({n} recipients):",
}


@dataclass(frozen=True, slots=True)
class MessageExtras:
    """What one message adds to its template's context beyond the incident and the person."""

    ack_required: bool = False
    ack_url: str | None = None  # signed link that acknowledges this message
    next_update: datetime | None = None  # when the next public update is promised


def template_context(
    lib: Sources,
    pb: Playbook,
    facts: IncidentFacts,
    contact: Contact,
    audience: str,
    extra: MessageExtras,
) -> dict[str, Any]:
    """What a template sees. Values are plain data; user text is never a template."""
    lang = contact.lang
    itype = pb.incidents[facts.incident_type]
    officer = lib.directory.contacts.get(facts.reporter)
    aud = pb.audiences[audience]
    takeover = pb.statements.takeover
    return {
        "lang": lang,
        "drill": facts.drill,
        "incident": {
            "id": facts.id,
            "type": facts.incident_type,
            "type_name": itype.name.get(lang),
            "severity": facts.severity,
            "severity_name": _severity_name(facts.severity, lang),
            # Cleaned again here: the planner never trusts its caller with user text.
            "details": marked_user_text(facts.details, DETAILS_LIMIT, lang),
            "location": _location(pb, facts.location, lang),
            "casualties": facts.casualties.value,  # none | injured | fatalities | unknown
            "casualties_count": facts.casualties_count,  # a number, or None when not known
            "opened_at": facts.opened_at.astimezone(lib.config.zone),
            "status": facts.status.value,
        },
        "factory": {"id": pb.factory.id, "name": pb.factory.name.get(lang)},
        "officer": {
            "name": officer.name.get(lang) if officer else "",
            "phone": (officer.phone or "") if officer else "",
            "email": (officer.email or "") if officer else "",
        },
        "recipient": {"name": contact.name.get(lang), "lang": lang},
        "audience": {"id": audience, "name": aud.name.get(lang) if aud.name else audience},
        "update": {
            "number": facts.update_number,
            "details": marked_user_text(facts.update_details, DETAILS_LIMIT, lang),
        },
        "takeover": {
            "spokesperson": takeover.spokesperson.get(lang),
            "phone": takeover.phone or "",
        },
        "update_every": pb.plan_for(facts.incident_type, facts.severity).update_every,
        "next_update": extra.next_update,
        "ack_required": extra.ack_required,
        "ack_url": extra.ack_url,
    }


def _location(pb: Playbook, place: str, lang: str) -> str:
    """A place from the playbook's list in the reader's language; a typed one as typed."""
    known = next((n for n in pb.factory.locations if place and place in (n.fa, n.en)), None)
    return known.get(lang) if known else marked_user_text(place, LOCATION_LIMIT, lang)


SEVERITY_NAMES = {
    "minor": {"fa": "جزئی", "en": "minor"},
    "major": {"fa": "جدی", "en": "major"},
    "critical": {"fa": "بحرانی", "en": "critical"},
}


def _severity_name(severity: str, lang: str) -> str:
    return SEVERITY_NAMES.get(severity, {}).get(lang, severity)


class _Watched(dict[str, Any]):
    """The ``recipient`` a template sees, noting whether the template read it at all."""

    seen = False

    def _saw(self) -> None:
        self.seen = True

    def __getitem__(self, key: str) -> Any:
        self._saw()
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self._saw()
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self._saw()
        return super().__contains__(key)

    def __iter__(self) -> Iterator[str]:
        self._saw()
        return super().__iter__()

    def __len__(self) -> int:
        self._saw()
        return super().__len__()

    def __eq__(self, other: object) -> bool:
        self._saw()
        return super().__eq__(other)

    def __repr__(self) -> str:
        self._saw()
        return super().__repr__()

    __str__ = __repr__

    def items(self) -> Any:
        self._saw()
        return super().items()

    def keys(self) -> Any:
        self._saw()
        return super().keys()

    def values(self) -> Any:
        self._saw()
        return super().values()


class RenderMemo:
    """Renderings shared, within one plan, by recipients whose rendering cannot differ.

    A province-wide alert renders the same template for 100,000 people; unless the
    template reads ``recipient`` (a name in a greeting) or the message carries its own
    ack link, everyone's text is the same. The first rendering of each (template, kind,
    language, audience, extras) watches whether the template read ``recipient``; if it
    did not, the rest reuse it (with their own name in email's To).
    """

    def __init__(self) -> None:
        self._done: dict[tuple[Any, ...], Rendering] = {}
        self._personal: set[tuple[Any, ...]] = set()
        self._bundles: dict[tuple[tuple[str, int], ...], dict[str, Rendering]] = {}

    def bundle(self, renderings: dict[str, Rendering]) -> dict[str, Rendering]:
        """One dict for every message whose renderings are the very same ones (messages
        never change theirs): 100,000 messages share a few instead of holding their own."""
        key = tuple((kind, id(r)) for kind, r in renderings.items())
        return self._bundles.setdefault(key, renderings)  # the memo keeps each r alive

    def find(self, key: tuple[Any, ...], contact: Contact, kind: str) -> Rendering | None:
        found = self._done.get(key)
        if found is None or kind != "email":
            return found
        return replace(found, to_name=contact.name.get(contact.lang))

    def keep(self, key: tuple[Any, ...], rendering: Rendering, personal: bool) -> None:
        if personal:
            self._personal.add(key)
        else:
            self._done[key] = rendering


def render_one(
    lib: Sources,
    pb: Playbook,
    facts: IncidentFacts,
    template: str,
    kind: str,
    contact: Contact,
    audience: str,
    sms_budget: int,
    extra: MessageExtras,
    sink: tuple[str, int] | None = None,
    note: str = "",
    memo: RenderMemo | None = None,
) -> Rendering:
    """Render one template for one person and one channel kind, fitted to its limits.

    With ``memo``, a rendering that cannot differ from one made for someone else of the
    same plan is reused (see :class:`RenderMemo`).
    """
    key = (template, kind, contact.lang, audience, sms_budget, extra, sink, note)
    if memo is not None and extra.ack_url is None:
        found = memo.find(key, contact, kind)
        if found is not None:
            return found
    else:
        memo = None  # a message with its own ack link is rendered for itself
    rendering, personal = _render(
        lib, pb, facts, template, kind, contact, audience, sms_budget, extra, sink, note
    )
    if memo is not None:
        memo.keep(key, rendering, personal)
    return rendering


def _render(
    lib: Sources,
    pb: Playbook,
    facts: IncidentFacts,
    template: str,
    kind: str,
    contact: Contact,
    audience: str,
    sms_budget: int,
    extra: MessageExtras,
    sink: tuple[str, int] | None,
    note: str,
) -> tuple[Rendering, bool]:
    """The rendering, and whether the template read ``recipient``."""
    lang = contact.lang
    k: Kind = kind  # type: ignore[assignment]
    ref = lib.templates.find(lang, template, k) or lib.templates.find(pb.factory.lang, template, k)
    if ref is None:
        raise TemplateRenderError(f"templates/{lang}/{template}.{kind}.j2", 1, "template not found")
    context = template_context(lib, pb, facts, contact, audience, extra)
    watched = context["recipient"] = _Watched(context["recipient"])
    preface = note
    if sink is not None:
        aud = pb.audiences[sink[0]]
        name = aud.name.get(lang) if aud.name else sink[0]
        preface = SINK_NOTE.get(lang, SINK_NOTE["en"]).format(aud=name, n=sink[1])
    out = finalize(lib.templates.render(ref, context), k, lang, facts.drill, preface)
    text, html, truncated = out.text, out.html, False
    if kind == "sms":
        fitted = fit_sms(text, sms_budget)
        truncated = fitted != text
        text = fitted
    elif kind == "chat":
        fitted = fit_telegram_html(text)
        truncated = fitted != text
        text = fitted
    sender = pb.factory.sender_name
    rendering = Rendering(
        kind=kind,
        text=text,
        subject=out.subject,
        html=html,
        template=ref.rel,
        sha256=ref.sha256,
        sms_parts=sms_info(text).parts if kind == "sms" else 0,
        truncated=truncated,
        to_name=contact.name.get(lang) if kind == "email" else "",
        from_name=sender.get(lang) if kind == "email" and sender is not None else "",
    )
    return rendering, watched.seen
