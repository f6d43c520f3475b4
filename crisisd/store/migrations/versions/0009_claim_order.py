"""claim order: the due indexes end with the message id

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 21:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_DUE = ("ix_messages_due", ["status", "priority", "not_before"])
_CHANNEL_DUE = ("ix_messages_channel_due", ["status", "channel", "priority", "not_before"])


def upgrade() -> None:
    # A claim reads due messages ordered by (priority, not_before, id). Without the id in
    # the index, PostgreSQL sorts every message sharing the first keys on each claim — one
    # whole incident's messages, 100,000 for a province-sized one. (SQLite's index entries
    # end with the rowid, the id, already: there it changes nothing.)
    with op.batch_alter_table("messages", schema=None) as batch_op:
        for name, columns in (_DUE, _CHANNEL_DUE):
            batch_op.drop_index(name)
            batch_op.create_index(name, [*columns, "id"])


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        for name, columns in (_DUE, _CHANNEL_DUE):
            batch_op.drop_index(name)
            batch_op.create_index(name, columns)
