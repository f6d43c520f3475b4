"""Located problems: what is wrong, where (file:line:column, dotted path) and a hint."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in one file, formatted as ``path:line:col: dotted.path: message — hint``."""

    path: str
    line: int
    column: int
    where: str
    message: str
    hint: str = ""
    # A warning does not stop the daemon: the set still works, but a person will be missed
    # or surprised (a landline as the only SMS number, an officer the bot cannot reach).
    severity: Literal["error", "warning"] = "error"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def format(self) -> str:
        where = f" {self.where}:" if self.where else ""
        hint = f" — {self.hint}" if self.hint else ""
        level = "" if self.is_error else " warning:"
        return f"{self.path}:{self.line}:{self.column}:{where}{level} {self.message}{hint}"

    def as_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "where": self.where,
            "message": self.message,
            "hint": self.hint,
            "severity": self.severity,
        }


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A "did you mean …" hint for a misspelt id, or a list of valid ones."""
    options = sorted(set(choices))
    # 0.75: a suggestion must look like a typo of the name, not merely share letters.
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.75)
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
