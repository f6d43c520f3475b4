"""Telegram HTML to Bale's Markdown: the look kept where Bale can show it, the words always.

Bale's Bot API has no ``parse_mode``: it reads every text as its own Markdown
(https://docs.bale.ai, its formatting rules; docs/messengers.md has the sources and what is
not confirmed). What this module relies on:

* ``*bold*`` and ``_italic_``; a marker counts only with whitespace (or the start or end
  of the text) outside it and text inside it;
* ``[words](https://…)`` is a link; `````` ```…``` `````` is a block;
* no escape character is documented.

So crisisd writes a bold or italic run as markers only where both outside neighbours are
whitespace or the text's ends, on one line, and otherwise leaves the run unstyled: a
reader never sees a stray ``*``. Characters that are markup in Bale but were typed by a
person or written in a template (``*``, ``_``, backticks; ``](`` of a link) are kept and
defused instead of escaped: U+2060 WORD JOINER, which is invisible and is not whitespace,
goes between such a character and any neighbour that is not a letter or digit, so it can
neither open nor close anything, and ``](`` never meets. The reader sees exactly the
characters that were typed. (Sources and the capability table: docs/messengers.md.)
"""

from __future__ import annotations

import re

from crisisd.channels.chathtml import Span, spans

WJ = "\u2060"  # WORD JOINER: zero width, not whitespace, no line break
_MARKUP = frozenset("*_`")
_MARKERS = {"bold": "*", "italic": "_"}
_BIDI_AT_LINE_START = re.compile(r"(?:^|(?<=\n))[\u200e\u200f\u061c]+\Z")
_LINK_TARGET = re.compile(r"(?:https?|tg)://[^\s()\[\]<>]+")

Piece = tuple[str, bool]  # (text, is it literal text rather than markup crisisd wrote)


def to_bale_markdown(markup: str) -> str:
    """Telegram HTML as Bale Markdown that shows the same words, styled where it can be."""
    return _defused(_pieces(spans(markup)))


def _lines(runs: list[Span]) -> list[Span]:
    """Styled runs cut at line ends: Bale's markers do not span lines."""
    out: list[Span] = []
    for run in runs:
        if run.style not in _MARKERS or "\n" not in run.text:
            out.append(run)
            continue
        for i, line in enumerate(run.text.split("\n")):
            if i:
                out.append(Span("\n"))
            if line:
                out.append(Span(line, run.style))
    return out


def _pieces(runs: list[Span]) -> list[Piece]:
    parts = _lines(runs)
    out: list[Piece] = []
    for i, run in enumerate(parts):
        after = parts[i + 1].text[:1] if i + 1 < len(parts) else ""
        if run.style in _MARKERS:
            out += _emphasis(out, run.text, _MARKERS[run.style], after)
        elif run.style == "link":
            out += _link(run)
        else:
            out.append((run.text, True))
    return out


def _emphasis(done: list[Piece], text: str, marker: str, after: str) -> list[Piece]:
    """``*text*`` when Bale will read it so, else ``text`` as it is."""
    core = text.strip()
    lead, trail = text[: len(text) - len(text.lstrip())], text[len(text.rstrip()) :]
    if not core:
        return [(text, True)]
    before, marks = lead[-1:], None
    if not lead:  # marks that open a line right-to-left go inside, so the marker opens it
        last = done[-1] if done else ("", False)
        marks = _BIDI_AT_LINE_START.search(last[0]) if last[1] else None
        before = "" if marks is not None else _last(done)
    if not _open_edge(before) or not _open_edge(trail[:1] or after):
        return [(text, True)]
    if marks is not None:
        done[-1] = (done[-1][0][: marks.start()], True)
        core = marks.group() + core
    return [(lead, True), (marker, False), (core, True), (marker, False), (trail, True)]


def _last(done: list[Piece]) -> str:
    for text, _literal in reversed(done):
        if text:
            return text[-1]
    return ""


def _open_edge(char: str) -> bool:
    return char == "" or char.isspace()


def _link(run: Span) -> list[Piece]:
    words = run.text.strip()
    if words and _LINK_TARGET.fullmatch(run.href) and not any(c in words for c in "[]\n"):
        return [("[", False), (run.text, True), (f"]({run.href})", False)]
    if run.href and run.href != words:
        return [(f"{run.text} ({run.href})", True)]
    return [(run.text, True)]


def _defused(pieces: list[Piece]) -> str:
    out: list[str] = []
    before = ""
    for i, (text, literal) in enumerate(pieces):
        if literal:
            after = next((t[0] for t, _lit in pieces[i + 1 :] if t), "")
            out.append(defuse(text, before, after))
        else:
            out.append(text)
        if text:
            before = text[-1]
    return "".join(out)


def defuse(text: str, before: str = "", after: str = "") -> str:
    """``text`` with every Bale markup character kept but unable to act (see the module
    docstring); ``before`` and ``after`` are the characters around it ("" at the ends)."""
    out: list[str] = []
    prev = before
    for i, char in enumerate(text):
        nxt = text[i + 1] if i + 1 < len(text) else after
        if char in _MARKUP:
            if not prev.isalnum() and not (out and out[-1] == WJ):
                out.append(WJ)
            out.append(char)
            if not nxt.isalnum():
                out.append(WJ)
        elif char == "(" and prev == "]":
            if not (out and out[-1] == WJ):
                out.append(WJ)
            out.append(char)
        else:
            out.append(char)
        prev = char
    return "".join(out)
