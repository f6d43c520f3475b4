"""Bad input is reported with file, line and a hint — every problem, in one run."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from crisisd.config import load_config
from crisisd.errors import ProblemsError
from crisisd.library.loader import load_library
from crisisd.problems import Problem
from tests.minitree import DIRECTORY, PLAYBOOK, approve_all, make_tree

Mutation = Callable[[Path], None]


def edit(rel: str, old: str, new: str) -> Mutation:
    def apply(root: Path) -> None:
        path = root / rel
        text = path.read_text(encoding="utf-8")
        assert old in text, f"fixture drifted: {old!r} not in {rel}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    return apply


def write(rel: str, text: str) -> Mutation:
    def apply(root: Path) -> None:
        (root / rel).write_text(text, encoding="utf-8")

    return apply


def delete(rel: str) -> Mutation:
    def apply(root: Path) -> None:
        (root / rel).unlink()

    return apply


PB = "playbooks/mini.yaml"
DIR = "playbooks/directory.yaml"
LONG_FA = "این متن ثابت بسیار طولانی است و در پیامک جا نمی‌شود. " * 6

CASES: list[tuple[str, Mutation, str, int, str]] = [
    (
        "unknown officer",
        edit(PB, "officers: [officer.a]", "officers: [officer.aa]"),
        PB,
        4,
        "did you mean 'officer.a'",
    ),
    (
        "unknown member",
        edit(PB, "members: [staff.b]", "members: [staff.bb]"),
        PB,
        7,
        "did you mean 'staff.b'",
    ),
    (
        "misspelt escalate_to",
        edit(PB, "escalate_to: management", "escalate_to: managment"),
        PB,
        8,
        "did you mean 'management'",
    ),
    (
        "misspelt template",
        edit(
            PB, "template: alert, channels: [bale, sms]", "template: alret, channels: [bale, sms]"
        ),
        PB,
        20,
        "did you mean 'alert'",
    ),
    (
        "misspelt channel",
        edit(PB, "channels: [bale, sms]", "channels: [bael, sms]"),
        PB,
        20,
        "did you mean 'bale'",
    ),
    (
        "misspelt step audience",
        edit(PB, "{audience: emergency_team,", "{audience: emergncy_team,"),
        PB,
        20,
        "did you mean 'emergency_team'",
    ),
    ("bad delay", edit(PB, "after: 10m", "after: 10x"), PB, 22, "1h30m"),
    ("bad update_every", edit(PB, "update_every: 30m", "update_every: soon"), PB, 23, "e.g."),
    ("bad due", edit(PB, "due: 3 working days", "due: three days"), PB, 25, "working days"),
    ("cron fields", edit(PB, '"0 10 * * sat"', '"0 10 * sat"'), PB, 31, "0 10 * * sat"),
    ("cron value", edit(PB, '"0 10 * * sat"', '"0 25 * * sat"'), PB, 31, "0 10 * * sat"),
    (
        "drill severity",
        edit(PB, "scenario: fire/major", "scenario: fire/majr"),
        PB,
        31,
        "did you mean 'major'",
    ),
    (
        "drill type",
        edit(PB, "scenario: fire/major", "scenario: fyre/major"),
        PB,
        31,
        "did you mean 'fire'",
    ),
    (
        "duplicate key",
        edit(PB, "  officers: [officer.a]\n", "  officers: [officer.a]\n  officers: [officer.a]\n"),
        PB,
        5,
        "silently keep only the last",
    ),
    (
        "unknown key",
        edit(PB, "    external: true", "    externel: true"),
        PB,
        13,
        "did you mean 'external'",
    ),
    ("tab indent", edit(PB, "    members: [boss.c]", "\tmembers: [boss.c]"), PB, 10, "spaces only"),
    ("yaml syntax", edit(PB, "en: Mini Works}", "en: Mini Works"), PB, 4, "check"),
    ("empty playbook", write(PB, "# nothing here\n"), PB, 1, "add content"),
    ("id vs file name", edit(PB, "id: mini", "id: other"), PB, 2, "rename the file"),
    ("missing name", edit(PB, "    name: {fa: آتش‌سوزی, en: Fire}\n", ""), PB, 15, "add 'name:'"),
    ("wrong type", edit(PB, "    external: true", "    external: [yes]"), PB, 13, "true or false"),
    (
        "nobody reachable",
        edit(PB, "template: statement, channels: [email]", "template: statement, channels: [sms]"),
        PB,
        22,
        "add a channel the members have",
    ),
    ("not approved", delete("templates/approvals.yaml"), PB, 22, "crisisd approve"),
    (
        "edited since approval",
        edit(
            "templates/fa/statement.email.j2",
            "{{ update.details }}{% endblock %}",
            "{{ update.details }} (ویرایش){% endblock %}",
        ),
        PB,
        22,
        "crisisd approve",
    ),
    (
        "undefined variable",
        edit("templates/fa/alert.chat.j2", "opened_at|date", "opened_att|date"),
        "templates/fa/alert.chat.j2",
        2,
        "variable",
    ),
    (
        "template syntax",
        write("templates/fa/alert.sms.j2", "{{ factory.name \n"),
        "templates/fa/alert.sms.j2",
        1,
        "",
    ),
    (
        "sms over budget",
        write("templates/fa/alert.sms.j2", LONG_FA + "{{ incident.details }}\n"),
        "templates/fa/alert.sms.j2",
        1,
        "sms_parts",
    ),
    (
        "undefined variable in a drill only",
        write(
            "templates/fa/alert.sms.j2", "{{ factory.name }}\n{% if drill %}{{ nope }}{% endif %}\n"
        ),
        "templates/fa/alert.sms.j2",
        2,
        "undefined variable",
    ),
    (
        "sms over budget in a drill only",  # 200 of 201 units; the drill marker tips it
        write("templates/fa/alert.sms.j2", "ب" * 200 + "\n"),
        "templates/fa/alert.sms.j2",
        1,
        "in a drill (the marker counts too)",
    ),
    (
        "chat over 4096",
        write("templates/fa/statement.chat.j2", "ب" * 5000 + "\n"),
        "templates/fa/statement.chat.j2",
        1,
        "shorten",
    ),
    ("bad phone", edit(DIR, '"0912 111 4455"', '"0912 111"'), DIR, 9, "0912 345 6789"),
    ("bad email", edit(DIR, "boss@example.com", "boss@example"), DIR, 14, "name@example.com"),
    (
        "unknown messenger",
        edit(DIR, "chats: {bale: 1003}", "chats: {baal: 1003}"),
        DIR,
        13,
        "did you mean 'bale'",
    ),
    ("duplicate contact", edit(DIR, "  press.d:\n", "  boss.c:\n"), DIR, 15, "merge them"),
    (
        "email without subject",
        write("templates/en/alert.email.j2", "{% block text %}x{% endblock %}\n"),
        "templates/en/alert.email.j2",
        1,
        "block subject",
    ),
    (
        "missing template file",
        delete("templates/en/alert.email.j2"),
        PB,
        21,
        "create templates/en/alert.email.j2",
    ),
    (
        "bad template file name",
        write("templates/fa/alert.telegram.j2", "x"),
        "templates/fa/alert.telegram.j2",
        1,
        "<sms|chat|email>",
    ),
]


def _problems(root: Path) -> list[Problem]:
    config = make_tree_config(root)
    with pytest.raises(ProblemsError) as caught:
        load_library(config)
    return list(caught.value.problems)


def make_tree_config(root: Path):  # type: ignore[no-untyped-def]
    from crisisd.config import Config

    return Config(playbooks=root / "playbooks", templates=root / "templates")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    make_tree(tmp_path)
    return tmp_path


def test_the_mini_tree_is_clean(tree: Path) -> None:
    lib = load_library(make_tree_config(tree))
    assert set(lib.playbooks) == {"mini"}


@pytest.mark.parametrize(
    ("name", "mutate", "path", "line", "hint"), CASES, ids=[c[0] for c in CASES]
)
def test_bad_input_is_located(
    tree: Path, name: str, mutate: Mutation, path: str, line: int, hint: str
) -> None:
    old = Path.cwd()
    os.chdir(tree)  # problems show paths relative to the working directory
    try:
        mutate(tree)
        problems = _problems(tree)
    finally:
        os.chdir(old)
    located = [p for p in problems if p.path.endswith(path) and p.line == line]
    assert located, f"{name}: nothing at {path}:{line}; got:\n" + "\n".join(
        p.format() for p in problems
    )
    assert any(hint in p.format() for p in located), "\n".join(p.format() for p in located)


def test_every_problem_in_every_file_in_one_run(tree: Path) -> None:
    edit(PB, "officers: [officer.a]", "officers: [officer.aa]")(tree)
    edit(DIR, '"0912 111 4455"', '"0912 111"')(tree)
    problems = _problems(tree)
    assert {p.path.rsplit("/", 1)[-1] for p in problems} >= {"mini.yaml", "directory.yaml"}


def test_format_is_path_line_column_where_what_hint(tree: Path) -> None:
    edit(PB, "escalate_to: management", "escalate_to: managment")(tree)
    (problem,) = [p for p in _problems(tree) if "managment" in p.message]
    text = problem.format()
    assert text.endswith("did you mean 'management'?")
    assert ":8:" in text
    assert "audiences.emergency_team.ack.escalate_to:" in text


def test_missing_secret_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_TOKEN", raising=False)
    cfg = tmp_path / "config.yaml"
    cfg.write_text("messengers:\n  - name: bale\n    token: ${NOPE_TOKEN}\n", encoding="utf-8")
    with pytest.raises(ProblemsError) as caught:
        load_config(cfg)
    (problem,) = caught.value.problems
    assert problem.line == 3
    assert "NOPE_TOKEN" in problem.message


def test_unknown_config_key(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text("timezone: Asia/Tehran\nsandbx: true\n", encoding="utf-8")
    with pytest.raises(ProblemsError) as caught:
        load_config(cfg)
    (problem,) = caught.value.problems
    assert (problem.line, problem.hint) == (2, "did you mean 'sandbox'?")


def test_resolved_secret_never_printed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BALE_TOKEN_T", "123456:very-secret-token-value")
    cfg = tmp_path / "config.yaml"
    cfg.write_text("messengers:\n  - name: bale\n    token: ${BALE_TOKEN_T}\n", encoding="utf-8")
    config = load_config(cfg)
    dumped = repr(config) + str(config) + config.model_dump_json()
    assert "very-secret-token-value" not in dumped
    token = config.messengers[0].token
    assert token is not None
    assert token.get_secret_value() == "123456:very-secret-token-value"


def test_directory_and_playbook_samples_are_consistent() -> None:
    assert "officer.a" in DIRECTORY
    assert "officer.a" in PLAYBOOK


def test_approvals_pin_exact_bytes(tree: Path) -> None:
    approve_all(tree / "templates", "statement")
    lib = load_library(make_tree_config(tree))
    ref = lib.templates.find("fa", "statement", "email")
    assert ref is not None
    assert lib.approvals.describe(ref).startswith("approved by PR directorate")
