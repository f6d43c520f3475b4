"""`crisisd run`'s load on two cores gives the library and the problems load_library gives:
the same models, the same warnings, the same refusal with the same located problems."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

import pytest

from crisisd.config import Config
from crisisd.errors import ProblemsError
from crisisd.library.loader import load_library
from crisisd.library.model import Library
from crisisd.library.parallel import load_library_parallel
from crisisd.problems import Problem
from tests.minitree import make_tree

ROOT = Path(__file__).resolve().parents[1]


def _outcome(load: object, config: Config) -> tuple[str, object]:
    try:
        lib: Library = load(config)  # type: ignore[operator]
    except ProblemsError as exc:
        return "refused", [p.format() for p in exc.problems]
    return "loaded", (
        lib.directory.contacts,
        lib.playbooks,
        sorted(lib.templates.refs.items()),
        lib.approvals,
        [p.format() for p in lib.warnings],
    )


def test_the_shipped_playbooks_load_the_same() -> None:
    config = Config(playbooks=ROOT / "playbooks", templates=ROOT / "templates")
    children: list[list[int]] = []
    parallel = _outcome(
        lambda c: load_library_parallel(c, meanwhile=[lambda: children.append(_children())]),
        config,
    )
    assert parallel == _outcome(load_library, config)
    assert parallel[0] == "loaded"
    # what runs meanwhile runs here, once, while a child is there (at work, or done and
    # not yet waited for)
    assert len(children) == 1 and children[0]


def test_every_step_meanwhile_runs_once_in_order(tmp_path: Path) -> None:
    config = make_tree(tmp_path)
    ran: list[int] = []
    load_library_parallel(config, meanwhile=[partial(ran.append, i) for i in range(6)])
    assert ran == list(range(6))


def _children() -> list[int]:
    """This process's child processes, as /proc lists them."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            found.append(int(stat.parent.name))
    return found


def test_the_templates_come_compiled_from_the_child(tmp_path: Path) -> None:
    config = make_tree(tmp_path)
    lib = load_library_parallel(config)
    assert lib.templates.compiled["plain"] and lib.templates.compiled["html"]
    assert not lib.templates.problems
    (ref,) = [r for r in lib.templates.refs.values() if r.rel == "fa/alert.sms.j2"]
    assert lib.templates.render(ref, _context()).text  # renders from the code it was given


@pytest.mark.parametrize(
    ("rel", "old", "new"),
    [
        ("playbooks/mini.yaml", "officers: [officer.a]", "officers: [officer.aa]"),
        ("playbooks/directory.yaml", '"0912 111 4455"', '"0912 111"'),
        ("templates/fa/alert.chat.j2", "opened_at|date", "opened_att|date"),
        ("templates/fa/alert.sms.j2", "{{", "{{ factory.name \n{{"),
    ],
    ids=["playbook", "directory", "render", "template syntax"],
)
def test_a_broken_set_is_refused_the_same(tmp_path: Path, rel: str, old: str, new: str) -> None:
    config = make_tree(tmp_path)
    path = tmp_path / rel
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), "utf-8")
    ran: list[bool] = []
    parallel = _outcome(lambda c: load_library_parallel(c, [lambda: ran.append(True)]), config)
    assert parallel == _outcome(load_library, config)
    assert parallel[0] == "refused"
    problems: list[Problem] = []
    assert isinstance(parallel[1], list) and parallel[1] != problems


def test_no_directory_is_refused_without_waiting(tmp_path: Path) -> None:
    config = make_tree(tmp_path)
    (tmp_path / "playbooks" / "directory.yaml").unlink()
    with pytest.raises(ProblemsError) as caught:
        load_library_parallel(config)
    assert any("contacts directory not found" in p.message for p in caught.value.problems)


def _context() -> dict[str, object]:
    from datetime import UTC, datetime

    return {
        "lang": "fa",
        "drill": False,
        "incident": {"id": "K", "type_name": "t", "severity_name": "s", "details": "d",
                     "location": "l", "opened_at": datetime(2026, 1, 1, tzinfo=UTC)},
        "factory": {"id": "mini", "name": "Mini"},
        "officer": {"name": "o", "phone": "", "email": ""},
        "recipient": {"name": "r", "lang": "fa"},
        "audience": {"id": "a", "name": "a"},
        "ack_required": False,
        "ack_url": None,
    }  # fmt: skip
