"""Secret references in config.yaml, resolved at load and registered for redaction.

``${ENV_NAME}`` (an environment variable), ``file:/path`` (a file's content, trimmed) or
``cred:NAME`` (systemd ``LoadCredential``: ``$CREDENTIALS_DIRECTORY/NAME``). A reference
that cannot be resolved is a located problem naming the variable or file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from crisisd import redaction
from crisisd.parsing.yamlsource import Document, Loc
from crisisd.problems import Problem

_ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def resolve_secrets(doc: Document, problems: list[Problem]) -> Any:
    """Replace every secret reference in the document with its value, or report it."""

    def walk(value: Any, loc: Loc) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, (*loc, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, (*loc, i)) for i, v in enumerate(value)]
        if isinstance(value, str):
            return _resolve_one(value, doc, loc, problems)
        return value

    return walk(doc.data, ())


def _resolve_one(value: str, doc: Document, loc: Loc, problems: list[Problem]) -> str:
    env = _ENV_REF.match(value)
    if env:
        name = env.group(1)
        if name not in os.environ:
            problems.append(
                doc.problem(
                    loc,
                    f"environment variable {name} is not set",
                    f"export {name}=… before starting, or set it in the systemd unit",
                )
            )
            return value
        return _secret(os.environ[name], doc, loc, problems, f"${{{name}}}")
    if value.startswith(("file:", "cred:")):
        if value.startswith("cred:"):
            base = os.environ.get("CREDENTIALS_DIRECTORY")
            if base is None:
                problems.append(
                    doc.problem(
                        loc,
                        f"{value} needs $CREDENTIALS_DIRECTORY",
                        "use LoadCredential= in the systemd unit, or file:/path",
                    )
                )
                return value
            path = Path(base) / value.removeprefix("cred:")
        else:
            path = Path(value.removeprefix("file:"))
        try:
            content = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            problems.append(
                doc.problem(
                    loc, f"cannot read secret file {path}: {exc.strerror}", "check path and mode"
                )
            )
            return value
        return _secret(content, doc, loc, problems, str(path))
    return value


def _secret(value: str, doc: Document, loc: Loc, problems: list[Problem], origin: str) -> str:
    if len(value) < 4:
        problems.append(doc.problem(loc, f"secret from {origin} is empty or too short"))
    redaction.register(value)
    return value
