"""What crisisd says about a roll call: the call for help and the names never heard from.

Plain text in both languages; :func:`crisisd.planning.planner.plan_notice` escapes it for
each channel, so a person's free-text location is carried as text, never as markup.
"""

from __future__ import annotations

from crisisd.planning.sources import Sources
from crisisd.playbook import Audience, Contact
from crisisd.templates import DRILL_MARK, clean_user_text

SHOWN = 40  # names listed in one report; the rest are counted


def _drill(texts: dict[str, str], drill: bool) -> dict[str, str]:
    if not drill:
        return texts
    return {lang: f"{DRILL_MARK[lang]['short']} {text}" for lang, text in texts.items()}


def help_texts(
    person: Contact, audience: Audience, audience_id: str, location: str, drill: bool
) -> dict[str, str]:
    """🆘 who, their phone, where they said they are."""
    where = clean_user_text(location, 200)
    out = {}
    for lang in ("fa", "en"):
        aud = audience.name.get(lang) if audience.name else audience_id
        phone = person.phone or ("بدون تلفن" if lang == "fa" else "no phone")
        if lang == "fa":
            text = f"🆘 {person.name.fa} ({aud}) در حضور و غیاب گفت کمک لازم دارد. تلفن: {phone}"
            text += f"\nمحل به گفتهٔ خودش: {where}" if where else "\nمحل را ننوشته است."
        else:
            text = f"🆘 {person.name.en} ({aud}) answered the roll call: needs help. Phone: {phone}"
            text += f"\nLocation, in their words: {where}" if where else "\nNo location given."
        out[lang] = text
    return _drill(out, drill)


def missing_texts(lib: Sources, people: list[str], drill: bool) -> dict[str, str]:
    """The names (and phones) of those who did not answer the roll call even when asked again."""
    out = {}
    for lang in ("fa", "en"):
        lines = []
        for cid in people[:SHOWN]:
            c = lib.directory.contacts.get(cid)
            name = c.name.get(lang) if c else cid
            lines.append(f"• {name}" + (f" — {c.phone}" if c and c.phone else ""))
        more = len(people) - SHOWN
        if lang == "fa":
            head = f"⚠️ {len(people)} نفر به حضور و غیاب پاسخ نداده‌اند، حتی پس از پرسش دوباره:"
            tail = f"\nو {more} نفر دیگر (فهرست کامل: /headcount)" if more > 0 else ""
        else:
            head = f"⚠️ {len(people)} people have not answered the roll call, even when asked again:"
            tail = f"\nand {more} more (full list: /headcount)" if more > 0 else ""
        out[lang] = head + "\n" + "\n".join(lines) + tail
    return _drill(out, drill)
