"""The Bot API's wire format as the fake checks it: errors, parameters, texts, keyboards.

Parameters arrive as a query string, JSON or a form; in a form, structured values
(``reply_markup``, ``allowed_updates``, …) are JSON strings. Telegram's HTML parse
mode accepts a small set of tags, decodes only ``&lt; &gt; &amp; &quot;`` and numeric
references, and rejects a bare ``<`` or an unclosed or mismatched tag with
``Bad Request: can't parse entities: …``. Lengths are counted in UTF-16 code units of
the text left after parsing; that is what the 4096 limit applies to.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]
MAX_TEXT = 4096  # UTF-16 units after entity parsing
MAX_CALLBACK_DATA = 64  # bytes

_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",  # only with class="tg-spoiler"
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_START_TAG = re.compile(
    r"<([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+))?)*)\s*>"
)
_ATTR = re.compile(r"([a-zA-Z-]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+)))?")
_END_TAG = re.compile(r"</([a-zA-Z][a-zA-Z0-9-]*)\s*>")
_REFERENCE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]+);")


class BotApiError(Exception):
    """A Bot API failure as the real server reports it: HTTP status = ``error_code``."""

    def __init__(self, code: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def body(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(what: str) -> BotApiError:
    return BotApiError(400, f"Bad Request: {what}")


class EntityParseError(ValueError):
    """The text is not valid Telegram HTML; ``str(exc)`` is Telegram's own wording."""

    def __init__(self, detail: str, source: str = "", index: int | None = None) -> None:
        if index is not None:
            detail += f" at byte offset {len(source[:index].encode('utf-8'))}"
        super().__init__(f"can't parse entities: {detail}")


@dataclass(frozen=True, slots=True)
class ParsedText:
    """What the recipient sees (``text``), its entities, and its length in UTF-16 units."""

    text: str
    entities: list[dict[str, object]]

    @property
    def utf16_length(self) -> int:
        return utf16_len(self.text)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse_html(source: str) -> ParsedText:
    """Parse Telegram HTML into plain text and entities, or raise EntityParseError."""
    out: list[str] = []
    length = 0  # UTF-16 units written to ``out`` so far
    stack: list[tuple[str, dict[str, str], int]] = []
    entities: list[dict[str, object]] = []
    i = 0
    while i < len(source):
        ch = source[i]
        if ch == "<":
            end = _END_TAG.match(source, i)
            if end:
                name = end.group(1).lower()
                if not stack or stack[-1][0] != name:
                    raise EntityParseError("Unexpected end tag", source, i)
                tag, attrs, start = stack.pop()
                if length > start:
                    entities.append(_entity(tag, attrs, start, length - start))
                i = end.end()
                continue
            start_tag = _START_TAG.match(source, i)
            if start_tag is None:
                raise EntityParseError("Unsupported start tag", source, i)
            name = start_tag.group(1).lower()
            attrs = _attributes(start_tag.group(2))
            if name not in _ENTITY_TYPES or (name == "span" and attrs.get("class") != "tg-spoiler"):
                raise EntityParseError(f'Unsupported start tag "{name}"', source, i)
            stack.append((name, attrs, length))
            i = start_tag.end()
            continue
        if ch == "&":
            ref = _REFERENCE.match(source, i)
            decoded = _decode(ref.group(1)) if ref else None
            if ref and decoded is not None:
                out.append(decoded)
                length += utf16_len(decoded)
                i = ref.end()
                continue
        out.append(ch)
        length += 2 if ord(ch) > 0xFFFF else 1
        i += 1
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -int(e["length"])))  # type: ignore[call-overload]
    return ParsedText("".join(out), entities)


def _attributes(raw: str) -> dict[str, str]:
    attrs: dict[str, str] = {}
    for match in _ATTR.finditer(raw):
        value = next((g for g in match.groups()[1:] if g is not None), "")
        attrs[match.group(1).lower()] = value
    return attrs


def _decode(ref: str) -> str | None:
    """The character a reference names, or None when Telegram keeps it as literal text."""
    if ref.startswith("#"):
        digits = ref[1:]
        code = int(digits[1:], 16) if digits[:1] in ("x", "X") else int(digits)
        return chr(code) if 0 < code <= 0x10FFFF else None
    return _NAMED.get(ref)


def _entity(tag: str, attrs: dict[str, str], offset: int, length: int) -> dict[str, object]:
    kind = _ENTITY_TYPES[tag]
    entity: dict[str, object] = {"type": kind, "offset": offset, "length": length}
    if tag == "a":
        entity["url"] = attrs.get("href", "")
    elif tag == "pre" and "class" in attrs:
        entity["language"] = attrs["class"].removeprefix("language-")
    elif tag == "blockquote" and "expandable" in attrs:
        entity["type"] = "expandable_blockquote"
    elif tag == "tg-emoji":
        entity["custom_emoji_id"] = attrs.get("emoji-id", "")
    return entity


def json_param(params: JSON, key: str, what: str | None = None) -> Any:
    """A structured parameter: an object in a JSON body, a JSON string in a form."""
    value = params.get(key)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f"can't parse {what or key} JSON object") from None
    return value


def int_param(params: JSON, key: str, default: int = 0) -> int:
    value = params.get(key)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request(f"invalid {key} specified") from None


def flag_param(params: JSON, key: str) -> bool:
    value = params.get(key)
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1"))


def check_text(source: str, parse_mode: object) -> ParsedText:
    """The text as Telegram would show it, or the 400 it answers for a bad one."""
    mode = str(parse_mode).lower() if parse_mode else ""
    if mode not in ("", "html", "markdown", "markdownv2"):
        raise bad_request("unsupported parse_mode")
    try:
        parsed = parse_html(source) if mode == "html" else ParsedText(source, [])
    except EntityParseError as exc:
        raise bad_request(str(exc)) from None
    if not parsed.text.strip():
        raise bad_request("message text is empty")
    if utf16_len(parsed.text) > MAX_TEXT:
        raise bad_request("message is too long")
    return parsed


def check_markup(params: JSON) -> JSON | None:
    """The reply_markup parameter, checked the way Telegram checks inline keyboards."""
    markup = json_param(params, "reply_markup", "reply keyboard markup")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    rows = markup.get("inline_keyboard")
    if rows is None:
        return markup
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array')
    for button in (b for row in rows for b in row):
        if not isinstance(button, dict) or not str(button.get("text", "")).strip():
            raise bad_request("text buttons are unallowed in the inline keyboard")
        data = button.get("callback_data")
        if data is None and "url" not in button:
            raise bad_request("text buttons are unallowed in the inline keyboard")
        if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA:
            raise bad_request("BUTTON_DATA_INVALID")
    return markup


def not_modified() -> BotApiError:
    return bad_request(
        "message is not modified: specified new message content and reply markup are "
        "exactly the same as a current content and reply markup of the message"
    )
