"""messenger bindings: who connected which chat (enrolment)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-09 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import crisisd.store.tables

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ACTIVE = "state = 'active'"


def upgrade() -> None:
    op.create_table(
        "bindings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("contact", sa.String(length=128), nullable=False),
        sa.Column("messenger", sa.String(length=64), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("how", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("bound_at", crisisd.store.tables.UTCDateTime(), nullable=False),
        sa.Column("state_at", crisisd.store.tables.UTCDateTime(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("last_delivery_at", crisisd.store.tables.UTCDateTime(), nullable=True),
        sa.Column("told_at", crisisd.store.tables.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("contact", "messenger", "chat_id", name="uq_bindings_chat"),
    )
    with op.batch_alter_table("bindings", schema=None) as batch_op:
        for name, columns in (
            ("ux_bindings_active_contact", ["contact", "messenger"]),
            ("ux_bindings_active_chat", ["messenger", "chat_id"]),
        ):
            batch_op.create_index(
                name,
                columns,
                unique=True,
                sqlite_where=sa.text(_ACTIVE),
                postgresql_where=sa.text(_ACTIVE),
            )


def downgrade() -> None:
    with op.batch_alter_table("bindings", schema=None) as batch_op:
        batch_op.drop_index("ux_bindings_active_chat")
        batch_op.drop_index("ux_bindings_active_contact")
    op.drop_table("bindings")
