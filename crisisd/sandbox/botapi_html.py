"""Telegram's HTML parse mode, as the Bot API server parses it: plain text plus entities.

A port of ``do_parse_html`` in tdlib (github.com/tdlib/td, td/telegram/MessageEntity.cpp),
which the Bot API server runs, with its error wording and its byte offsets (UTF-8 bytes of
the source); the cases in tdlib's test/message_entities.cpp (``parse_html``) pass here.
Tags and attributes are those of https://core.telegram.org/bots/api#html-style: b, strong,
i, em, u, ins, s, strike, del, tg-spoiler, span class="tg-spoiler", a href, tg-emoji
emoji-id, code class="language-…", pre, blockquote [expandable]. Only ``&lt; &gt; &amp;
&quot;`` and numeric references are decoded; any other ``&…`` stays literal text.
Entity offsets and lengths count UTF-16 code units, as the 4096 limit does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

JSON = dict[str, object]
_TAGS = frozenset(
    {"a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler", "tg-emoji"}
    | {"span", "pre", "code", "blockquote"}
)
_SIMPLE = {
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
    "span": "spoiler",
}
# tdlib's order for entities over the same text: the outermost first.
_PRIORITY = {"blockquote": 0, "expandable_blockquote": 0, "pre": 11, "code": 20}
_PRIORITY |= {"text_link": 49, "text_mention": 49, "bold": 90, "italic": 91, "underline": 92}
_PRIORITY |= {"strikethrough": 93, "spoiler": 94, "custom_emoji": 99}
_NAMED = {b"lt": "<", b"gt": ">", b"amp": "&", b"quot": '"'}
_SPACE = frozenset(b" \t\r\n\v\0")
_NAME_TOKEN = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
_HOST = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{1,62}(?::\d{1,5})?")


class EntityParseError(ValueError):
    """The text is not valid Telegram HTML; ``str(exc)`` is tdlib's own wording."""


@dataclass(frozen=True, slots=True)
class ParsedText:
    """What the recipient sees (``text``) and its entities (UTF-16 offsets)."""

    text: str
    entities: list[JSON] = field(default_factory=list)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def parse_html(source: str) -> ParsedText:
    """Parse Telegram HTML into plain text and entities, or raise EntityParseError."""
    return _Parser(source.encode("utf-8", "surrogatepass")).parse()


@dataclass(slots=True)
class _Open:
    tag: str
    argument: str
    offset: int  # UTF-16 units of text before the tag
    start: int  # bytes of text before the tag


class _Parser:
    def __init__(self, source: bytes) -> None:
        self.b = source
        self.i = 0
        self.out = bytearray()
        self.utf16 = 0
        self.nested: list[_Open] = []
        self.entities: list[JSON] = []

    def at(self, i: int) -> int:
        return self.b[i] if i < len(self.b) else 0

    def parse(self) -> ParsedText:
        while self.i < len(self.b):
            c = self.b[self.i]
            if c == ord("&") and self._reference():
                continue
            if c != ord("<"):
                if c & 0xC0 != 0x80:  # the first byte of a character
                    self.utf16 += 2 if c >= 0xF0 else 1
                self.out.append(c)
                self.i += 1
            elif self.at(self.i + 1) == ord("/"):
                self._end_tag()
            else:
                self._start_tag()
        if self.nested:
            tag = self.nested[-1].tag
            raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{tag}"')
        text = self.out.decode("utf-8", "surrogatepass")
        if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
            raise EntityParseError(
                "Text contains invalid Unicode characters after decoding HTML entities, "
                "check for unmatched surrogate code units"
            )
        for entity in self.entities:
            if entity["type"] == "code":
                entity.pop("language", None)  # only a pre block keeps its language
        self.entities.sort(
            key=lambda e: (e["offset"], -int(str(e["length"])), _PRIORITY.get(str(e["type"]), 50))
        )
        return ParsedText(text, self.entities)

    def _reference(self) -> bool:
        """Decode ``&…;`` at ``i`` into the text; False when it stays literal."""
        ch, end = decode_reference(self.b, self.i)
        if ch is None:
            return False
        self.out += ch.encode("utf-8", "surrogatepass")
        self.utf16 += 2 if ord(ch) > 0xFFFF else 1
        self.i = end
        return True

    def _start_tag(self) -> None:
        begin = self.i
        self.i += 1
        while self.at(self.i) not in _SPACE and self.at(self.i) != ord(">"):
            self.i += 1
        if self.i >= len(self.b):
            raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
        tag = self.b[begin + 1 : self.i].decode("utf-8", "replace").lower()
        if tag not in _TAGS:
            raise EntityParseError(f'Unsupported start tag "{tag}" at byte offset {begin}')
        argument = ""
        while self.at(self.i) != ord(">"):
            argument = self._attribute(tag, begin, argument)
        self.i += 1
        if tag == "span" and argument != "spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {begin}'
            )
        self.nested.append(_Open(tag, argument, self.utf16, len(self.out)))

    def _attribute(self, tag: str, begin: int, argument: str) -> str:
        """Read one attribute (or the spaces before ``>``); the tag's argument after it."""
        self._skip_spaces()
        if self.at(self.i) == ord(">"):
            return argument
        name_begin = self.i
        while self.at(self.i) not in _SPACE and self.at(self.i) not in b"=>":
            self.i += 1
        name = self.b[name_begin : self.i].decode("utf-8", "replace")
        if not name:
            raise EntityParseError(
                f'Empty attribute name in the tag "{tag}" at byte offset {begin}'
            )
        self._skip_spaces()
        if self.at(self.i) != ord("="):
            if tag == "blockquote" and name == "expandable":
                return "1"
            raise EntityParseError(
                "Expected equal sign in declaration of an attribute of the tag "
                f'"{tag}" at byte offset {begin}'
            )
        self.i += 1
        self._skip_spaces()
        if self.i >= len(self.b):
            raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
        value = self._value()
        if self.i >= len(self.b):
            raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
        return _argument(tag, name, value) or argument

    def _value(self) -> str:
        quote = self.at(self.i)
        if quote not in (ord("'"), ord('"')):
            token_begin = self.i
            while self.at(self.i) in _NAME_TOKEN:
                self.i += 1
            if self.at(self.i) not in _SPACE and self.at(self.i) != ord(">"):
                raise EntityParseError(f"Unexpected end of name token at byte offset {token_begin}")
            return self.b[token_begin : self.i].decode().lower()
        self.i += 1
        value = bytearray()
        while self.i < len(self.b) and self.b[self.i] != quote:
            ch, end = decode_reference(self.b, self.i)
            if ch is not None:
                value += ch.encode("utf-8", "surrogatepass")
                self.i = end
            else:
                value.append(self.b[self.i])
                self.i += 1
        if self.at(self.i) == quote:
            self.i += 1
        return value.decode("utf-8", "replace")

    def _skip_spaces(self) -> None:
        while self.i < len(self.b) and self.b[self.i] in _SPACE:
            self.i += 1

    def _end_tag(self) -> None:
        begin = self.i
        if not self.nested:
            raise EntityParseError(f"Unexpected end tag at byte offset {begin}")
        self.i += 2
        while self.at(self.i) not in _SPACE and self.at(self.i) != ord(">"):
            self.i += 1
        name = self.b[begin + 2 : self.i].decode("utf-8", "replace")
        self._skip_spaces()
        if self.at(self.i) != ord(">"):
            raise EntityParseError(f"Unclosed end tag at byte offset {begin}")
        self.i += 1
        opened = self.nested.pop()
        if name and name != opened.tag:
            raise EntityParseError(
                f'Unmatched end tag at byte offset {begin}, expected "</{opened.tag}>", '
                f'found "</{name}>"'
            )
        if self.utf16 > opened.offset:
            self._entity(opened)

    def _entity(self, opened: _Open) -> None:
        entity: JSON = {"type": "", "offset": opened.offset, "length": self.utf16 - opened.offset}
        tag, argument = opened.tag, opened.argument
        if tag in _SIMPLE:
            entity["type"] = _SIMPLE[tag]
        elif tag == "a":
            url = argument or self.out[opened.start :].decode("utf-8", "replace")
            if (user := re.fullmatch(r"tg://user\?id=(\d+)", url)) is not None:
                entity |= {"type": "text_mention", "user": {"id": int(user.group(1))}}
            elif (checked := check_url(url)) is not None:
                entity |= {"type": "text_link", "url": checked}
            else:
                return  # tdlib drops a link it cannot use and keeps its text
        elif tag == "tg-emoji":
            if not argument.isdigit() or int(argument) == 0:
                raise EntityParseError("Invalid custom emoji identifier specified")
            entity |= {"type": "custom_emoji", "custom_emoji_id": argument}
        elif tag == "blockquote":
            entity["type"] = "expandable_blockquote" if argument else "blockquote"
        else:
            self._code(entity, tag, argument)
            return
        self.entities.append(entity)

    def _code(self, entity: JSON, tag: str, language: str) -> None:
        """``pre`` and ``code`` around the same text with a language become one ``pre``."""
        last = self.entities[-1] if self.entities else {}
        same = (last.get("offset"), last.get("length")) == (entity["offset"], entity["length"])
        if tag == "pre" and same and last["type"] == "code" and last.get("language"):
            last["type"] = "pre"
        elif tag == "code" and same and last["type"] == "pre" and language:
            last["language"] = language
        elif tag == "code" and language:
            self.entities.append(entity | {"type": "code", "language": language})
        else:
            self.entities.append(entity | {"type": tag})


def _argument(tag: str, name: str, value: str) -> str:
    if tag == "a" and name == "href":
        return value
    if tag == "code" and name == "class" and value.startswith("language-"):
        return value[9:]
    if tag == "span" and name == "class" and value.startswith("tg-"):
        return value[3:]
    if tag == "tg-emoji" and name == "emoji-id":
        return value
    return ""


def decode_reference(b: bytes, pos: int) -> tuple[str | None, int]:
    """The character ``&…`` at ``pos`` names and where it ends, or (None, pos)."""
    end = pos + 1
    if b[pos : pos + 2] == b"&#":
        end += 1
        hexadecimal = b[end : end + 1] == b"x"
        end += hexadecimal
        digits = b"0123456789abcdefABCDEF" if hexadecimal else b"0123456789"
        start = end
        while end < len(b) and b[end] in digits and end - pos < 10:
            end += 1
        value = int(b[start:end], 16 if hexadecimal else 10) if end > start else 0
        if value == 0 or value >= 0x10FFFF or end - pos >= 10:
            return None, pos
        char = chr(value)
    else:
        while end < len(b) and chr(b[end]).isascii() and chr(b[end]).isalpha():
            end += 1
        named = _NAMED.get(b[pos + 1 : end])
        if named is None:
            return None, pos
        char = named
    return char, end + 1 if b[end : end + 1] == b";" else end


def check_url(url: str) -> str | None:
    """A link target as tdlib accepts it (http, https, tg, ton, or a bare domain), or None."""
    if re.match(r"(?i)(tg|ton)://\S+$", url):
        return url
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "http", url
    elif scheme.lower() not in ("http", "https"):
        return None
    host, path = re.match(r"([^/?#]*)(.*)", rest, re.S).groups()  # type: ignore[union-attr]
    if not _HOST.fullmatch(host.lower()) or any(c.isspace() for c in path):
        return None
    return f"{scheme.lower()}://{host.lower()}{path if path.startswith('/') else '/' + path}"
