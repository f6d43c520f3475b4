"""YAML with positions: the fast event path reads what PyYAML's SafeLoader reads, reports
duplicate keys at the same place as the node path, and finds positions when asked."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from crisisd.parsing.yamlfast import NEEDS_NODES, fast_data
from crisisd.parsing.yamlsource import parse_yaml
from crisisd.problems import Problem

ROOT = Path(__file__).resolve().parents[1]

SCALARS = """\
plain: text
persian: مریم احمدی
quoted: "0912 000 1101"
single: 'it''s'
empty:
tilde: ~
nulls: [null, Null, NULL]
bools: [yes, No, on, OFF, true, False, y, n]
ints: [0, -12, +7, 0o17, 017, 0x1F, 1_000, 190:20:30, 0b101]
floats: [1.5, -0.25, 6.8e+2, .inf, -.Inf, .nan, 1_000.5]
when: 2026-11-28
stamp: 2026-11-28 10:30:00+03:30
block: |
  line one
  line two
folded: >
  folded
  text
flow: {a: 1, b: [x, "y", 3]}
nested:
  - {bale: 1001, telegram: 2002}
  - - deep
    - 2
1001: numeric key
true: boolean key
"""


@pytest.mark.parametrize(
    "text",
    [
        SCALARS,
        (ROOT / "config.yaml").read_text("utf-8"),
        (ROOT / "playbooks" / "directory.yaml").read_text("utf-8"),
        (ROOT / "playbooks" / "malard-paint.yaml").read_text("utf-8"),
        "- just\n- a list\n",
        "a scalar\n",
    ],
)
def test_the_fast_path_reads_what_pyyaml_reads(text: str) -> None:
    expected = yaml.load(text, Loader=yaml.SafeLoader)
    got = fast_data(text, "x.yaml", [])
    assert got is not NEEDS_NODES
    assert _keys_as_text(expected) == got


def _keys_as_text(value: object) -> object:
    """crisisd reads every key as text (``1001:`` is the key ``"1001"``)."""
    if isinstance(value, dict):
        return {str(k): _keys_as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_keys_as_text(v) for v in value]
    return value


@pytest.mark.parametrize(
    "text",
    [
        "base: &b {x: 1}\nother: *b\n",
        "base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n",
        "tagged: !!str 12\n",
        "? [a, b]\n: complex key\n",
        "one: 1\n---\ntwo: 2\n",
    ],
)
def test_what_the_fast_path_leaves_to_the_node_path(tmp_path: Path, text: str) -> None:
    assert fast_data(text, "x.yaml", []) is NEEDS_NODES
    problems: list[Problem] = []
    doc = parse_yaml(text, tmp_path / "x.yaml", problems)
    if doc is not None and not problems:  # the node path reads it as before (merges resolved)
        assert doc.data == _keys_as_text(yaml.load(text, Loader=yaml.SafeLoader))


DUPLICATES = """\
contacts:
  a:
    name: {fa: الف, en: A}
  b:
    phone: "0912 000 0001"
    phone: "0912 000 0002"
  a:
    name: {fa: دوباره, en: again}
list:
  - {x: 1, x: 2}
"""


def test_duplicate_keys_are_reported_where_they_stand(tmp_path: Path) -> None:
    problems: list[Problem] = []
    doc = parse_yaml(DUPLICATES, tmp_path / "d.yaml", problems)
    assert doc is not None
    found = sorted((p.line, p.column, p.where, p.message) for p in problems)
    assert found == [
        (6, 5, "contacts.b.phone", "duplicate key 'phone' (first defined on line 5)"),
        (7, 3, "contacts.a", "duplicate key 'a' (first defined on line 2)"),
        (10, 12, "list[0].x", "duplicate key 'x' (first defined on line 10)"),
    ]
    assert doc.data["contacts"]["a"]["name"]["en"] == "A"  # the first one is kept
    assert doc.data["contacts"]["b"]["phone"] == "0912 000 0001"


def test_positions_are_found_when_a_problem_needs_one(tmp_path: Path) -> None:
    text = "contacts:\n  a:\n    name: {fa: الف, en: A}\n    phone: bad\n"
    doc = parse_yaml(text, tmp_path / "p.yaml", [])
    assert doc is not None
    problem = doc.problem(("contacts", "a", "phone"), "not a phone number")
    assert (problem.line, problem.column) == (4, 5)  # a key's value is shown at its key
    assert doc.pos(("contacts", "a", "email")) == (2, 3)  # the nearest parent's place
