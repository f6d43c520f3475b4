"""Warnings: set-up mistakes that leave a person unreached or surprised, not broken files.

None of them stops the daemon; `crisisd validate` lists them beside the errors, and the
daemon logs them at start and at every reload:

- a landline as someone's only phone: it cannot receive SMS (phonenumbers' number type);
- an officer with no messenger chat: the bot cannot reach them until they enrol;
- Arabic ي/ك in a name: normalised to Persian ی/ک (searches and sorting would miss it);
- a messenger that contacts or playbook steps name but config.yaml does not configure: its
  chat ids are ignored and steps skip it (one warning per file, not one per line);
- one phone number for several contacts: enrolment by phone cannot tell them apart;
- one chat id for several contacts on a messenger: their alerts share one chat, and only
  the first listed can acknowledge them with the button.

`crisisd validate --reach` adds :func:`reach_warnings`, which reads the store's bindings:
an audience that must acknowledge with members its step's messengers reach none of.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from crisisd.formats.phones import is_landline
from crisisd.library.model import Library
from crisisd.parsing.yamlsource import Document, Loc
from crisisd.problems import Problem

ARABIC_LETTERS = ("ي", "ك")


def advise(lib: Library) -> list[Problem]:
    """Every warning about the loaded set, in file order."""
    out: list[Problem] = []
    doc = lib.directory_doc
    if doc is not None:
        out.extend(_landlines(lib, doc))
        out.extend(_arabic_letters(doc))
        out.extend(_unconfigured_chats(lib, doc))
        out.extend(_shared_phones(lib, doc))
        out.extend(_shared_chats(lib, doc))
    for fid in lib.playbooks:
        pdoc = lib.documents[fid]
        out.extend(_officers_without_chat(lib, fid, pdoc))
        out.extend(_arabic_letters(pdoc))
        out.extend(_unconfigured_steps(lib, pdoc))
    return out


def _warn(doc: Document, loc: Loc, message: str, hint: str) -> Problem:
    line, col = doc.pos(loc)
    found = doc.problem(loc, message, hint)
    return Problem(found.path, line, col, found.where, message, hint, severity="warning")


def _landlines(lib: Library, doc: Document) -> Iterator[Problem]:
    for cid, contact in lib.directory.contacts.items():
        if contact.phone is None:
            continue
        if is_landline(contact.phone):
            yield _warn(
                doc,
                ("contacts", cid, "phone"),
                f"{contact.phone} is a landline: it cannot receive SMS",
                "give a mobile number (09…) for SMS alerts, or reach this contact by email"
                if contact.email is None
                else "SMS to this contact will fail; email still reaches them",
            )


def _officers_without_chat(lib: Library, fid: str, doc: Document) -> Iterator[Problem]:
    configured = set(lib.config.messenger_names())
    for i, officer in enumerate(lib.playbooks[fid].factory.officers):
        contact = lib.directory.contacts.get(officer)
        if contact is not None and not (set(contact.chats) & configured):
            yield _warn(
                doc,
                ("factory", "officers", i),
                f"officer '{officer}' has no chat on a configured messenger: the bot cannot "
                "reach them (previews, progress, escalation notices)",
                "ask them to send /start to the bot, or add their chat id under chats:",
            )


def reads_as_typed(entry: Any) -> bool:
    """Whether these warnings read a directory entry as it was typed (not as its model):
    Arabic ي/ك anywhere in it. The loader keeps such an entry for them."""
    if isinstance(entry, str):
        return any(ch in entry for ch in ARABIC_LETTERS)
    if isinstance(entry, dict):
        entry = entry.values()
    elif not isinstance(entry, list):
        return False
    return any(reads_as_typed(value) for value in entry if not isinstance(value, int | None))


def _texts(data: Any, keep: Callable[[Any, Any], bool], loc: Loc = ()) -> Iterator[tuple[Loc, str]]:
    """(place, text) of every text in ``data`` that ``keep(parent's key, its key)`` wants,
    in file order. Only containers are descended into: a province's playbooks hold
    ~200,000 member ids, each a leaf looked at once."""
    parent = loc[-1] if loc else None
    items = data.items() if isinstance(data, dict) else enumerate(data)
    for key, value in items:
        if isinstance(value, str):
            if keep(parent, key):
                yield (*loc, key), value
        elif isinstance(value, dict | list):
            yield from _texts(value, keep, (*loc, key))


def _arabic_letters(doc: Document) -> Iterator[Problem]:
    if not isinstance(doc.data, dict | list):
        return
    for loc, text in _texts(doc.data, lambda _parent, key: key == "fa"):
        if any(ch in text for ch in ARABIC_LETTERS):
            yield _warn(
                doc,
                loc,
                "Arabic ي/ك in a Persian name: read as Persian ی/ک",
                "retype it with a Persian keyboard to silence this note",
            )


def _unconfigured_chats(lib: Library, doc: Document) -> Iterator[Problem]:
    configured = set(lib.config.messenger_names())
    missing: dict[str, list[str]] = {}
    for cid, contact in lib.directory.contacts.items():
        for messenger in contact.chats:
            if messenger not in configured and looks_like_a_messenger(messenger):
                missing.setdefault(messenger, []).append(cid)
    for messenger, who in sorted(missing.items()):
        yield _warn(
            doc,
            ("contacts", who[0], "chats", messenger),
            f"{len(who)} contact(s) have a '{messenger}' chat id, but config.yaml configures no "
            f"messenger '{messenger}': those chat ids are not used",
            f"add {{name: {messenger}, token: …}} under messengers: in config.yaml to use them",
        )


def _unconfigured_steps(lib: Library, doc: Document) -> Iterator[Problem]:
    configured = set(lib.config.messenger_names()) | {"sms", "email"}
    first: dict[str, tuple[Loc, int]] = {}
    data = doc.data if isinstance(doc.data, dict | list) else []
    for loc, value in _texts(data, lambda parent, _key: parent == "channels"):
        if value not in configured:
            where, count = first.get(value, (loc, 0))
            first[value] = (where, count + 1)
    for messenger, (loc, count) in sorted(first.items()):
        if looks_like_a_messenger(messenger):
            yield _warn(
                doc,
                loc,
                f"messenger '{messenger}' is named in {count} step(s) but not configured in "
                "config.yaml: those steps skip it and use their other channels",
                f"add {{name: {messenger}, token: …}} under messengers: in config.yaml",
            )


def looks_like_a_messenger(name: str) -> bool:
    """Known messenger names only; any other unknown channel stays an error (a typo)."""
    return name in {"bale", "telegram", "eitaa", "rubika", "soroush"}


def _shared_phones(lib: Library, doc: Document) -> Iterator[Problem]:
    owners: dict[str, list[str]] = {}
    for cid, contact in lib.directory.contacts.items():
        if contact.phone is not None:
            owners.setdefault(contact.phone, []).append(cid)
    for phone, who in owners.items():
        if len(who) > 1:
            yield _warn(
                doc,
                ("contacts", who[1], "phone"),
                f"{', '.join(who)} share the phone number {phone}: enrolment by phone cannot "
                "tell them apart",
                f"send them invite links instead (crisisd invite {who[0]}), or give each their "
                "own mobile number",
            )


def _shared_chats(lib: Library, doc: Document) -> Iterator[Problem]:
    owners: dict[tuple[str, int], list[str]] = {}
    for cid, contact in lib.directory.contacts.items():
        for messenger, chat in contact.chats.items():
            owners.setdefault((messenger, chat), []).append(cid)
    for (messenger, chat), who in owners.items():
        if len(who) > 1:
            yield _warn(
                doc,
                ("contacts", who[1], "chats", messenger),
                f"{', '.join(who)} share the {messenger} chat id {chat}: their alerts go to one "
                f"chat, and only {who[0]} can acknowledge them there",
                "give each person their own chat (they can /start the bot themselves), or "
                "keep the chat id on one contact",
            )


def reach_warnings(lib: Library) -> list[Problem]:
    """Audiences that must acknowledge, with members none of their step's messengers reach
    (``lib``: the library with the store's bindings, as the daemon plans with it): their
    alerts go by SMS or email only. One warning per audience and set of messengers."""
    configured = set(lib.config.messenger_names())
    out: list[Problem] = []
    for fid, pb in lib.playbooks.items():
        seen: set[tuple[str, tuple[str, ...]]] = set()
        for tid, itype in pb.incidents.items():
            for sid, sev in itype.severities.items():
                for step in sev.steps:
                    n = sev.position(step)
                    aud = pb.audiences.get(step.audience)
                    messengers = tuple(c for c in step.channels if c in configured)
                    if aud is None or aud.ack is None or not messengers:
                        continue
                    if (step.audience, messengers) in seen:
                        continue
                    seen.add((step.audience, messengers))
                    unreached = [
                        m
                        for m in aud.members
                        if m in lib.directory.contacts
                        and not lib.usable(lib.directory.contacts[m], messengers)
                    ]
                    if unreached:
                        loc = ("incidents", tid, "severities", sid, "steps", n, "channels")
                        out.append(_unreached(lib.documents[fid], loc, fid, step.audience,
                                              messengers, unreached))  # fmt: skip
    return out


def _unreached(
    doc: Document, loc: Loc, fid: str, audience: str, messengers: tuple[str, ...], who: list[str]
) -> Problem:
    shown = ", ".join(who[:10]) + (f" and {len(who) - 10} more" if len(who) > 10 else "")
    return _warn(
        doc,
        loc,
        f"'{audience}' must acknowledge, but {len(who)} member(s) are reachable on none of this "
        f"step's messengers ({', '.join(messengers)}): {shown}",
        f"their alerts go by SMS or email only; ask them to send /start to the bot, or run "
        f"crisisd invite --audience {audience} --factory {fid}",
    )
