"""``crisisd run``'s load: :func:`~crisisd.library.loader.load_library` on two cores.

At start nothing else runs yet, so the second core is free; on it, in forked children
(``os.fork``: the child has the parent's memory as it was, nothing to import or send
there), go the parts that do not have to happen in the daemon's own process:

1. while the daemon reads the directory (the largest file), a child reads the playbooks
   and compiles the templates, and sends back the playbooks, their documents and the
   templates' compiled code (unpickling 100 playbooks: ~0.06 s against ~0.4 s to read
   them; building the templates from compiled code: ~0.02 s against ~0.35 s);
2. while the daemon imports its own modules (``meanwhile``), a child makes the checks
   across files and the test renders of the assembled library, and sends back what it
   found.

The result is the same library and the same problems as ``load_library`` (a test keeps
the two equal); a broken set is refused all the same. A child that cannot be made or
fails is not trusted with anything: its part is done here instead. Forking is only done
while this process has a single thread (no lock can be held by a thread the child lacks);
the reload path uses a fresh process instead (library/isolated.py), as a daemon has
threads by then.
"""

from __future__ import annotations

import os
import pickle
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from crisisd.config import Config
from crisisd.library.checks import check_library
from crisisd.library.loader import (
    PlaybooksPart,
    assemble,
    conclude,
    load_directory,
    load_library,
    load_playbooks,
)
from crisisd.library.model import Library
from crisisd.problems import Problem
from crisisd.templates import TemplateSet

T = TypeVar("T")
Compiled = dict[str, dict[str, bytes]]


class _ChildFailed(Exception):
    """The child could not be made, died, or raised: do its part here."""


def load_library_parallel(config: Config, meanwhile: Callable[[], None] = lambda: None) -> Library:
    """``load_library(config)``, with ``meanwhile()`` run while the checks are made."""
    if not _can_fork():
        library = load_library(config)
        meanwhile()
        return library
    problems: list[Problem] = []
    root = config.resolve_path(config.playbooks)
    troot = config.resolve_path(config.templates)
    rest = _forked(lambda: _playbooks_and_templates(root, troot))
    directory = load_directory(root, problems)
    try:
        found, playbooks, compiled = rest()
    except _ChildFailed:
        found, playbooks, compiled = _playbooks_and_templates(root, troot)
    problems.extend(found)
    templates = TemplateSet(troot, compiled)  # compiled code: no compiling here
    library = assemble(config, directory, playbooks, templates, problems)
    checks = _forked(lambda: check_library(library))
    meanwhile()
    try:
        found = checks()
    except _ChildFailed:
        found = check_library(library)
    return conclude(library, problems, found)


def _playbooks_and_templates(
    root: Path, troot: Path
) -> tuple[list[Problem], PlaybooksPart, Compiled]:
    problems: list[Problem] = []
    playbooks = load_playbooks(root, problems)
    return problems, playbooks, TemplateSet(troot).compiled


def _can_fork() -> bool:
    return hasattr(os, "fork") and threading.active_count() == 1


def _forked(work: Callable[[], T]) -> Callable[[], T]:
    """Start ``work()`` in a forked child; the function returned waits for its result."""
    try:
        read, write = os.pipe()
    except OSError:
        return _failed
    try:
        pid = os.fork()
    except OSError:  # too many processes, no memory: the work is done here instead
        os.close(read)
        os.close(write)
        return _failed
    if pid == 0:  # the child: send the result or the failure, and go without cleaning up
        status = 1
        try:
            os.close(read)
            with os.fdopen(write, "wb") as out:
                out.write(pickle.dumps(work(), protocol=pickle.HIGHEST_PROTOCOL))
            status = 0
        finally:
            os._exit(status)  # never the parent's exit handlers or buffered output
    os.close(write)

    def result() -> T:
        with os.fdopen(read, "rb") as source:
            data = source.read()
        _, status = os.waitpid(pid, 0)
        if status != 0 or not data:
            raise _ChildFailed(f"exit status {status}")
        out: T = pickle.loads(data)  # noqa: S301 - our own child's output, over its own pipe
        return out

    return result


def _failed() -> Any:
    raise _ChildFailed("no child")


__all__ = ["load_library_parallel"]
