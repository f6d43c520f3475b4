"""Why `crisisd run` could not start, in one line: the cause and the fix.

The store's own errors say what failed (``store …: could not apply the schema migrations:
<the driver's reason>``); at start-up the operator needs to know which of a handful of
things is wrong and what to do about it, so the common causes are named here. Anything
else keeps its own message. Never a traceback, never a password.
"""

from __future__ import annotations

import asyncio
import errno
import gc
from pathlib import Path

import structlog
from sqlalchemy.engine import make_url

from crisisd import logs
from crisisd.config import Config, load_config
from crisisd.errors import CrisisError, ProblemsError, StoreError
from crisisd.library.loader import load_library
from crisisd.library.model import Library
from crisisd.redaction import redact
from crisisd.service import Daemon, PartFailedError
from crisisd.store.engine import normalize_url
from crisisd.supervision import describe

log = structlog.get_logger("crisisd.service")

_UNREACHABLE = (
    "connect call failed",
    "connection refused",
    "could not connect",
    "name or service not known",
    "temporary failure in name resolution",
    "timed out",
    "timeout",
    "no route to host",
)

_PATH_ERRORS = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT, errno.ENOTDIR, errno.EEXIST)


def explain(exc: BaseException, config: Config) -> str:
    """One line for the operator: what stops crisisd from starting, and how to fix it."""
    if isinstance(exc, StoreError):
        base = config.source.parent if config.source else Path.cwd()
        return _store(str(exc), normalize_url(config.store_url, base))
    if isinstance(exc, OSError) and not isinstance(exc, CrisisError):
        return _os(exc, config)
    if isinstance(exc, CrisisError):
        return redact(str(exc))
    return f"unexpected {describe(exc)} — report it as a bug, with the log above this line"


def _store(text: str, store_url: str) -> str:
    said = text.lower()
    url = make_url(store_url)
    where = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        if any(s in said for s in ("unable to open", "readonly", "read-only", "cantopen")):
            return (
                f"the store {path} cannot be opened for writing ({_reason(text)}) — make its "
                f"folder {path.parent} exist and writable by the user crisisd runs as "
                "(systemd: StateDirectory= or ReadWritePaths=), or set store_url"
            )
        if "disk" in said and "full" in said:
            return f"the disk holding {path} is full — free some space, then start again"
        return redact(text)
    host = f"{url.host or 'localhost'}:{url.port or 5432}"
    if "does not exist" in said and "database" in said:
        return (
            f"the database {url.database!r} does not exist on {host} — create it "
            f"(createdb -h {url.host or 'localhost'} -U {url.username or 'postgres'} "
            f"{url.database}) or fix store_url in config.yaml"
        )
    if "password authentication failed" in said or ("role" in said and "does not exist" in said):
        return f"PostgreSQL at {host} refused the login — check the user and password of store_url"
    if any(s in said for s in _UNREACHABLE):
        return (
            f"nothing answers at {host} ({_reason(text)}) — start PostgreSQL there, or fix the "
            f"host and port in store_url ({where})"
        )
    return redact(text)


def _os(exc: OSError, config: Config) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"a port crisisd needs is in use ({exc.strerror or exc}) — stop what holds it, or "
            f"change api.port (now {config.api.port}) or sandbox_port (now {config.sandbox_port}) "
            "in config.yaml"
        )
    if exc.errno in (
        errno.EACCES,
        errno.EPERM,
        errno.EROFS,
        errno.ENOENT,
        errno.ENOTDIR,
        errno.EEXIST,
    ):
        what = exc.filename or "a file"
        return (
            f"cannot create or open {what} ({exc.strerror}) — make the folder exist and "
            "writable by the user crisisd runs as, or change the path in config.yaml"
        )
    return redact(f"{exc.strerror or exc} — check the paths and addresses in config.yaml")


def _reason(text: str) -> str:
    """The driver's reason inside a store error: after "could not …:", before the hint."""
    _head, _, rest = text.partition(": could not ")
    reason = rest.partition(": ")[2] if rest else text
    return redact(reason.partition(" — ")[0].strip())


def _load(config: Config) -> Library:
    """The library, loaded with the cyclic collector paused and then frozen.

    Loading makes a province's ~170,000 objects and almost no cycles (21 unreachable after
    100 playbooks and 20,000 contacts, measured): the collections its allocations trigger
    would only scan the growing heap again and again (~0.15 s of a start). Frozen (the
    ``gc`` module, Python 3.7+), it is not scanned by the collections of the rest of the
    start either; the daemon freezes what is alive again at READY (library/offloop.py).
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        return load_library(config)
    finally:
        gc.freeze()
        if collecting:
            gc.enable()


def run_daemon(config_path: Path | None) -> int:
    """Entry point of `crisisd run`: 0 after a clean stop, 1 when it could not start
    (:func:`explain` turns a start-up failure into one line, its cause and its fix)."""

    try:
        config = load_config(config_path) if config_path else Config()
    except ProblemsError as exc:
        for p in exc.problems:
            print(redact(p.format()))
        return 1
    logs.configure(config.log_level, config.log_json)
    try:
        library = _load(config)
    except ProblemsError as exc:
        log.error("start.refused", problems=[redact(p.format()) for p in exc.problems])
        return 1
    daemon = Daemon(config_path, config, library)
    try:
        asyncio.run(daemon.run())
    except PartFailedError as exc:
        log.error("daemon.failed", error=redact(str(exc)))
        return 1
    except (CrisisError, OSError) as exc:
        log.error("start.failed", error=redact(explain(exc, config)))
        return 1
    return 0
