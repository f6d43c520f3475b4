"""Alembic environment: runs on the connection crisisd hands over (sync, inside run_sync)."""

from __future__ import annotations

from alembic import context

from crisisd.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only used through crisisd.store.migrate
    raise RuntimeError("run migrations through `crisisd db upgrade`")
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
