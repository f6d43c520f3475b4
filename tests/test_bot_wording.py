"""The bot's words as a Persian reader meets them: every text in both languages with the
same fields, no "·" (it reads as the Persian zero), no playbook key or Latin id in
Persian text, and the reviewed phrasings."""

from __future__ import annotations

import re
import string

import pytest

from crisisd.bot.texts import T, say
from crisisd.bot.texts_follow import COMMANDS
from crisisd.scheduler.jobs import TASK_TEXT, UPDATE_TEXT

PERSIAN = {key: texts["fa"] for key, texts in T.items()} | {
    "reminder_update": UPDATE_TEXT["fa"],
    "reminder_task": TASK_TEXT["fa"],
}
REJECTED = {
    "·": "reads as the Persian zero; use the Persian comma",
    "مال شما": "colloquial; برای شما",
    "بیش از حد زیاد": "redundant",
    "موعد دارد": "مهلت … است",
    "درباره ": "دربارهٔ, with its hamza",
}
# Latin a Persian reader may meet: commands, HTML tags, the fields filled in, "KMT-479".
ALLOWED_LATIN = re.compile(r"/[a-z]+|<[^>]+>|\{[a-z_]+\}|[A-Z]{3}-\d{3}")


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("key", sorted(T))
def test_each_text_has_both_languages_with_the_same_fields(key: str) -> None:
    assert set(T[key]) == {"fa", "en"}
    assert _fields(T[key]["fa"]) == _fields(T[key]["en"]), key


@pytest.mark.parametrize("key", sorted(PERSIAN))
def test_persian_text_reads_right(key: str) -> None:
    text = PERSIAN[key]
    found = [f"{bad!r}: {why}" for bad, why in REJECTED.items() if bad in text]
    assert not found, f"{key}: {found}"
    if key != "status_names":  # its keys are parsed, not shown
        latin = re.findall(r"[A-Za-z_]{2,}", ALLOWED_LATIN.sub("", text))
        assert latin == [], f"{key}: Latin in Persian text: {latin}"


def test_the_command_menu_is_in_both_languages() -> None:
    for name, texts in COMMANDS.items():
        assert texts["fa"] and texts["en"], name
        assert not re.search(r"[A-Za-z]", texts["fa"]), name


def test_numbers_reach_a_persian_reader_in_persian_digits() -> None:
    assert "۲ نفر" in say("cas_injured", "fa", count=2)
    assert say("cas_injured", "en", count=2).endswith("2")
