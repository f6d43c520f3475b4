"""The officer's preview: within Telegram's 4096 whatever the statement, user text inert."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from crisisd.bot.dryrun import open_plan
from crisisd.bot.previews import open_preview
from crisisd.channels.dialects import measure, render_chat, utf16_units
from crisisd.formats.textfit import TELEGRAM_LIMIT, telegram_length
from crisisd.library.loader import load_library
from tests.botworld import make_world_tree
from tests.minitree import approve_all

LONG_STATEMENT = """\
{% block subject %}{{ factory.name }} — {{ incident.type_name }}{% endblock %}
{% block text %}{% for i in range(12) %}{{ incident.details }}
{% endfor %}{% endblock %}
{% block html %}<p>{{ incident.details }}</p>{% endblock %}
"""


def test_a_long_statement_is_shortened_in_the_preview_and_the_counts_stay(tmp_path: Path) -> None:
    config = make_world_tree(tmp_path / "tree")
    for lang in ("fa", "en"):
        (tmp_path / "tree" / "templates" / lang / "statement.email.j2").write_text(
            LONG_STATEMENT, encoding="utf-8"
        )
    approve_all(tmp_path / "tree" / "templates", "statement")
    lib = load_library(config)
    details = ("<b>{{ 7*7 }}</b> & دود " * 60)[:1000]
    now = datetime(2026, 11, 27, 7, 30, tzinfo=UTC)
    plan = open_plan(
        lib,
        factory="mini",
        incident_type="fire",
        severity="major",
        details=details,
        reporter="officer.a",
        drill=False,
        drill_audiences=None,
        now=now,
    )
    text = open_preview(
        lib,
        plan,
        factory="mini",
        incident_type="fire",
        severity="major",
        details=details,
        drill=False,
        lang="fa",
        now=now,
    )
    assert telegram_length(render_chat(text, "telegram_html", lang="fa").text) <= TELEGRAM_LIMIT
    assert telegram_length(text) <= TELEGRAM_LIMIT  # it fits by itself, not by the last cut
    assert "این‌جا کوتاه شده" in text  # the statement says it was shortened here
    assert "press: ۱ نفر" in text and "emergency team: ۱ نفر" in text  # the counts stay
    assert "{{ 7*7 }}" in text and "49" not in text  # user text is never a template
    assert "&lt;b&gt;" in text and "<b>{{" not in text  # and never markup
    assert "ساعت ۱۱:۳۰" in text  # next update: 30 min after 07:30 UTC is 11:30 in Tehran

    # On Bale the same preview is measured as Bale is sent it (markers and joiners count).
    bale = open_preview(
        lib,
        plan,
        factory="mini",
        incident_type="fire",
        severity="major",
        details=details,
        drill=False,
        lang="fa",
        now=now,
        dialect="bale_markdown",
    )
    assert measure(bale, "bale_markdown") <= TELEGRAM_LIMIT
    assert utf16_units(render_chat(bale, "bale_markdown", lang="fa").text) <= TELEGRAM_LIMIT
    assert "ساعت ۱۱:۳۰" in bale and "press: ۱ نفر" in bale
