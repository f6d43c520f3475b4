"""Left-to-right fragments in Persian text are isolated; the user's own words are not touched."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from crisisd.config import load_config
from crisisd.formats.bidi import LRI, PDI, isolate_ltr, isolate_ltr_html
from crisisd.library.loader import load_library
from crisisd.planning.preview import preview_open

ROOT = Path(__file__).resolve().parent.parent


def test_phone_numbers_ids_addresses_and_commands_are_isolated() -> None:
    text = "تلفن ۰۹۱۲-۰۰۰-۱۱۰۱، شناسه KMT-479، ایمیل hse@example.com، پیگیری /status KMT-479"
    out = isolate_ltr(text)
    for fragment in ("۰۹۱۲-۰۰۰-۱۱۰۱", "KMT-479", "hse@example.com", "/status KMT-479"):
        assert f"{LRI}{fragment}{PDI}" in out
    assert out.replace(LRI, "").replace(PDI, "") == text


def test_links_are_not_isolated_in_text() -> None:
    text = "تأیید: https://crisis.example.com/v1/ack/AZNnrKSS-X_9 سپاس"
    assert isolate_ltr(text) == text  # an SMS app would take the PDI into the link


def test_plain_numbers_and_times_are_left_alone() -> None:
    text = "سالن ۲، ساعت ۱۸:۴۶، ۳ نفر"
    assert isolate_ltr(text) == text


def test_html_gets_bdi_in_text_only() -> None:
    html = '<p title="KMT-479"><a href="https://x.example/a">https://x.example/a</a> KMT-479 &amp; ۰۹۱۲-۰۰۰-۱۱۰۱</p>'
    out = isolate_ltr_html(html)
    assert 'title="KMT-479"' in out and 'href="https://x.example/a"' in out
    assert '<bdi dir="ltr">KMT-479</bdi>' in out
    assert '<bdi dir="ltr">۰۹۱۲-۰۰۰-۱۱۰۱</bdi>' in out
    assert "&amp;" in out


@given(st.text())
def test_isolating_only_adds_isolates(text: str) -> None:
    clean = text.replace(LRI, "").replace(PDI, "")
    assert isolate_ltr(clean).replace(LRI, "").replace(PDI, "") == clean


def test_rendered_persian_isolates_the_officers_phone_but_not_the_users_words() -> None:
    lib = load_library(load_config(ROOT / "config.yaml"))
    details = "KMT-479 <b>x</b> 0912-000-1101"
    plan = preview_open(
        lib, "shahriar-steel", "fire", "major", details, "", False, datetime.now(UTC)
    )
    fa = [m for m in plan.messages if m.lang == "fa" and "chat" in m.renderings]
    assert fa
    texts = [m.renderings["chat"].text for m in fa]
    assert any(f"{LRI}" in t for t in texts)  # the officer's phone, the incident id
    typed = "KMT-479 &lt;b&gt;x&lt;/b&gt; 0912-000-1101"  # escaped for HTML, nothing added
    assert any(typed in t for t in texts)
    emails = [m.renderings["email"] for m in plan.messages if "email" in m.renderings]
    fa_html = [r.html for r in emails if r.html and 'lang="fa"' in r.html]
    assert fa_html and any('<bdi dir="ltr">' in h for h in fa_html)
