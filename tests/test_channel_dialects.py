"""One chat text in each dialect: readers see exactly what was typed, and what is sent fits.

Bale's Markdown is read back by :mod:`tests.bale_reader` (Bale's documented rules), not by
crisisd's own converter.
"""

from __future__ import annotations

from html import escape

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from crisisd.channels.balemarkdown import to_bale_markdown
from crisisd.channels.chathtml import spans, to_plain, visible_text
from crisisd.channels.dialects import RLM, measure, render_chat, toast, utf16_units
from crisisd.formats.textfit import telegram_length
from tests.bale_reader import bale_visible

# What people type, markup characters of every dialect included (no WORD JOINER: crisisd's).
TYPED = st.text(
    alphabet=st.sampled_from(list("*_`[]()<>&;#~|\\ \n\t") + list("ab2دسآ‌") + [RLM, "\u202e"]),
    max_size=40,
)
HOSTILE = "<b>x</b> *bold* [x](y) _ ``` `a` &amp; \u202e snake_case 2*3"


def test_templates_keep_their_look_where_bale_can_show_it() -> None:
    html = f"{RLM}<b>اعلام حادثه</b>\nسطح: <b>جدی</b>\n<i>جزئیات</i> و <b>پایان</b>."
    # "پایان." ends on a dot, where Bale would show the asterisks: it goes unstyled.
    assert to_bale_markdown(html) == f"*{RLM}اعلام حادثه*\nسطح: *جدی*\n_جزئیات_ و پایان."


def test_hostile_text_reaches_every_reader_exactly_as_typed() -> None:
    html = f"{RLM}<b>هشدار</b>\n{escape(HOSTILE)}\n<i>{escape(HOSTILE)}</i>"
    shown = f"{RLM}هشدار\n{HOSTILE}\n{HOSTILE}"
    assert bale_visible(to_bale_markdown(html)) == shown
    assert to_plain(html) == shown
    assert visible_text(html) == shown
    assert " *bold* " not in to_bale_markdown(html)  # defused: a joiner beside each marker


def test_links_and_other_tags() -> None:
    html = '<a href="https://example.ir/a_b">پیوند</a> <code>KMT-479</code> <u>x</u>'
    assert to_bale_markdown(html) == "[پیوند](https://example.ir/a_b) KMT-479 x"
    assert to_plain(html) == "پیوند (https://example.ir/a_b) KMT-479 x"
    odd = '<a href="javascript:alert(1)">بزن</a>'
    assert to_bale_markdown(odd) == "بزن (javascript:alert(1))"  # never a Markdown link
    assert [s.style for s in spans("<b>a<i>b</i></b><i>c</i>")] == ["bold", "italic"]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(a=TYPED, b=TYPED, c=TYPED)
@example(a="", b="2\n\u200f", c="")  # an RLM ending a line is not the next line's
def test_bale_and_plain_readers_see_the_typed_text(a: str, b: str, c: str) -> None:
    html = f"<b>{escape(a)}</b> {escape(b)}\n<i>{escape(c)}</i><b>{escape(b)}</b>"
    shown = f"{a} {b}\n{c}{b}"
    assert bale_visible(to_bale_markdown(html)) == shown
    assert to_plain(html) == shown


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(typed=TYPED, repeat=st.integers(min_value=1, max_value=400))
def test_what_is_sent_fits_in_every_dialect(typed: str, repeat: int) -> None:
    html = f"{RLM}<b>هشدار</b> " + escape(typed * repeat) + " <i>پایان</i>"
    for dialect in ("telegram_html", "bale_markdown", "plain"):
        out = render_chat(html, dialect, lang="fa", limit=500)
        sent = telegram_length(out.text) if dialect == "telegram_html" else utf16_units(out.text)
        assert sent <= 500
        assert out.parse_mode == ("HTML" if dialect == "telegram_html" else None)
        if measure(html, dialect) <= 500:
            assert "…" not in out.text  # nothing was cut


def test_the_rlm_is_counted_before_fitting_and_added_once() -> None:
    text = "<b>x</b>" + "د" * 4095
    out = render_chat(text, "telegram_html", lang="fa")
    assert out.text.startswith(RLM) and telegram_length(out.text) == 4096
    again = render_chat(RLM + "کوتاه", "bale_markdown", lang="fa")
    assert again.text == RLM + "کوتاه"
    assert render_chat("short", "plain", lang="en").text == "short"


def test_a_tail_is_never_cut() -> None:
    out = render_chat("د" * 5000, "bale_markdown", lang="fa", tail="\n\n✅ دریافت شد")
    assert out.text.endswith("…\n\n✅ دریافت شد")
    assert utf16_units(out.text) <= 4096


def test_toasts() -> None:
    assert toast("✅ <b>دریافت شد</b> &amp; ساعت ۱۰:۰۰") == "✅ دریافت شد & ساعت ۱۰:۰۰"
