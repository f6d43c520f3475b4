"""What a reader sees of a sent chat message: for tests, independent of crisisd's converter.

Telegram HTML is read by the sandbox fake itself (its ``plain``, entities parsed). Bale's
Markdown is read here by the rules Bale documents (https://docs.bale.ai, formatting):
``*bold*`` and ``_italic_`` with whitespace (or the text's ends) outside the markers and
text inside, on one line; ``[words](url)`` links; ``` blocks. The WORD JOINER
crisisd uses to defuse typed markers is invisible, so it is not part of what is seen.
"""

from __future__ import annotations

import re
from typing import Any

WJ = "\u2060"
_EMPHASIS = [
    re.compile(rf"(?<!\S){re.escape(m)}(?=[^\s{re.escape(m)}])([^\n]*?\S){re.escape(m)}(?!\S)")
    for m in ("*", "_")
]
_LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")
_BLOCK = re.compile(r"```(?:\[[^\]\n]*\])?(.*?)```", re.DOTALL)


def bale_visible(text: str) -> str:
    """The characters a Bale reader sees of ``text`` (its look aside)."""
    text = _BLOCK.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    for pattern in _EMPHASIS:
        text = pattern.sub(r"\1", text)
    return text.replace(WJ, "")


def seen(record: dict[str, Any]) -> str:
    """What the reader of a message the fake recorded sees now."""
    if record.get("parse_mode"):
        return str(record["plain"])
    return bale_visible(str(record["text"]))
