"""Reading the Telegram HTML that templates and the bot write, as runs of visible text.

Every chat text in crisisd is written once, in the HTML subset Telegram accepts
(https://core.telegram.org/bots/api#html-style). Messengers that take another dialect get
it converted from the runs this module reads: the visible text (tags removed, and only
the entities Telegram decodes — ``&lt; &gt; &amp; &quot;`` and numeric ones — decoded)
in spans of one style. Nested styles flatten to the outermost bold, italic or link; every
other tag (code, pre, blockquote, underline, …) keeps its text and loses its look.
"""

from __future__ import annotations

import html as htmllib
import re
from dataclasses import dataclass
from typing import Literal

Style = Literal["", "bold", "italic", "link"]

_TOKEN = re.compile(
    r"""<(?P<close>/)?(?P<name>[a-zA-Z][a-zA-Z0-9-]*)"""
    r"""(?P<attrs>(?:[^<>"']|"[^"]*"|'[^']*')*)>"""
    r"|(?P<entity>&(?:\#[0-9]+|\#[xX][0-9a-fA-F]+|lt|gt|amp|quot);)"
)
_HREF = re.compile(r"""href\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
_STYLES: dict[str, Style] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "a": "link",
}


@dataclass(frozen=True, slots=True)
class Span:
    """Visible text in one style; ``href`` is the target of a link."""

    text: str
    style: Style = ""
    href: str = ""


def spans(markup: str) -> list[Span]:
    """The visible text of Telegram HTML as runs of one style, in order."""
    out: list[Span] = []
    stack: list[tuple[str, Style, str]] = []  # open elements: tag, style, href
    pos = 0
    for m in _TOKEN.finditer(markup):
        _add(out, stack, markup[pos : m.start()])
        pos = m.end()
        if m.group("entity") is not None:
            _add(out, stack, htmllib.unescape(m.group("entity")))
            continue
        name = m.group("name").lower()
        if m.group("close"):
            _close(stack, name)
        elif not m.group("attrs").rstrip().endswith("/"):
            found = _HREF.search(m.group("attrs"))
            href = htmllib.unescape(found.group(1) or found.group(2) or "") if found else ""
            stack.append((name, _STYLES.get(name, ""), href))
    _add(out, stack, markup[pos:])
    return out


def _add(out: list[Span], stack: list[tuple[str, Style, str]], text: str) -> None:
    if not text:
        return
    style: Style = ""
    href = ""
    for _tag, tag_style, tag_href in stack:
        if tag_style:
            style, href = tag_style, tag_href
            break
    if out and (out[-1].style, out[-1].href) == (style, href):
        out[-1] = Span(out[-1].text + text, style, href)
    else:
        out.append(Span(text, style, href))


def _close(stack: list[tuple[str, Style, str]], name: str) -> None:
    """End ``name`` and whatever was opened inside it; a stray closing tag does nothing."""
    if any(tag == name for tag, _s, _h in stack):
        while stack and stack.pop()[0] != name:
            pass


def visible_text(markup: str) -> str:
    """What a Telegram reader sees of ``markup``, without its look."""
    return "".join(span.text for span in spans(markup))


def to_plain(markup: str) -> str:
    """``markup`` as plain text: the visible text, a link's target after its words."""
    parts: list[str] = []
    for span in spans(markup):
        parts.append(span.text)
        if span.style == "link" and span.href and span.href != span.text.strip():
            parts.append(f" ({span.href})")
    return "".join(parts)
