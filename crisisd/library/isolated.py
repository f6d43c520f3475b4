"""A reload's loading and checking in a child process; the daemon assembles the result in slices.

A worker thread is not enough to keep the event loop responsive while a province reloads:
the thread and the loop share one GIL, so while both want it each runs at about half
speed, and a fan-out's busy loop iteration stalls twice as long (measured: a 35 ms floor
became 85–110 ms with 100 playbooks and 10,000 contacts). So the heavy part — reading
the files, YAML, models, the cross-checks and test renders, compiling the templates —
runs in a fresh child process (``python -m crisisd.library.isolated``: nothing of the
daemon's state, sockets or threads is copied into it), on the other core when there is one.

The child hands back a :class:`Parcel`: the checked models pickled in small pieces
(contacts in chunks, one playbook at a time) and the templates' compiled code. The
daemon unpickles one piece at a time on the loop and yields between pieces, so no
slice holds the loop for more than a few milliseconds, and it never validates again
what the child has validated (``model_construct``). Problems come back as data, never
as a half-built library: the last good set stays in force.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crisisd.approvals import Approvals
from crisisd.config import Config, load_config
from crisisd.errors import CrisisError, ProblemsError
from crisisd.formats.workweek import WorkCalendar
from crisisd.library.loader import load_library, slim
from crisisd.library.model import Library
from crisisd.parsing.yamlsource import Document
from crisisd.playbook import Directory
from crisisd.problems import Problem
from crisisd.templates import TemplateSet

CHUNK = 200  # contacts per piece: unpickling one piece takes ~3 ms


@dataclass(frozen=True, slots=True)
class Parcel:
    """A checked library, ready to be put together again piece by piece."""

    config: Config
    contacts: list[bytes]  # pickled dicts of contact id -> Contact, CHUNK at a time
    playbooks: list[bytes]  # one pickled (factory id, Playbook) each
    templates_root: Path
    compiled: dict[str, dict[str, bytes]]  # TemplateSet.compiled
    approvals: Approvals
    calendar: WorkCalendar
    documents: dict[str, Document]
    directory_doc: Document | None
    warnings: tuple[Problem, ...]


@dataclass(frozen=True, slots=True)
class Refused:
    """The child found problems (or could not read the config): nothing changes."""

    problems: tuple[Problem, ...] = ()
    error: str = ""


def pack(library: Library) -> Parcel:
    items = list(library.directory.contacts.items())
    return Parcel(
        config=library.config,
        contacts=[pickle.dumps(dict(items[i : i + CHUNK])) for i in range(0, len(items), CHUNK)],
        playbooks=[pickle.dumps(item) for item in library.playbooks.items()],
        templates_root=library.templates.root,
        compiled=library.templates.compiled,
        approvals=library.approvals,
        calendar=library.calendar,
        documents=library.documents,
        directory_doc=library.directory_doc,
        warnings=library.warnings,
    )


def load_in_child(config_path: Path | None, config: Config) -> Parcel | Refused:
    """The child's whole job."""
    try:
        current = load_config(config_path) if config_path else config
        return pack(load_library(current))
    except ProblemsError as exc:
        return Refused(problems=tuple(exc.problems))
    except CrisisError as exc:
        return Refused(error=str(exc))


async def unpack(parcel: Parcel) -> Library:
    """Put the library together on the loop, yielding between pieces."""
    contacts: dict[str, Any] = {}
    for piece in parcel.contacts:
        part = pickle.loads(piece)  # noqa: S301 - our own child's output
        contacts.update((cid, slim(c)) for cid, c in part.items())  # as loaded in-process
        await asyncio.sleep(0)
    playbooks: dict[str, Any] = {}
    for piece in parcel.playbooks:
        fid, playbook = pickle.loads(piece)  # noqa: S301 - our own child's output
        playbooks[fid] = playbook
        await asyncio.sleep(0)
    templates = TemplateSet(parcel.templates_root, parcel.compiled)  # ~15 ms: no compiling
    return Library(
        parcel.config,
        Directory.model_construct(contacts=contacts),  # validated in the child
        playbooks,
        templates,
        parcel.approvals,
        parcel.calendar,
        parcel.documents,
        parcel.directory_doc,
        parcel.warnings,
    )


async def load_isolated(config_path: Path | None, config: Config) -> Library:
    """Load and check in a child process; raise ProblemsError or CrisisError as
    ``load_library`` would, having changed nothing. Cancelled, it kills the child."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "crisisd.library.isolated",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, _ = await proc.communicate(pickle.dumps((config_path, config)))
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await asyncio.shield(proc.wait())
        raise
    if proc.returncode != 0 or not out:
        raise CrisisError(f"the reload's loader process failed (exit status {proc.returncode})")
    result = pickle.loads(out)  # noqa: S301 - our own child's output, over its own pipe
    if isinstance(result, Refused):
        if result.problems:
            raise ProblemsError(list(result.problems))
        raise CrisisError(result.error)
    library = await unpack(result)
    if library.templates.problems:  # a template changed between the child and now
        raise ProblemsError(list(library.templates.problems))
    return library


def main() -> None:
    """The child: a pickled (config path, config) on stdin, a pickled result on stdout."""
    # background work: when the cores are busy, the daemon's loop goes first
    with contextlib.suppress(OSError):
        os.nice(10)
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # anything printed while loading must not corrupt the result
    # by its own name, not as __main__, so that the parent can unpickle what it returns
    from crisisd.library.isolated import load_in_child as load

    config_path, config = pickle.loads(sys.stdin.buffer.read())  # noqa: S301 - our parent
    out.write(pickle.dumps(load(config_path, config), protocol=pickle.HIGHEST_PROTOCOL))
    out.flush()


if __name__ == "__main__":
    main()
