"""Shared fixtures: the mini playbook tree, and a real store on SQLite and PostgreSQL.

Every asyncio test runs on a guarded loop (:mod:`tests.loopguard`): a background task
that dies unseen fails the test.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import settings
from sqlalchemy.ext.asyncio import create_async_engine

from crisisd.library.loader import load_library
from crisisd.library.model import Library
from crisisd.store import Store
from crisisd.store.engine import normalize_url
from tests.minitree import make_tree

pytest_plugins = ["pytester", "tests.loopguard"]

PG_ENV = "CRISISD_TEST_PG_URL"

# Tests never assert on timings: hypothesis's per-example deadline is one, and a loaded
# CI machine trips it (test_channel_dialects did) without anything being wrong.
settings.register_profile("crisisd", deadline=None)
settings.load_profile("crisisd")


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist each worker gets a PostgreSQL database of its own (``<name>_gw0``,
    …), named in its environment, so the store suite's resets and the daemons the tests
    start never meet another worker's tables, locks or leases."""
    worker, base = os.environ.get("PYTEST_XDIST_WORKER"), os.environ.get(PG_ENV)
    if not worker or not base:
        return
    url = sa.engine.make_url(base)
    name = f"{url.database}_{worker}"
    asyncio.run(_create_database(normalize_url(base), name))
    os.environ[PG_ENV] = url.set(database=name).render_as_string(hide_password=False)


async def _create_database(url: str, name: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            query = sa.text("SELECT 1 FROM pg_database WHERE datname = :n")
            if (await conn.execute(query, {"n": name})).first() is None:
                await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()


@pytest.fixture
def library(tmp_path: Path) -> Library:
    return load_library(make_tree(tmp_path / "tree"))


def pg_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{PG_ENV} is unset under CI=true: the PostgreSQL store suite must run")
        pytest.skip(f"{PG_ENV} is unset: PostgreSQL store cases skipped (set it to run them)")
    return normalize_url(url)


async def _reset_pg(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        tables = (
            "roll_call_events",
            "signin_codes",
            "board_sessions",
            "leases",
            "invites",
            "bindings",
            "receipts",
            "audit",
            "acks",
            "attempts",
            "tasks",
            "messages",
            "incidents",
        )
        for table in (*tables, "settings"):
            await conn.execute(sa.text(f"DROP TABLE IF EXISTS {table} CASCADE"))
        await conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    await engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        url = normalize_url(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    else:
        url = pg_url()
        await _reset_pg(url)
    st = Store(url)
    await st.start()
    try:
        yield st
    finally:
        await st.aclose()
