"""leader leases: one row per role that must run on one daemon at a time

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 16:40:00

Adding a table only: safe to run while a daemon of the previous version serves (it never
reads the table), so hosts can be upgraded one at a time.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import crisisd.store.tables

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("acquired_at", crisisd.store.tables.UTCDateTime(), nullable=False),
        sa.Column("expires_at", crisisd.store.tables.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("leases")
