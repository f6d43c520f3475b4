"""`crisisd validate` catches real set-up mistakes, once each, in one run."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from crisisd.config import Config, Messenger
from crisisd.errors import ProblemsError
from crisisd.library.loader import load_library
from crisisd.planning.preview import preview_open
from crisisd.problems import Problem
from tests.minitree import make_tree


def tree(tmp_path: Path) -> Config:
    return make_tree(tmp_path)


def edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def warnings_of(config: Config) -> list[Problem]:
    lib = load_library(config)
    assert all(not w.is_error for w in lib.warnings)
    return list(lib.warnings)


def test_the_mini_tree_has_nothing_to_say(tmp_path: Path) -> None:
    assert warnings_of(tree(tmp_path)) == []


def test_a_landline_cannot_receive_sms(tmp_path: Path) -> None:
    config = tree(tmp_path)
    edit(tmp_path, "playbooks/directory.yaml", '"0912 111 4455"', '"021 6600 1234"')
    (found,) = warnings_of(config)
    assert "landline" in found.message and "cannot receive SMS" in found.message
    assert found.path.endswith("directory.yaml") and found.line == 9
    assert "warning:" in found.format()


def test_an_officer_the_bot_cannot_reach_is_named(tmp_path: Path) -> None:
    config = tree(tmp_path)
    edit(tmp_path, "playbooks/directory.yaml", "    chats: {bale: 1001}\n", "")
    (found,) = warnings_of(config)
    assert "officer.a" in found.message and "/start" in found.hint
    assert found.path.endswith("mini.yaml")


def test_arabic_letters_are_normalised_with_a_note(tmp_path: Path) -> None:
    config = tree(tmp_path)
    edit(tmp_path, "playbooks/directory.yaml", "علی بهرامی", "علي بهرامي")
    (found,) = warnings_of(config)
    assert "ي/ك" in found.message and found.line == 7
    lib = load_library(config)
    assert lib.directory.contacts["staff.b"].name.fa == "علی بهرامی"


def test_a_messenger_left_out_of_the_config_is_one_warning_and_is_skipped(
    tmp_path: Path,
) -> None:
    config = tree(tmp_path).model_copy(
        update={"messengers": [Messenger(name="bale", base_url="https://tapi.bale.ai/bot")]}
    )
    edit(
        tmp_path,
        "playbooks/mini.yaml",
        "template: alert, channels: [bale, sms]",
        "template: alert, channels: [telegram, bale, sms]",
    )
    edit(
        tmp_path,
        "playbooks/mini.yaml",
        "template: alert, channels: [bale, email]",
        "template: alert, channels: [telegram, bale, email]",
    )
    found = warnings_of(config)
    steps = [w for w in found if w.path.endswith("mini.yaml")]
    assert len(steps) == 1 and "2 step(s)" in steps[0].message  # one per playbook
    chats = [w for w in found if w.path.endswith("directory.yaml")]
    assert len(chats) == 1 and "telegram" in chats[0].message
    plan = preview_open(
        load_library(config), "mini", "fire", "major", "", "", False, datetime.now(UTC)
    )
    assert all("telegram" not in m.channels for m in plan.messages)


def test_one_line_per_problem_and_every_problem_in_one_run(tmp_path: Path) -> None:
    config = make_tree(tmp_path, approve_statements=False)  # press template unapproved
    edit(tmp_path, "playbooks/mini.yaml", "members: [boss.c]", "members: [boss.cc]")
    edit(tmp_path, "templates/fa/alert.chat.j2", "{{ incident.details }}", "{{ incident.detail }}")
    with pytest.raises(ProblemsError) as caught:
        load_library(config)
    lines = [p.format() for p in caught.value.problems]
    unapproved = [line for line in lines if "statement.email.j2" in line and "press" in line]
    assert len(unapproved) == 1, lines
    assert any("unknown contact 'boss.cc'" in line for line in lines)
    assert any("alert.chat.j2" in line for line in lines), "renders checked in the same run"
    assert len(lines) == len(set(lines))


def test_no_suggestion_for_an_unrelated_name(tmp_path: Path) -> None:
    config = tree(tmp_path)
    edit(tmp_path, "playbooks/mini.yaml", "members: [boss.c]", "members: [hse.zz]")
    with pytest.raises(ProblemsError) as caught:
        load_library(config)
    (found,) = [p for p in caught.value.problems if "hse.zz" in p.message]
    assert "did you mean" not in found.hint


def test_contacts_sharing_a_phone_or_a_chat_are_named(tmp_path: Path) -> None:
    config = tree(tmp_path)
    edit(tmp_path, "playbooks/directory.yaml", '"0912 111 4455"', '"۰۹۱۲ ۱۱۱ ۲۲۳۳"')  # officer.a's
    edit(tmp_path, "playbooks/directory.yaml", "chats: {bale: 1003}", "chats: {bale: 1002}")
    phone, chat = warnings_of(config)
    assert "officer.a, staff.b share the phone number +989121112233" in phone.message
    assert "invite links" in phone.hint
    assert "staff.b, boss.c share the bale chat id 1002" in chat.message
    assert "only staff.b can acknowledge" in chat.message
