"""One chat text, written once as Telegram HTML, in each messenger's formatting dialect.

Templates (the ``chat`` kind), previews, bot replies and progress messages are Telegram
HTML with user-supplied text escaped. At the channel boundary :func:`render_chat` turns
that into what one messenger is sent:

==================  ==============================  ===========  ===========================
dialect             text                            parse_mode   length counted
==================  ==============================  ===========  ===========================
``telegram_html``   the HTML as it is               ``HTML``     visible UTF-16 units
``bale_markdown``   :mod:`.balemarkdown`             none         every UTF-16 unit sent
``plain``           the visible text                none         every UTF-16 unit sent
==================  ==============================  ===========  ===========================

A Persian bot reply gets its RLM (U+200F) in front *before* the text is fitted, so the mark
is counted and a text fitted to 4,096 units still fits once it is there (planned messages
carry theirs from the planner already). Fitting cuts the HTML (never
inside a tag or an entity) until what it becomes fits; Bale's markers and defusing marks
take room, so its cut falls a little earlier.
"""

from __future__ import annotations

from dataclasses import dataclass

from crisisd.channels.balemarkdown import to_bale_markdown
from crisisd.channels.chathtml import to_plain
from crisisd.domain import Dialect
from crisisd.formats.textfit import TELEGRAM_LIMIT, fit_telegram_html, telegram_length

RLM = "\u200f"
TOAST_LIMIT = 200  # answerCallbackQuery: 0-200 characters


@dataclass(frozen=True, slots=True)
class ChatText:
    """What goes to a messenger: the text, and the parse_mode to send with it (if any)."""

    text: str
    parse_mode: str | None


def utf16_units(text: str) -> int:
    """Length as the Bot API counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def convert(markup: str, dialect: Dialect) -> str:
    """Telegram HTML in ``dialect``, not fitted."""
    if dialect == "telegram_html":
        return markup
    if dialect == "bale_markdown":
        return to_bale_markdown(markup)
    return to_plain(markup)


def measure(markup: str, dialect: Dialect) -> int:
    """How long the messenger finds ``markup`` once it is in ``dialect``."""
    if dialect == "telegram_html":
        return telegram_length(markup)
    return utf16_units(convert(markup, dialect))


def with_rlm(markup: str, lang: str) -> str:
    """Persian opens right-to-left: an RLM in front, once."""
    return RLM + markup if lang == "fa" and not markup.startswith(RLM) else markup


def fit(
    markup: str,
    dialect: Dialect,
    limit: int = TELEGRAM_LIMIT,
    tail: str = "",
    ellipsis: str = "…",
) -> str:
    """``markup`` cut short (HTML, ``ellipsis`` at the cut) so that ``markup + tail`` fits
    ``limit`` in ``dialect``; "" when ``tail`` alone does not leave room."""
    if measure(markup + tail, dialect) <= limit:
        return markup
    best, low, high = "", utf16_units(ellipsis), min(limit, telegram_length(markup))
    while low <= high:  # the longest visible budget whose result fits
        budget = (low + high) // 2
        cut = fit_telegram_html(markup, budget, ellipsis)
        if measure(cut + tail, dialect) <= limit:
            best, low = cut, budget + 1
        else:
            high = budget - 1
    return best


def render_chat(
    markup: str,
    dialect: Dialect,
    *,
    lang: str = "",
    limit: int = TELEGRAM_LIMIT,
    tail: str = "",
) -> ChatText:
    """``markup`` (then ``tail``, never cut) as it is sent in ``dialect``, fitted to ``limit``
    counting what is actually sent; with ``lang="fa"``, an RLM in front first."""
    head = fit(with_rlm(markup, lang), dialect, limit, tail)
    text = convert(head + tail, dialect)
    return ChatText(text, "HTML" if dialect == "telegram_html" else None)


def toast(markup: str) -> str:
    """Text for a button's answer (answerCallbackQuery): plain, at most 200 characters."""
    text = to_plain(markup).strip()
    return text if len(text) <= TOAST_LIMIT else text[: TOAST_LIMIT - 1] + "…"
