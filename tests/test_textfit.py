"""Tests for SMS part counting and Telegram HTML fitting."""

from __future__ import annotations

import html
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crisisd.formats.textfit import (
    TELEGRAM_LIMIT,
    SmsInfo,
    chat_length_ok,
    fit_sms,
    fit_telegram_html,
    sms_info,
    sms_parts,
    telegram_length,
)

PERSIAN = "حریق"  # "fire"
EMOJI = "🔥"  # outside the BMP: a surrogate pair in UTF-16

# Characters chosen to hit every branch: GSM basic, GSM extension, non-GSM BMP, astral, markup.
MIXED_CHARS = [*"ab Z0\n", *"سلام ", "€", "[", "^", "é", EMOJI, "😀", "<", ">", "&", '"', ";"]
mixed_text = st.text(alphabet=st.sampled_from(MIXED_CHARS), max_size=400)
FAST = settings(max_examples=150, deadline=None)


def persian(n: int) -> str:
    return ("س" * n)[:n]


# --- SMS examples ---------------------------------------------------------


def test_gsm7_single_part_limit() -> None:
    assert sms_info("a" * 160) == SmsInfo("gsm7", 160, 1)
    assert sms_info("a" * 161) == SmsInfo("gsm7", 161, 2)
    assert sms_parts("a" * 306) == 2
    assert sms_parts("a" * 307) == 3


def test_gsm7_extension_counts_two_septets() -> None:
    assert sms_info("€") == SmsInfo("gsm7", 2, 1)
    assert sms_info("{}[]~|^\\\f").units == 18
    assert sms_parts("a" * 158 + "€") == 1
    assert sms_parts("a" * 159 + "€") == 2


def test_gsm7_extension_char_is_not_split_across_parts() -> None:
    # 152 septets then "€": the escape and its code must go to the next part together.
    text = "a" * 152 + "€" + "a" * 152
    assert sms_info(text).units == 306  # 2 x 153 if it could be split
    assert sms_parts(text) == 3
    assert sms_parts("a" * 151 + "€" + "a" * 153) == 2


def test_persian_70_vs_71_chars() -> None:
    assert sms_info(persian(70)) == SmsInfo("ucs2", 70, 1)
    assert sms_info(persian(71)) == SmsInfo("ucs2", 71, 2)


def test_persian_134_vs_135_chars() -> None:
    assert sms_parts(persian(134)) == 2
    assert sms_parts(persian(135)) == 3


def test_emoji_counts_two_units() -> None:
    assert sms_info(EMOJI) == SmsInfo("ucs2", 2, 1)
    assert sms_info("a" * 68 + EMOJI).parts == 1
    assert sms_info("a" * 69 + EMOJI).parts == 2


def test_surrogate_pair_is_not_split_across_parts() -> None:
    # 66 units then an emoji: a 67-unit part cannot hold the pair, so it moves on.
    text = "a" * 66 + EMOJI + "a" * 66
    assert sms_info(text).units == 134  # 2 x 67 if it could be split
    assert sms_parts(text) == 3
    assert sms_parts("a" * 65 + EMOJI + "a" * 67) == 2


def test_persian_plus_ascii_is_ucs2() -> None:
    info = sms_info(f"{PERSIAN} in Hall 3")
    assert info.encoding == "ucs2"
    assert info.units == len(PERSIAN) + len(" in Hall 3")


def test_empty_text_is_one_empty_part() -> None:
    assert sms_info("") == SmsInfo("gsm7", 0, 1)


def test_escape_char_itself_is_not_gsm7() -> None:
    assert sms_info("\x1b").encoding == "ucs2"


def test_fit_sms_keeps_text_that_fits() -> None:
    text = persian(70)
    assert fit_sms(text, 1) is text


def test_fit_sms_cuts_at_word_break() -> None:
    text = "Fire in Hall 3 evacuate now " * 10
    fitted = fit_sms(text, 1, ellipsis="...")
    # The hard cut would be "...Hall 3 ev"; the last space before it is within 20 chars.
    assert fitted == text[:140] + "Fire in Hall 3..."
    assert sms_info(fitted) == SmsInfo("gsm7", 157, 1)


def test_fit_sms_hard_cut_without_nearby_space() -> None:
    text = "alarm " + "x" * 300
    assert fit_sms(text, 1, ellipsis="...") == text[:157] + "..."


def test_fit_sms_default_ellipsis_switches_to_ucs2() -> None:
    text = "a" * 200
    fitted = fit_sms(text, 1)
    assert fitted == "a" * 69 + "…"
    assert sms_info(fitted) == SmsInfo("ucs2", 70, 1)


def test_fit_sms_never_splits_emoji() -> None:
    fitted = fit_sms(EMOJI * 100, 1)
    assert fitted == EMOJI * 34 + "…"
    assert sms_info(fitted).units == 69


def test_fit_sms_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="max_parts"):
        fit_sms("x" * 500, 0)
    with pytest.raises(ValueError, match="ellipsis"):
        fit_sms("x" * 500, 1, ellipsis="." * 161)


# --- SMS properties -------------------------------------------------------


@FAST
@given(mixed_text, st.sampled_from(MIXED_CHARS))
def test_parts_monotone_when_appending(text: str, extra: str) -> None:
    before, after = sms_info(text), sms_info(text + extra)
    assert after.parts >= before.parts
    if after.encoding == before.encoding:
        assert after.units > before.units


@FAST
@given(mixed_text)
def test_units_match_encoding(text: str) -> None:
    info = sms_info(text)
    if info.encoding == "ucs2":
        assert info.units == len(text.encode("utf-16-le")) // 2
    else:
        assert len(text) <= info.units <= 2 * len(text)


@FAST
@given(mixed_text, st.integers(min_value=1, max_value=4), st.sampled_from(["…", "...", ""]))
def test_fit_sms_fits_and_is_prefix(text: str, max_parts: int, ellipsis: str) -> None:
    fitted = fit_sms(text, max_parts, ellipsis)
    assert sms_parts(fitted) <= max_parts
    if sms_parts(text) <= max_parts:
        assert fitted == text
    else:
        assert fitted.endswith(ellipsis)
        assert text.startswith(fitted[: len(fitted) - len(ellipsis)])


# --- Telegram examples ----------------------------------------------------


def test_telegram_length_counts_visible_utf16() -> None:
    assert telegram_length("<b>a&amp;b</b> &lt;i&gt;") == 7
    assert telegram_length(f'<a href="https://x.example/?a=1&amp;b=2">{EMOJI}</a>') == 2
    assert telegram_length("&#128293;&#x1F525;&quot;") == 5
    assert telegram_length("5 < 6 & 7 > 1") == 13  # stray markup characters are literal


def test_chat_length_ok_boundary() -> None:
    assert chat_length_ok("<i>" + "a" * TELEGRAM_LIMIT + "</i>")
    assert not chat_length_ok("a" * (TELEGRAM_LIMIT + 1))


def test_fit_telegram_keeps_text_that_fits() -> None:
    text = "<b>" + persian(4096) + "</b>"
    assert fit_telegram_html(text) is text


def test_fit_telegram_closes_open_tags_in_order() -> None:
    fitted = fit_telegram_html("<b>bold <i>italic &amp; more</i> tail</b>", limit=14)
    assert fitted == "<b>bold <i>italic &amp;…</i></b>"


def test_fit_telegram_does_not_cut_entity_or_surrogate() -> None:
    assert fit_telegram_html("ab&amp;cd", limit=3) == "ab…"
    assert fit_telegram_html("a" + EMOJI + "bc", limit=3) == "a…"


def test_fit_telegram_does_not_open_tag_just_for_ellipsis() -> None:
    assert fit_telegram_html("<b>abc</b><i>def</i>", limit=4) == "<b>abc</b>…"


def test_fit_telegram_keeps_link_attributes() -> None:
    link = '<a href="https://x.example/?a=1&amp;b=2">'
    assert fit_telegram_html(f"{link}{'w' * 50}</a>", limit=10) == f"{link}{'w' * 9}…</a>"


def test_fit_telegram_rejects_oversized_ellipsis() -> None:
    with pytest.raises(ValueError, match="ellipsis"):
        fit_telegram_html("a" * 10, limit=2, ellipsis="...")


# --- Telegram properties --------------------------------------------------


class _Reparse(HTMLParser):
    """Independent check: html.parser's view of the visible text and tag nesting."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.stack: list[str] = []
        self.balanced = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.balanced = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def reparse(markup: str) -> _Reparse:
    parser = _Reparse()
    parser.feed(markup)
    parser.close()
    return parser


TAGS = [
    "b",
    "i",
    "u",
    "s",
    "code",
    "pre",
    "tg-spoiler",
    "blockquote",
    'a href="https://x.example/?a=1&amp;b=2"',
    'span class="tg-spoiler"',
]
escaped_text = st.text(alphabet=st.sampled_from(MIXED_CHARS), max_size=40).map(html.escape)


def _wrap(tag: str, children: list[str]) -> str:
    return f"<{tag}>{''.join(children)}</{tag.split()[0]}>"


well_formed = st.lists(
    st.recursive(
        escaped_text,
        lambda inner: st.builds(_wrap, st.sampled_from(TAGS), st.lists(inner, max_size=3)),
        max_leaves=12,
    ),
    max_size=4,
).map("".join)


@FAST
@given(well_formed, st.integers(min_value=1, max_value=120))
def test_fit_telegram_well_formed(markup: str, limit: int) -> None:
    fitted = fit_telegram_html(markup, limit)
    assert telegram_length(fitted) <= limit
    if telegram_length(markup) <= limit:
        assert fitted == markup
    parsed = reparse(fitted)
    assert parsed.balanced
    assert parsed.stack == []
    visible = "".join(parsed.text)
    assert len(visible.encode("utf-16-le")) // 2 == telegram_length(fitted)
    original = "".join(reparse(markup).text)
    assert original.startswith(visible.removesuffix("…"))


fragments = st.sampled_from(
    [*MIXED_CHARS, "<b>", "</b>", "<i>", "</i>", "</u>", "<br/>", "&amp;", "&#128293;", "&lt"]
)
garbage = st.lists(fragments, max_size=120).map("".join)


@FAST
@given(garbage, st.integers(min_value=1, max_value=80))
def test_fit_telegram_any_input_fits(markup: str, limit: int) -> None:
    fitted = fit_telegram_html(markup, limit)
    assert telegram_length(fitted) <= limit
    assert chat_length_ok(fitted, limit)
    if telegram_length(markup) <= limit:
        assert fitted == markup
    else:
        assert fitted.count("<b>") == fitted.count("</b>")
        assert fitted.count("<i>") == fitted.count("</i>")
