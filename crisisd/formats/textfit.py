"""Fit alert text into channel limits: SMS parts (GSM 03.38) and Telegram HTML length.

Both limits are counted the way the far end counts them, not with ``len()``:
SMS in GSM-7 septets or UCS-2 (UTF-16) code units, Telegram in UTF-16 code units
of the text left after tags are stripped and entities decoded.
"""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "TELEGRAM_LIMIT",
    "SmsInfo",
    "chat_length_ok",
    "fit_sms",
    "fit_telegram_html",
    "sms_info",
    "sms_parts",
    "telegram_length",
]

# GSM 03.38 default alphabet; 0x1B (ESC) is left out: it only introduces the extension table.
_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table: each costs ESC + code, two septets.
_GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

_GSM7_SINGLE, _GSM7_MULTI = 160, 153
_UCS2_SINGLE, _UCS2_MULTI = 70, 67
_WORD_CUT_WINDOW = 20

TELEGRAM_LIMIT = 4096
"""Most UTF-16 code units of visible text Telegram accepts in one message."""

Encoding = Literal["gsm7", "ucs2"]


@dataclass(frozen=True, slots=True)
class SmsInfo:
    """How an SMS body is encoded, how long it is in that encoding, and how many parts it takes.

    ``units`` is septets for GSM-7 and UTF-16 code units for UCS-2. Empty text
    still takes one (empty) part, because sending it still sends one message.
    """

    encoding: Encoding
    units: int
    parts: int


def _utf16_len(text: str) -> int:
    # surrogatepass: a lone surrogate (never valid, but possible in a str) counts as one unit
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _is_gsm7(text: str) -> bool:
    return all(c in _GSM7_BASIC or c in _GSM7_EXTENSION for c in text)


def _pack(weights: Iterable[int], capacity: int) -> int:
    """Parts needed when whole items are packed in order, never split across parts."""
    parts, used = 1, 0
    for w in weights:
        if used + w > capacity:
            parts += 1
            used = 0
        used += w
    return parts


def sms_info(text: str) -> SmsInfo:
    """Encoding, length and part count of ``text`` as an SMS (GSM 03.38, concatenated SMS).

    A multipart message never splits a GSM-7 extension character or a UTF-16
    surrogate pair between two parts, so parts are counted by packing whole characters.
    """
    if _is_gsm7(text):
        weights = [2 if c in _GSM7_EXTENSION else 1 for c in text]
        units = sum(weights)
        if units <= _GSM7_SINGLE:
            return SmsInfo("gsm7", units, 1)
        return SmsInfo("gsm7", units, _pack(weights, _GSM7_MULTI))
    units = _utf16_len(text)
    if units <= _UCS2_SINGLE:
        return SmsInfo("ucs2", units, 1)
    weights = [2 if ord(c) > 0xFFFF else 1 for c in text]
    return SmsInfo("ucs2", units, _pack(weights, _UCS2_MULTI))


def sms_parts(text: str) -> int:
    """Number of SMS parts ``text`` is sent as (1 for empty text)."""
    return sms_info(text).parts


def _longest_fitting_prefix(text: str, ellipsis: str, max_parts: int) -> int:
    # Adding a character never lowers the part count (packing is monotone, and a
    # switch from GSM-7 to UCS-2 only adds parts), so the fitting prefixes are a range.
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if sms_parts(text[:mid] + ellipsis) <= max_parts:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _word_cut(text: str, end: int) -> str:
    """``text[:end]``, moved back to the last whitespace in its final characters if any."""
    if end < len(text) and text[end].isspace():
        head = text[:end].rstrip()
        if head:
            return head
    window_start = max(0, end - _WORD_CUT_WINDOW)
    for i in range(end - 1, window_start - 1, -1):
        if text[i].isspace():
            head = text[:i].rstrip()
            if head:
                return head
            break
    return text[:end]


def fit_sms(text: str, max_parts: int, ellipsis: str = "…") -> str:
    """Return ``text`` if it fits in ``max_parts`` SMS parts, else a shortened copy that does.

    The copy is a prefix of ``text``, cut at a word break when one lies in the last
    20 characters, followed by ``ellipsis``. The default "…" is not GSM-7, so it turns
    a GSM-7 text into UCS-2; pass ``"..."`` to keep the 160-character parts.
    """
    if max_parts < 1:
        raise ValueError(f"max_parts must be at least 1, got {max_parts}")
    if sms_parts(text) <= max_parts:
        return text
    if sms_parts(ellipsis) > max_parts:
        raise ValueError(f"the ellipsis {ellipsis!r} alone needs more than {max_parts} part(s)")
    end = _longest_fitting_prefix(text, ellipsis, max_parts)
    return _word_cut(text, end) + ellipsis


# --- Telegram HTML ---------------------------------------------------------

_TOKEN_RE = re.compile(
    r"""(?P<tag><(?P<close>/)?(?P<name>[a-zA-Z][a-zA-Z0-9-]*)"""
    r"""(?P<attrs>(?:[^<>"']|"[^"]*"|'[^']*')*)>)"""
    r"|(?P<entity>&(?:\#[0-9]+|\#[xX][0-9a-fA-F]+|lt|gt|amp|quot);)"
)

TokenKind = Literal["text", "entity", "open", "close", "void"]


@dataclass(frozen=True, slots=True)
class _Token:
    kind: TokenKind
    raw: str
    visible: str = ""
    name: str = ""


def _tokenize(markup: str) -> Iterator[_Token]:
    """Split Telegram HTML into tags, entities and literal text.

    Like Telegram, only the four named entities and numeric ones are decoded; any
    other ``&`` or a ``<`` that starts no tag is literal text.
    """
    pos = 0
    for m in _TOKEN_RE.finditer(markup):
        if m.start() > pos:
            chunk = markup[pos : m.start()]
            yield _Token("text", chunk, chunk)
        pos = m.end()
        raw = m.group()
        if m.group("entity") is not None:
            yield _Token("entity", raw, htmllib.unescape(raw))
            continue
        name = m.group("name").lower()
        if m.group("close"):
            yield _Token("close", raw, name=name)
        elif m.group("attrs").rstrip().endswith("/"):
            yield _Token("void", raw, name=name)
        else:
            yield _Token("open", raw, name=name)
    if pos < len(markup):
        chunk = markup[pos:]
        yield _Token("text", chunk, chunk)


def telegram_length(html: str) -> int:
    """Visible length of Telegram HTML in UTF-16 code units, as Telegram measures its limit."""
    return sum(_utf16_len(t.visible) for t in _tokenize(html))


def chat_length_ok(html: str, limit: int = TELEGRAM_LIMIT) -> bool:
    """True when the visible text of ``html`` fits in ``limit`` UTF-16 code units."""
    return telegram_length(html) <= limit


def _take_units(text: str, budget: int) -> str:
    """The longest prefix of ``text`` within ``budget`` UTF-16 units, whole code points only."""
    used = 0
    for i, c in enumerate(text):
        used += 2 if ord(c) > 0xFFFF else 1
        if used > budget:
            return text[:i]
    return text


def _close_to(stack: list[str], name: str) -> list[str]:
    """Closing tags that end ``name`` and everything opened inside it; [] for a stray close."""
    if name not in stack:
        return []
    closes: list[str] = []
    while stack:
        top = stack.pop()
        closes.append(f"</{top}>")
        if top == name:
            break
    return closes


def fit_telegram_html(html: str, limit: int = TELEGRAM_LIMIT, ellipsis: str = "…") -> str:
    """Return ``html`` if its visible text fits ``limit``, else a truncated copy that fits.

    The cut never falls inside a tag, an entity or a surrogate pair; ``ellipsis`` goes
    at the cut and every tag still open there is closed, innermost first. Literal text
    in the copy is re-escaped, so a stray ``<`` or ``&`` in the input cannot break it.
    """
    if telegram_length(html) <= limit:
        return html
    budget = limit - _utf16_len(ellipsis)
    if budget < 0:
        raise ValueError(f"the ellipsis {ellipsis!r} alone is longer than the limit {limit}")
    out: list[str] = []
    stack: list[str] = []
    for tok in _tokenize(html):
        if tok.kind == "close":
            out.extend(_close_to(stack, tok.name))
        elif tok.kind == "void":
            out.append(tok.raw)
        elif tok.kind == "open":
            if budget == 0:
                break  # no room for content: don't open an element only to hold the ellipsis
            out.append(tok.raw)
            stack.append(tok.name)
        else:
            units = _utf16_len(tok.visible)
            if units <= budget:
                out.append(htmllib.escape(tok.visible, quote=False))
                budget -= units
                continue
            if tok.kind == "text":
                out.append(htmllib.escape(_take_units(tok.visible, budget), quote=False))
            break
    out.append(htmllib.escape(ellipsis, quote=False))
    out.extend(f"</{name}>" for name in reversed(stack))
    return "".join(out)
