"""What every command shares: the config option, loading the library, printing a failure."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from crisisd import redaction
from crisisd.errors import CrisisError, ProblemsError

if TYPE_CHECKING:  # loading the models costs time that `crisisd --help` need not pay
    from crisisd.config import Config
    from crisisd.enrolment.directory import BoundLibrary
    from crisisd.library.model import Library
    from crisisd.store import Store

T = TypeVar("T")

CONFIG_HELP = "daemon config file (default: ./config.yaml when present, else built-in defaults)"


def config_from(path: Path | None) -> Config:
    from crisisd.config import default_config, load_config

    if path is None:
        path = Path("config.yaml")
        if not path.exists():
            return default_config()
    return load_config(path)


def library_from(path: Path | None) -> Library:
    from crisisd.library.loader import load_library

    return load_library(config_from(path))


def fail(exc: CrisisError, as_json: bool = False) -> None:
    if as_json and isinstance(exc, ProblemsError):
        click.echo(json.dumps({"ok": False, "problems": [p.as_dict() for p in exc.problems]}))
    elif isinstance(exc, ProblemsError):
        for p in exc.problems:
            click.echo(redaction.redact(p.format()), err=True)
        click.echo(f"{exc.summary()} found.", err=True)
    else:
        click.echo(f"error: {redaction.redact(str(exc))}", err=True)
    sys.exit(1)


def with_store(config_path: Path | None, work: Callable[[Store, BoundLibrary], Awaitable[T]]) -> T:
    """Run ``work`` on the config's store and the library with its bindings applied
    (``lib`` from ``bound()``), as the daemon plans with it."""
    try:
        lib = library_from(config_path)
    except CrisisError as exc:
        fail(exc)
        raise  # unreachable: fail exits
    from crisisd.enrolment.directory import BoundLibrary
    from crisisd.store import Store
    from crisisd.store.engine import normalize_url

    async def go() -> T:
        base = lib.config.source.parent if lib.config.source else Path.cwd()
        store = Store(normalize_url(lib.config.store_url, base))
        await store.start()
        try:
            return await work(store, await BoundLibrary.start(store, lambda: lib))
        finally:
            await store.aclose()

    try:
        return asyncio.run(go())
    except CrisisError as exc:
        fail(exc)
        raise
