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
import importlib
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from crisisd import logs
from crisisd.config import Config, load_config
from crisisd.errors import CrisisError, ProblemsError, StoreError
from crisisd.formats.workweek import warm_public_holidays
from crisisd.library.parallel import load_library_parallel
from crisisd.redaction import redact
from crisisd.supervision import describe

if TYPE_CHECKING:  # the daemon's modules are imported with the collector paused (_prepare)
    from crisisd.service import Daemon

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
        from crisisd.store.engine import normalize_url

        base = config.source.parent if config.source else Path.cwd()
        return _store(str(exc), normalize_url(config.store_url, base))
    if isinstance(exc, OSError) and not isinstance(exc, CrisisError):
        return _os(exc, config)
    if isinstance(exc, CrisisError):
        return redact(str(exc))
    return f"unexpected {describe(exc)} — report it as a bug, with the log above this line"


def _store(text: str, store_url: str) -> str:
    from sqlalchemy.engine import make_url

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


def run_daemon(config_path: Path | None) -> int:
    """Entry point of `crisisd run`: 0 after a clean stop, 1 when it could not start
    (:func:`explain` turns a start-up failure into one line, its cause and its fix)."""
    # Until the daemon is put together the cyclic collector is paused: reading the config,
    # loading the library (a province's ~170,000 objects, 21 of them unreachable after,
    # measured) and importing the daemon's modules make objects by the hundred thousand and
    # almost no garbage, and the collections their allocations trigger would only scan the
    # growing heap again and again (~0.5 s of a province's start). What is alive then is
    # frozen (the ``gc`` module, Python 3.7+): later collections do not scan it either;
    # the daemon's own start pauses the collector again (library/offloop.py).
    collecting = gc.isenabled()
    gc.disable()
    try:
        ready = _prepare(config_path)
    finally:
        gc.freeze()
        if collecting:
            gc.enable()
    if isinstance(ready, int):
        return ready
    from crisisd.service import PartFailedError

    daemon = ready
    try:
        asyncio.run(_run(daemon))
    except PartFailedError as exc:
        log.error("daemon.failed", error=redact(str(exc)))
        return 1
    except (CrisisError, OSError) as exc:
        log.error("start.failed", error=redact(explain(exc, daemon.config)))
        return 1
    return 0


async def _run(daemon: Daemon) -> None:
    try:
        await daemon.run()
    except BaseException:
        await _sqlite_workers_settled()
        raise


async def _sqlite_workers_settled(patience: float = 2.0) -> None:
    """Wait, while the loop still runs, for aiosqlite's worker threads to end.

    A connection that fails to open (a store folder that cannot be written) has its thread
    stopped without being waited for (aiosqlite 0.22 ``core.py`` ``Connection._connect``
    calls ``stop()`` and raises); the thread then hands its last result to the loop. Were
    the loop closed by then, the thread would die printing an "Event loop is closed"
    traceback under the one line that says what is wrong.
    """
    loop = asyncio.get_running_loop()
    until = loop.time() + patience
    for worker in threading.enumerate():
        if worker.name.endswith("(_connection_worker_thread)") and worker.is_alive():
            await asyncio.to_thread(worker.join, max(0.0, until - loop.time()))
    await asyncio.sleep(0)  # the results they handed over


def _prepare(config_path: Path | None) -> Daemon | int:
    """The config, the checked library and the daemon made of them; or 1, having said why."""
    try:
        config = load_config(config_path) if config_path else Config()
    except ProblemsError as exc:
        for p in exc.problems:
            print(redact(p.format()))
        return 1
    logs.configure(config.log_level, config.log_json)
    try:
        # the daemon's modules are imported while the children read and check
        steps: list[Callable[[], object]] = [
            partial(importlib.import_module, name) for name in _daemon_modules(config)
        ]
        if config.calendar.public_holidays:  # not in the first open's time (workweek.py)
            steps.append(partial(warm_public_holidays, datetime.now(UTC).year))
        library = load_library_parallel(config, meanwhile=steps)
    except ProblemsError as exc:
        log.error("start.refused", problems=[redact(p.format()) for p in exc.problems])
        return 1
    from crisisd.service import Daemon

    return Daemon(config_path, config, library)


def _daemon_modules(config: Config) -> list[str]:
    """What the daemon's start imports (~0.8 s: SQLAlchemy and Alembic, aiohttp, PTB and
    httpx, the API, the sandbox, the officers' bot), in steps of at most ~0.3 s so the
    load can fit them where it waits (library/parallel.py)."""
    names = ["aiohttp.web", "crisisd.store", "crisisd.channels.registry", "crisisd.service"]
    names += ["crisisd.api.app", "crisisd.dashboard.app"]
    if config.sandbox:
        names.append("crisisd.sandbox.runner")
    if any(m.officers_bot for m in config.messengers):
        names.append("crisisd.bot")
    return names
