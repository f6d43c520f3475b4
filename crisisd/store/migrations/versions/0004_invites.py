"""invite links: signed, single-use, expiring

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-09 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import crisisd.store.tables

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "invites",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("contact", sa.String(length=128), nullable=False),
        sa.Column("messenger", sa.String(length=64), nullable=False),
        sa.Column("created_at", crisisd.store.tables.UTCDateTime(), nullable=False),
        sa.Column("expires_at", crisisd.store.tables.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("used_at", crisisd.store.tables.UTCDateTime(), nullable=True),
        sa.Column("used_chat", sa.BigInteger(), nullable=True),
        sa.Column("revoked_at", crisisd.store.tables.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.create_index("ix_invites_contact", ["contact", "messenger"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.drop_index("ix_invites_contact")
    op.drop_table("invites")
