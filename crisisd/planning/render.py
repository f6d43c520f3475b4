"""Rendering one template for one person and one channel kind, fitted to its limits.

:func:`template_context` is everything a template sees (tools/docsgen documents it and a
test keeps the two equal); user text reaches it cleaned and is never a template itself.
"""

from __future__ import annotations

from dataclasses import dataclass
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
            "location": marked_user_text(facts.location, LOCATION_LIMIT, lang),
            "casualties": facts.casualties.value,
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


SEVERITY_NAMES = {
    "minor": {"fa": "جزئی", "en": "minor"},
    "major": {"fa": "جدی", "en": "major"},
    "critical": {"fa": "بحرانی", "en": "critical"},
}


def _severity_name(severity: str, lang: str) -> str:
    return SEVERITY_NAMES.get(severity, {}).get(lang, severity)


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
) -> Rendering:
    """Render one template for one person and one channel kind, fitted to its limits."""
    lang = contact.lang
    k: Kind = kind  # type: ignore[assignment]
    ref = lib.templates.find(lang, template, k) or lib.templates.find(pb.factory.lang, template, k)
    if ref is None:
        raise TemplateRenderError(f"templates/{lang}/{template}.{kind}.j2", 1, "template not found")
    context = template_context(lib, pb, facts, contact, audience, extra)
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
    return Rendering(
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
