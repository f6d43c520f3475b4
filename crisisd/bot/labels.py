"""Names of things as an officer reads them: factories, incident types, severities, audiences,
people and times, from the playbooks, in the reader's language."""

from __future__ import annotations

from datetime import datetime

from crisisd.bot.texts import norm
from crisisd.formats.timefmt import clock, local_date
from crisisd.library.model import Library
from crisisd.planning.render import SEVERITY_NAMES


def factory_name(lib: Library, factory: str, lang: str) -> str:
    pb = lib.playbooks.get(factory)
    return pb.factory.name.get(norm(lang)) if pb else factory


def type_name(lib: Library, factory: str, incident_type: str, lang: str) -> str:
    pb = lib.playbooks.get(factory)
    if pb is None or incident_type not in pb.incidents:
        return incident_type
    return pb.incidents[incident_type].name.get(norm(lang))


def severity_name(severity: str, lang: str) -> str:
    return SEVERITY_NAMES.get(severity, {}).get(norm(lang), severity)


# Names for the usual audience keys when a playbook gives none (`name:` unset).
AUDIENCE_NAMES = {
    "emergency_team": {"fa": "تیم واکنش اضطراری", "en": "emergency team"},
    "management": {"fa": "مدیران", "en": "management"},
    "staff": {"fa": "کارکنان", "en": "staff"},
    "families": {"fa": "خانواده‌ها", "en": "families"},
    "authorities": {"fa": "مراجع رسمی", "en": "authorities"},
    "press": {"fa": "رسانه‌ها", "en": "press"},
}


def audience_name(lib: Library, factory: str, audience: str, lang: str) -> str:
    pb = lib.playbooks.get(factory)
    aud = pb.audiences.get(audience) if pb else None
    if aud is not None and aud.name is not None:
        return aud.name.get(norm(lang))
    known = AUDIENCE_NAMES.get(audience)
    if known is not None:
        return known[norm(lang)]
    # An unnamed audience of the operator's own: its key is all there is to tell it by.
    return audience.replace("_", " ") if norm(lang) == "en" else f"گروه «{audience}»"


def person_name(lib: Library, contact_id: str, lang: str) -> str:
    contact = lib.directory.contacts.get(contact_id)
    return contact.name.get(norm(lang)) if contact else contact_id


def when(lib: Library, at: datetime, lang: str) -> str:
    """A moment in the reader's calendar and the daemon's zone."""
    return local_date(at, norm(lang), tz=lib.config.zone)


def at_clock(lib: Library, at: datetime, lang: str) -> str:
    return clock(at, norm(lang), tz=lib.config.zone)
