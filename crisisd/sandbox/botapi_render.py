"""A chat message as the messenger's app would show it, as safe HTML for the sandbox pages.

Telegram shows a message's ``text`` with its ``entities`` (what the server parsed from
``parse_mode``): :func:`render_entities`. Bale has no ``parse_mode``; its apps render a
Markdown subset found in the text itself: :func:`render_bale_markdown`. Everything else
is text: every character of the message is HTML-escaped, and only the tags written here
(b, i, u, s, code, pre, blockquote, a with an http(s)/tg/mailto/tel link, span.spoiler)
reach the page. :func:`sanitize_chat_html` makes raw Telegram HTML safe for records that
carry no parsed form (the same rules, read from the source).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from html import escape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

from crisisd.sandbox.botapi_model import FakeMessage

_SCHEMES = {"http", "https", "tg", "mailto", "tel"}
_OPEN = {
    "bold": "<b>",
    "italic": "<i>",
    "underline": "<u>",
    "strikethrough": "<s>",
    "code": "<code>",
    "pre": "<pre>",
    "blockquote": "<blockquote>",
    "expandable_blockquote": '<blockquote class="expandable">',
    "spoiler": '<span class="spoiler">',
}
_CLOSE = {kind: "</" + tag[1:].split(">")[0].split()[0] + ">" for kind, tag in _OPEN.items()}

# Bale's Markdown as its apps render it in a message's text (docs.bale.ai documents no
# parse_mode; its formatting rules as Bale client projects summarise them, and as
# crisisd's own docs/messengers.md writes for them): *bold* and _italic_ count only with
# whitespace or the text's ends outside the marks and text inside, on one line;
# [words](url) links; ```…``` blocks. No escape character: a mark that does not count is
# shown as it is. Unconfirmed against a live Bale client.
_INSIDE = r"[^\s{m}](?:[^\n{m}]*[^\s{m}])?"
_BALE = re.compile(
    r"```(?P<pre>.+?)```"
    r"|\[(?P<label>[^\]\n]+)\]\((?P<url>[^)\s]+)\)"
    rf"|(?<!\S)\*(?P<bold>{_INSIDE.format(m=r'*')})\*(?!\S)"
    rf"|(?<!\S)_(?P<italic>{_INSIDE.format(m='_')})_(?!\S)",
    re.S,
)


def safe_href(href: str) -> bool:
    """A link the pages may make clickable: a known scheme, no spaces or control chars."""
    if any(ord(c) < 0x20 or c.isspace() for c in href):
        return False
    return urlsplit(href).scheme.lower() in _SCHEMES


def _link(href: object) -> str:
    if isinstance(href, str) and safe_href(href):
        return f'<a href="{escape(href)}" rel="noopener noreferrer nofollow">'
    return "<a>"  # shown as a link's text, goes nowhere


def render_entities(text: str, entities: Sequence[dict[str, Any]]) -> str:
    """``text`` with its Bot API entities (UTF-16 offsets) as escaped HTML."""
    units = text.encode("utf-16-le", "surrogatepass")
    edges: dict[int, list[tuple[int, str, str]]] = {}  # unit -> (order, kind, tag)
    for n, entity in enumerate(entities):
        kind = str(entity.get("type"))
        if kind == "text_link":
            opening, closing = _link(entity.get("url")), "</a>"
        elif kind in _OPEN:
            opening, closing = _OPEN[kind], _CLOSE[kind]
        else:
            continue  # mentions, commands, custom emoji: shown as their text
        start, length = int(entity.get("offset", 0)), int(entity.get("length", 0))
        if length <= 0 or start < 0 or (start + length) * 2 > len(units):
            continue
        edges.setdefault(start, []).append((n, "open", opening))
        edges.setdefault(start + length, []).append((-n, "close", closing))
    out: list[str] = []
    last = 0
    for unit in sorted(edges):
        out.append(escape(units[last * 2 : unit * 2].decode("utf-16-le", "surrogatepass")))
        # Closings first (innermost = opened last), then openings (outermost = listed first).
        for _order, _what, tag in sorted(edges[unit], key=lambda e: (e[1] != "close", e[0])):
            out.append(tag)
        last = unit
    out.append(escape(units[last * 2 :].decode("utf-16-le", "surrogatepass")))
    return "".join(out)


def render_bale_markdown(text: str) -> str:
    """``text`` as a Bale app shows a bot's message: its Markdown marks rendered, all else
    escaped; an unpaired mark stays a visible character."""
    out: list[str] = []
    last = 0
    for match in _BALE.finditer(text):
        out.append(escape(text[last : match.start()]))
        last = match.end()
        kind = match.lastgroup
        if kind == "pre":
            out.append(f"<pre>{escape(match['pre'])}</pre>")
        elif kind == "url":
            out.append(f"{_link(match['url'])}{render_bale_markdown(match['label'])}</a>")
        else:
            tag = "b" if kind == "bold" else "i"
            out.append(f"<{tag}>{render_bale_markdown(match[str(kind)])}</{tag}>")
    out.append(escape(text[last:]))
    return "".join(out)


def render_message(message: FakeMessage, *, markdown: bool) -> str:
    """A stored message as the chat's app shows it; ``markdown``: Bale's rendering."""
    if message.contact is not None:
        phone = escape(str(message.contact.get("phone_number", "")))
        name = escape(str(message.contact.get("first_name", "")))
        return f'📞 {name} <bdi dir="ltr">{phone}</bdi>'
    if not message.sender.get("is_bot"):
        return escape(message.text)  # the user's own text, as typed
    if markdown:
        return render_bale_markdown(message.text)
    return render_entities(message.text, message.entities)


def render_sent(source: str, extra: Mapping[str, Any]) -> str:
    """A message the fake recorded in the inbox, as its recipient's app shows it."""
    if "plain" in extra:
        plain = str(extra["plain"])
        if extra.get("markdown"):
            return render_bale_markdown(plain)
        entities = extra.get("entities")
        return render_entities(plain, entities if isinstance(entities, list) else [])
    return sanitize_chat_html(source)  # recorded without its parsed form: Telegram HTML


_TAGS = {"b": "b", "strong": "b", "i": "i", "em": "i", "u": "u", "ins": "u"}
_TAGS |= {"s": "s", "strike": "s", "del": "s", "a": "a", "code": "code", "pre": "pre"}
_TAGS |= {"blockquote": "blockquote", "tg-spoiler": "span", "span": "span"}


class _TelegramHtml(HTMLParser):
    """Re-emits Telegram HTML keeping only the allowed tags; everything else becomes text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        name = _TAGS.get(tag)
        given = dict(attrs)
        if name is None or (tag == "span" and given.get("class") != "tg-spoiler"):
            self.out.append(escape(self.get_starttag_text() or f"<{tag}>"))
            return
        if name == "a":
            self.out.append(_link(given.get("href")))
        elif name == "span":
            self.out.append('<span class="spoiler">')
        elif name == "blockquote" and "expandable" in given:
            self.out.append('<blockquote class="expandable">')
        else:
            self.out.append(f"<{name}>")
        self.open.append(name)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.append(escape(self.get_starttag_text() or f"<{tag}/>"))

    def handle_endtag(self, tag: str) -> None:
        name = _TAGS.get(tag)
        if name is None or name not in self.open:
            self.out.append(escape(f"</{tag}>"))
            return
        while self.open:  # close anything left open inside it, so the output nests
            top = self.open.pop()
            self.out.append(f"</{top}>")
            if top == name:
                break

    def handle_data(self, data: str) -> None:
        self.out.append(escape(data))

    def handle_comment(self, data: str) -> None:
        self.out.append(escape(f"<!--{data}-->"))

    def handle_decl(self, decl: str) -> None:
        self.out.append(escape(f"<!{decl}>"))

    def handle_pi(self, data: str) -> None:
        self.out.append(escape(f"<?{data}>"))

    def unknown_decl(self, data: str) -> None:
        self.out.append(escape(f"<![{data}]>"))


def sanitize_chat_html(text: str) -> str:
    """Telegram HTML made safe to embed: allowed tags re-emitted bare, all else escaped."""
    parser = _TelegramHtml()
    parser.feed(text)
    parser.close()
    parser.out.extend(f"</{tag}>" for tag in reversed(parser.open))
    return "".join(parser.out)
