"""YAML loading that remembers where every value came from and refuses what PyYAML forgives.

PyYAML keeps the last of two equal keys without a word and reports tabs in a way
an operator cannot act on; here both become located problems. The result is plain
data plus a map from each value's path to its (line, column), so later checks can
point at the exact spot in the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from crisisd.problems import Problem, display_path

Loc = tuple[str | int, ...]


@dataclass(slots=True)
class Document:
    """A parsed YAML file: its data and the position of every value in it."""

    path: Path
    data: Any
    positions: dict[Loc, tuple[int, int]] = field(default_factory=dict)

    @property
    def shown(self) -> str:
        return display_path(self.path)

    def pos(self, loc: Loc) -> tuple[int, int]:
        """Line and column (1-based) of the value at ``loc``, or of its nearest parent."""
        for end in range(len(loc), -1, -1):
            found = self.positions.get(tuple(loc[:end]))
            if found is not None:
                return found
        return (1, 1)

    def problem(self, loc: Loc, message: str, hint: str = "") -> Problem:
        line, col = self.pos(loc)
        return Problem(self.shown, line, col, dotted(loc), message, hint)


def dotted(loc: Loc) -> str:
    """``("audiences", "press", "members", 2)`` → ``audiences.press.members[2]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class _Builder:
    def __init__(self, loader: yaml.SafeLoader, doc: Document, problems: list[Problem]) -> None:
        self.loader = loader
        self.doc = doc
        self.problems = problems

    def build(self, node: yaml.Node, loc: Loc) -> Any:
        self.doc.positions[loc] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, loc)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*loc, i)) for i, item in enumerate(node.value)]
        return self.loader.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[Any, Any]:
        self.loader.flatten_mapping(node)  # resolves YAML merge keys (<<)
        out: dict[Any, Any] = {}
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = self.loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | bool | float):
                line, col = key_node.start_mark.line + 1, key_node.start_mark.column + 1
                self.problems.append(
                    Problem(self.doc.shown, line, col, dotted(loc), "a key must be plain text")
                )
                continue
            key = str(key) if not isinstance(key, str) else key
            line = key_node.start_mark.line + 1
            if key in seen:
                self.problems.append(
                    Problem(
                        self.doc.shown,
                        line,
                        key_node.start_mark.column + 1,
                        dotted((*loc, key)),
                        f"duplicate key '{key}' (first defined on line {seen[key]})",
                        "YAML would silently keep only the last one; merge them or rename one",
                    )
                )
                continue
            seen[key] = line
            out[key] = self.build(value_node, (*loc, key))
            self.doc.positions[(*loc, key)] = (line, key_node.start_mark.column + 1)
        return out


def load_yaml(path: Path, problems: list[Problem]) -> Document | None:
    """Parse ``path``; append located problems and return None when it cannot be used."""
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(Problem(shown, 1, 1, "", "file not found", "check the path"))
        return None
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(shown, 1, 1, "", f"cannot read file: {exc}", "save it as UTF-8"))
        return None
    return parse_yaml(text, path, problems)


def parse_yaml(text: str, path: Path, problems: list[Problem]) -> Document | None:
    """Parse YAML text already read from ``path``."""
    doc = Document(path=path, data=None)
    before = len(problems)
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.lstrip(" ")
        if stripped.startswith("\t"):
            problems.append(
                Problem(
                    doc.shown,
                    number,
                    len(raw) - len(stripped) + 1,
                    "",
                    "tab used for indentation",
                    "YAML indents with spaces only; replace the tab with spaces",
                )
            )
    if len(problems) > before:
        return None
    if not text.strip() or all(
        not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()
    ):
        problems.append(Problem(doc.shown, 1, 1, "", "file is empty", "add content or delete it"))
        return None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            problems.append(Problem(doc.shown, 1, 1, "", "file is empty", "add content"))
            return None
        doc.data = _Builder(loader, doc, problems).build(node, ())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or exc.context or "invalid YAML"
        problems.append(
            Problem(doc.shown, line, col, "", f"YAML syntax error: {what}", _yaml_hint(what))
        )
        return None
    except yaml.YAMLError as exc:
        problems.append(Problem(doc.shown, 1, 1, "", f"YAML error: {exc}", ""))
        return None
    finally:
        loader.dispose()
    # Duplicate keys were reported above; the rest of the file is still checked.
    return doc


def _yaml_hint(what: str) -> str:
    if "mapping values are not allowed" in what:
        return "a value containing ': ' must be quoted, or the indentation is off"
    if "could not find expected ':'" in what:
        return "a key is missing its ':' or a multi-line value needs '|'"
    if "found character '\\t'" in what:
        return "YAML indents with spaces only"
    if "found undefined alias" in what:
        return "the &anchor must be defined before *alias is used"
    return "check indentation and quoting around this spot"
