"""Shared fixtures: the mini playbook tree, and a real store on SQLite and PostgreSQL.

Every asyncio test runs on a guarded loop (:mod:`tests.loopguard`): a background task
that dies unseen fails the test.
"""

from __future__ import annotations

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
