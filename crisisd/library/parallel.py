"""``crisisd run``'s load: :func:`~crisisd.library.loader.load_library` on two cores.

At start nothing else runs yet, so the second core is free; on it, in forked children
(``os.fork``: the child has the parent's memory as it was, nothing to import or send
there), go the parts that do not have to happen in the daemon's own process:

1. while the daemon reads the directory (the largest file), a child reads the playbooks
   and compiles the templates, and sends back the playbooks, their documents and the
   templates' compiled code (unpickling 100 playbooks: ~0.06 s against ~0.4 s to read
   them; building the templates from compiled code: ~0.02 s against ~0.4 s);
2. a child makes the checks across files and the test renders of the assembled library,
   and sends back what it found.

Meanwhile the daemon imports its own modules (``meanwhile``, in steps): as many steps as
fit before the first child is done, the rest while the second works.

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
import select
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Generic, TypeVar

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


def load_library_parallel(
    config: Config, meanwhile: Sequence[Callable[[], object]] = ()
) -> Library:
    """``load_library(config)``, with the steps of ``meanwhile`` run while the children
    work: as many as fit while the playbooks are read, the rest while the checks are made
    (each core kept busy whichever of the two is the slower on this machine)."""
    steps = list(meanwhile)
    if not _can_fork():
        library = load_library(config)
        for step in steps:
            step()
        return library
    problems: list[Problem] = []
    root = config.resolve_path(config.playbooks)
    troot = config.resolve_path(config.templates)
    rest = _Child(lambda: _playbooks_and_templates(root, troot))
    directory = load_directory(root, problems)
    while steps and not rest.done():
        steps.pop(0)()
    try:
        found, playbooks, compiled = rest.result()
    except _ChildFailed:
        found, playbooks, compiled = _playbooks_and_templates(root, troot)
    problems.extend(found)
    templates = TemplateSet(troot, compiled)  # compiled code: no compiling here
    library = assemble(config, directory, playbooks, templates, problems)
    checks = _Child(lambda: check_library(library))
    for step in steps:
        step()
    try:
        found = checks.result()
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


class _Child(Generic[T]):
    """``work()`` started in a forked child; :meth:`result` waits for what it returns."""

    def __init__(self, work: Callable[[], T]) -> None:
        self.pid, self.fd = 0, -1
        try:
            read, write = os.pipe()
        except OSError:
            return
        try:
            pid = os.fork()
        except OSError:  # too many processes, no memory: the work is done here instead
            os.close(read)
            os.close(write)
            return
        if pid == 0:  # the child: send the result, and go without cleaning up
            status = 1
            try:
                os.close(read)
                with os.fdopen(write, "wb") as out:
                    out.write(pickle.dumps(work(), protocol=pickle.HIGHEST_PROTOCOL))
                status = 0
            finally:
                os._exit(status)  # never the parent's exit handlers or buffered output
        os.close(write)
        self.pid, self.fd = pid, read

    def done(self) -> bool:
        """Whether the child has sent its result (it writes only once it has it all)."""
        return self.fd < 0 or bool(select.select([self.fd], [], [], 0)[0])

    def result(self) -> T:
        if self.fd < 0:
            raise _ChildFailed("no child")
        with os.fdopen(self.fd, "rb") as source:
            data = source.read()
        _, status = os.waitpid(self.pid, 0)
        if status != 0 or not data:
            raise _ChildFailed(f"exit status {status}")
        out: T = pickle.loads(data)  # noqa: S301 - our own child's output, over its own pipe
        return out


__all__ = ["load_library_parallel"]
