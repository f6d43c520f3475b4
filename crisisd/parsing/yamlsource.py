"""YAML loading that remembers where every value came from and refuses what PyYAML forgives.

PyYAML keeps the last of two equal keys without a word and reports tabs in a way
an operator cannot act on; here both become located problems. The result is plain
data plus a map from each value's path to its (line, column), so later checks can
point at the exact spot in the file. Data comes from libyaml's events directly
(:mod:`crisisd.parsing.yamlfast`); positions are found when a problem first needs one.
"""

from __future__ import annotations

import contextlib
import re
import zlib
from dataclasses import InitVar, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from crisisd.parsing.yamlfast import NEEDS_NODES as _NEEDS_NODES
from crisisd.parsing.yamlfast import Entries, Loc, dotted, fast_data
from crisisd.problems import Problem, display_path


@dataclass(slots=True)
class Document:
    """A parsed YAML file: its data and, found when first asked for, where each value is.

    Positions cost more memory than the data itself (a 100,000-contact directory has a
    million values), and they are needed only to point at a problem: the text is parsed
    again for them on the first :meth:`pos`, and dropped with :meth:`release`.
    """

    path: Path
    data: Any
    text: InitVar[str | None] = None
    # The text, compressed (a tenth of its size), until positions are found or released.
    _packed: bytes | None = field(default=None, init=False, repr=False)
    _positions: dict[Loc, tuple[int, int]] | None = field(default=None, init=False, repr=False)

    def __post_init__(self, text: str | None) -> None:
        if text:
            self._packed = zlib.compress(text.encode("utf-8"), 1)

    @property
    def shown(self) -> str:
        return display_path(self.path)

    @property
    def positions(self) -> dict[Loc, tuple[int, int]]:
        if self._positions is None:
            packed, self._packed = self._packed, None
            text = zlib.decompress(packed).decode("utf-8") if packed else ""
            self._positions = _positions_of(text, self.path) if text else {}
        return self._positions

    def release(self) -> None:
        """Loading is over: the data lives on in the models built from it, and nobody will
        ask where a value was. Forget the data and the text (a large directory's are most
        of the memory a load takes)."""
        self.data, self._packed = None, None

    def pos(self, loc: Loc) -> tuple[int, int]:
        """Line and column (1-based) of the value at ``loc``, or of its nearest parent."""
        positions = self.positions
        for end in range(len(loc), -1, -1):
            found = positions.get(tuple(loc[:end]))
            if found is not None:
                return found
        return (1, 1)

    def problem(self, loc: Loc, message: str, hint: str = "") -> Problem:
        line, col = self.pos(loc)
        return Problem(self.shown, line, col, dotted(loc), message, hint)


# libyaml's parser when PyYAML was built with it (10–20× faster on a large directory); its
# nodes carry the same marks, so positions and duplicate keys are found the same way.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

__all__ = ["Document", "Entries", "Loc", "dotted", "load_yaml", "parse_yaml"]


class _Builder:
    def __init__(
        self,
        loader: yaml.SafeLoader,
        shown: str,
        problems: list[Problem],
        positions: dict[Loc, tuple[int, int]],
    ) -> None:
        self.loader = loader
        self.shown = shown
        self.problems = problems
        self.positions = positions

    def build(self, node: yaml.Node, loc: Loc) -> Any:
        self.positions[loc] = (node.start_mark.line + 1, node.start_mark.column + 1)
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
                    Problem(self.shown, line, col, dotted(loc), "a key must be plain text")
                )
                continue
            key = str(key) if not isinstance(key, str) else key
            line = key_node.start_mark.line + 1
            if key in seen:
                self.problems.append(
                    Problem(
                        self.shown,
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
            self.positions[(*loc, key)] = (line, key_node.start_mark.column + 1)
        return out


def load_yaml(
    path: Path, problems: list[Problem], entries: Entries | None = None
) -> Document | None:
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
    return parse_yaml(text, path, problems, entries)


_TAB_INDENT = re.compile(r"^ *\t", re.MULTILINE)


def parse_yaml(
    text: str, path: Path, problems: list[Problem], entries: Entries | None = None
) -> Document | None:
    """Parse YAML text already read from ``path``; ``entries``: see :func:`fast_data`."""
    doc = Document(path=path, data=None, text=text)
    before = len(problems)
    if _TAB_INDENT.search(text):
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
    try:
        data = fast_data(text, doc.shown, problems, entries)
        if data is _NEEDS_NODES:  # anchors, aliases, merge keys or tags: the full loader
            found: dict[Loc, tuple[int, int]] = {}
            data = _node_data(text, doc.shown, problems, found)
            doc._positions, doc._packed = found, None
        if data is None:
            problems.append(Problem(doc.shown, 1, 1, "", "file is empty", "add content"))
            return None
        doc.data = data
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
    # Duplicate keys were reported above; the rest of the file is still checked.
    return doc


def _node_data(
    text: str, shown: str, problems: list[Problem], positions: dict[Loc, tuple[int, int]]
) -> Any:
    """The data of ``text`` through composed nodes, noting every value's position."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        return _Builder(loader, shown, problems, positions).build(node, ())
    finally:
        loader.dispose()


def _positions_of(text: str, path: Path) -> dict[Loc, tuple[int, int]]:
    found: dict[Loc, tuple[int, int]] = {}
    # It parsed once already: an error here is not a finding of its own.
    with contextlib.suppress(yaml.YAMLError):
        _node_data(text, display_path(path), [], found)
    return found


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
