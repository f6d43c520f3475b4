"""Located problems: what is wrong, where (file:line:column, dotted path) and a hint."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in one file, formatted as ``path:line:col: dotted.path: message — hint``."""

    path: str
    line: int
    column: int
    where: str
    message: str
    hint: str = ""

    def format(self) -> str:
        where = f" {self.where}:" if self.where else ""
        hint = f" — {self.hint}" if self.hint else ""
        return f"{self.path}:{self.line}:{self.column}:{where} {self.message}{hint}"

    def as_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "where": self.where,
            "message": self.message,
            "hint": self.hint,
        }


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A "did you mean …" hint for a misspelt id, or a list of valid ones."""
    options = sorted(set(choices))
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    if not options:
        return "none are defined"
    shown = ", ".join(options[:8]) + (", …" if len(options) > 8 else "")
    return f"known: {shown}"


def display_path(path: Path) -> str:
    """A path as the user typed it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
