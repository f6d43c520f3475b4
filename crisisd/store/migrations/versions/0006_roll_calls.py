"""roll calls: answers, refusals and reports, append-only; messages by recipient

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import crisisd.store.tables

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "roll_call_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(length=16), nullable=True),
        sa.Column("contact", sa.String(length=128), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("answer", sa.String(length=8), nullable=True),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("via", sa.String(length=64), nullable=False),
        sa.Column("sender", sa.String(length=32), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at", crisisd.store.tables.UTCDateTime(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=True),
        sa.Column("source_id", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "source_id", name="uq_roll_call_events_source"),
    )
    with op.batch_alter_table("roll_call_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_roll_call_events_incident", ["incident_id", "contact", "id"], unique=False
        )


    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_messages_recipient", ["recipient", "purpose", "not_before"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_recipient")
    with op.batch_alter_table("roll_call_events", schema=None) as batch_op:
        batch_op.drop_index("ix_roll_call_events_incident")
    op.drop_table("roll_call_events")
