"""Left-to-right fragments inside Persian text, isolated so they are not shown reversed.

In a right-to-left paragraph the Unicode bidi algorithm reorders a phone number written
with hyphens ("۰۹۱۲-۰۰۰-۱۱۰۱" reads "۱۱۰۱-۰۰۰-۰۹۱۲"), and an incident id, an email
address, a link or a command (``/status KMT-479``) drifts to the wrong end of its line.
Each such fragment is wrapped in LRI … PDI (U+2066, U+2069: Unicode 6.3 isolates) in
plain text and chat (links excepted: they are strong LTR text already, and a phone's link
detector would swallow the closing isolate into the URL), and in ``<bdi dir="ltr">`` in
HTML (text nodes only; tags, entities and attribute values are left alone).
"""

from __future__ import annotations

import re

LRI = "\u2066"
PDI = "\u2069"

_DIGIT = "0-9۰-۹٠-٩"
# A phone number: digits with hyphens or spaces between groups, optionally a leading +.
_PHONE = rf"\+?[{_DIGIT}](?:[{_DIGIT}]|[\- ](?=[{_DIGIT}])){{6,}}"
# A Latin run: words, ids, addresses, links, commands — at least one Latin letter in it.
_LATIN = r"/?[A-Za-z0-9][A-Za-z0-9._@:/+\-?=&%#~]*[A-Za-z0-9/]|/?[A-Za-z]"
# A bot command with its argument stays one piece: "/status KMT-479".
_COMMAND = r"/[A-Za-z_]+ [A-Z0-9][A-Z0-9\-]*"
_FRAGMENT = re.compile(rf"(?:{_COMMAND})|(?:{_PHONE})|(?:{_LATIN})")
_HAS_LATIN_OR_SEPARATOR = re.compile(r"[A-Za-z]|[\- ]")
_URL = re.compile(r"(?:https?://|www\.)", re.IGNORECASE)
_ENTITY_OR_TAG = re.compile(r"(<[^>]*>|&[#A-Za-z0-9]+;)")


def _wrap(text: str, left: str, right: str) -> str:
    def repl(m: re.Match[str]) -> str:
        s = m.group(0)
        if not _HAS_LATIN_OR_SEPARATOR.search(s):
            return s  # a plain number reads the same either way
        if _URL.match(s) and left == LRI:
            # Android's link detection takes U+2069 as part of an IRI path: an isolated ack
            # link would open with a broken token. A URL is all strong LTR text anyway.
            return s
        return f"{left}{s}{right}"

    return _FRAGMENT.sub(repl, text)


def isolate_ltr(text: str) -> str:
    """Plain text or chat text (Telegram HTML tags are left alone)."""
    if LRI in text:
        return text  # already isolated (idempotent)
    return "".join(
        part if _ENTITY_OR_TAG.fullmatch(part) else _wrap(part, LRI, PDI)
        for part in _ENTITY_OR_TAG.split(text)
    )


def isolate_ltr_html(html: str) -> str:
    """HTML: fragments in text nodes wrapped in ``<bdi dir="ltr">``."""
    if "<bdi" in html:
        return html
    out: list[str] = []
    in_head = False
    for part in _ENTITY_OR_TAG.split(html):
        if _ENTITY_OR_TAG.fullmatch(part):
            lowered = part.lower()
            if lowered.startswith(("<head", "<style", "<title", "<script")):
                in_head = True
            elif lowered.startswith(("</head", "</style", "</title", "</script")):
                in_head = False
            out.append(part)
        else:
            out.append(part if in_head else _wrap(part, '<bdi dir="ltr">', "</bdi>"))
    return "".join(out)
