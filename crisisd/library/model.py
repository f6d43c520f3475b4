"""The loaded library: everything the daemon works from, checked together."""

from __future__ import annotations

from dataclasses import dataclass

from crisisd.parsing.yamlsource import Document
from crisisd.planning.sources import Sources
from crisisd.problems import Problem


@dataclass(frozen=True, slots=True)
class Library(Sources):
    """The checked set planning reads, plus the documents it came from (for locations)."""

    documents: dict[str, Document]  # factory id -> its playbook document (for locations)
    directory_doc: Document | None = None
    warnings: tuple[Problem, ...] = ()  # found while loading; none of them stops the daemon
