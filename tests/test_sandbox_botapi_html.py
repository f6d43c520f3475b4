"""Telegram's HTML parse mode as the fake parses it (tdlib's own test cases), and the chat
renderers the sandbox pages use: Telegram entities, Bale Markdown, hostile text."""

from __future__ import annotations

import pytest

from crisisd.sandbox.botapi_html import EntityParseError, parse_html
from crisisd.sandbox.botapi_render import render_bale_markdown, render_entities

SURROGATE = (
    "Text contains invalid Unicode characters after decoding HTML entities, "
    "check for unmatched surrogate code units"
)


# From tdlib test/message_entities.cpp, TEST(MessageEntities, parse_html): the same text
# must fail with the same words as the Bot API server (which runs tdlib).
@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("&#57311;", SURROGATE),
        ("&#xDFDF;", SURROGATE),
        ("&#xDFDF", SURROGATE),
        ("🏟 🏟&lt;<abacaba", "Unclosed start tag at byte offset 13"),
        ("🏟 🏟&lt;<abac aba>", 'Unsupported start tag "abac" at byte offset 13'),
        ("🏟 🏟&lt;<abac>", 'Unsupported start tag "abac" at byte offset 13'),
        ("🏟 🏟&lt;<i   =aba>", 'Empty attribute name in the tag "i" at byte offset 13'),
        (
            "🏟 🏟&lt;<i    aba>",
            'Expected equal sign in declaration of an attribute of the tag "i" at byte offset 13',
        ),
        ("🏟 🏟&lt;<i    aba  =  ", 'Unclosed start tag "i" at byte offset 13'),
        ("🏟 🏟&lt;<i    aba  =  190azAz-.,", "Unexpected end of name token at byte offset 27"),
        ('🏟 🏟&lt;<i    aba  =  "&lt;&gt;&quot;>', "Unclosed start tag at byte offset 13"),
        ("🏟 🏟&lt;<i    aba  =  '&lt;&gt;&quot;>", "Unclosed start tag at byte offset 13"),
        ("🏟 🏟&lt;</", "Unexpected end tag at byte offset 13"),
        ("🏟 🏟&lt;<b></b></", "Unexpected end tag at byte offset 20"),
        ("🏟 🏟&lt;<i>a</i   ", "Unclosed end tag at byte offset 17"),
        (
            "🏟 🏟&lt;<i>a</em   >",
            'Unmatched end tag at byte offset 17, expected "</i>", found "</em>"',
        ),
        ("<b>never closed", 'Can\'t find end tag corresponding to start tag "b"'),
    ],
)
def test_bad_html_fails_as_tdlib_says(source: str, error: str) -> None:
    with pytest.raises(EntityParseError) as failed:
        parse_html(source)
    assert str(failed.value) == error


def entities(*spec: tuple[object, ...]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for kind, offset, length, *extra in spec:
        entity: dict[str, object] = {"type": kind, "offset": offset, "length": length}
        if extra:
            entity["url" if kind == "text_link" else "language"] = extra[0]
        out.append(entity)
    return out


@pytest.mark.parametrize(
    ("source", "text", "expected"),
    [
        ("", "", []),
        ("&lt;&gt;&amp;&quot;&laquo;&raquo;&#12345678;", '<>&"&laquo;&raquo;&#12345678;', []),
        ("➡️ ➡️<i>➡️ ➡️</i>", "➡️ ➡️➡️ ➡️", entities(("italic", 5, 5))),
        ("🏟 🏟<i>🏟 &lt🏟</i>", "🏟 🏟🏟 <🏟", entities(("italic", 5, 6))),
        (
            "🏟 🏟<i>🏟 &gt;<b aba   =   caba>&lt🏟</b></i>",
            "🏟 🏟🏟 ><🏟",
            entities(("italic", 5, 7), ("bold", 9, 3)),
        ),
        ("🏟 🏟&lt;<i    aba  =  '&lt;&gt;&quot;'>a</>", "🏟 🏟<a", entities(("italic", 6, 1))),
        ("🏟 🏟&lt;<b></b>", "🏟 🏟<", []),
        ("<a href=telegram.org> </a>", " ", entities(("text_link", 0, 1, "http://telegram.org/"))),
        ("<a>telegram.org </a>", "telegram.org ", []),
        (
            "<a>telegram.org</a>",
            "telegram.org",
            entities(("text_link", 0, 12, "http://telegram.org/")),
        ),
        (
            "<a   href=  'telegram.org?&lt;'   > </a>",
            " ",
            entities(("text_link", 0, 1, "http://telegram.org/?<")),
        ),
        (
            '🏟 🏟&lt;<pre><code class="language-fift">🏟 🏟&lt;</></>',
            "🏟 🏟<🏟 🏟<",
            entities(("pre", 6, 6, "fift")),
        ),
        (
            "🏟 🏟&lt;<pre><code>🏟 🏟&lt;</code></>",
            "🏟 🏟<🏟 🏟<",
            entities(("pre", 6, 6), ("code", 6, 6)),
        ),
        (
            '🏟 🏟&lt;<pre><code class="language-fift">🏟 🏟&lt;</> </>',
            "🏟 🏟<🏟 🏟< ",
            entities(("pre", 6, 7), ("code", 6, 6)),
        ),
        # Newer tags (core.telegram.org/bots/api#html-style).
        (
            "<blockquote expandable>a</blockquote><blockquote>b</blockquote>",
            "ab",
            entities(("expandable_blockquote", 0, 1), ("blockquote", 1, 1)),
        ),
        (
            '<span class="tg-spoiler">a</span><tg-spoiler>b</tg-spoiler><u>c</u><s>d</s>',
            "abcd",
            entities(
                ("spoiler", 0, 1), ("spoiler", 1, 1), ("underline", 2, 1), ("strikethrough", 3, 1)
            ),
        ),
        ('<a href="javascript:alert(1)">x</a>', "x", []),  # a link tdlib cannot use: text only
    ],
)
def test_good_html_gives_tdlibs_text_and_entities(
    source: str, text: str, expected: list[dict[str, object]]
) -> None:
    parsed = parse_html(source)
    assert (parsed.text, parsed.entities) == (text, expected)


def test_a_mention_link_becomes_text_mention() -> None:
    parsed = parse_html('<a href="tg://user?id=123456">Reza</a>')
    assert parsed.entities == [
        {"type": "text_mention", "offset": 0, "length": 4, "user": {"id": 123456}}
    ]


def test_telegram_entities_render_as_the_app_shows_them() -> None:
    parsed = parse_html(
        "\u200f<b>هشدار</b> <blockquote expandable>جزئیات <i>بیشتر</i></blockquote>"
        '<a href="https://x.example/ack?k=1&amp;t=2">تأیید</a> &lt;b&gt; 🔥<tg-spoiler>s</tg-spoiler>'
    )
    html = render_entities(parsed.text, parsed.entities)
    assert html == (
        '\u200f<b>هشدار</b> <blockquote class="expandable">جزئیات <i>بیشتر</i></blockquote>'
        '<a href="https://x.example/ack?k=1&amp;t=2" rel="noopener noreferrer nofollow">تأیید</a>'
        ' &lt;b&gt; 🔥<span class="spoiler">s</span>'
    )


def test_bale_markdown_renders_and_everything_else_is_text() -> None:
    html = render_bale_markdown(
        "*\u200fهشدار* _فوری_ [پیوند](https://x.example/a?b=1&c=2) <b>تگ</b> &amp; "
        "[بد](javascript:alert(1)) ```\n<pre>\n``` `KMT-479`"
    )
    assert html == (
        "<b>\u200fهشدار</b> <i>فوری</i> "
        '<a href="https://x.example/a?b=1&amp;c=2" rel="noopener noreferrer nofollow">پیوند</a> '
        "&lt;b&gt;تگ&lt;/b&gt; &amp;amp; <a>بد</a>) <pre>\n&lt;pre&gt;\n</pre> `KMT-479`"
    )


@pytest.mark.parametrize(
    "text",
    [
        "tank_3 and 2*3",  # marks inside a word count for nothing
        "(*x*) _y_،",  # nor next to punctuation
        "\u2060*x*\u2060",  # nor next to a word joiner (how crisisd defuses typed marks)
        "*a*b* **c** \\*d\\*",  # nor unpaired, doubled or after a backslash
        "\u200f*عنوان*",  # an RLM before the mark: it does not open the line any more
    ],
)
def test_bale_marks_count_only_between_whitespace(text: str) -> None:
    assert render_bale_markdown(text) == text.replace("&", "&amp;")


@pytest.mark.parametrize(
    "typed",
    ["<b>x</b>", "<script>alert(1)</script>", "&amp;", "\u202eabc", '"><img src=x onerror=y>'],
)
def test_hostile_text_never_becomes_markup(typed: str) -> None:
    for html in (render_entities(typed, []), render_bale_markdown(typed)):
        assert "<" not in html.replace("&lt;", "")
        assert html.count("&") >= typed.count("&") + typed.count("<")
