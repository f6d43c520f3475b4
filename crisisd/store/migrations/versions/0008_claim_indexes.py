"""claim indexes: due messages per channel, and expired leases

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 17:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        # A claim for the channels that have room reads each one's due messages in order
        # instead of stepping over a busy channel's whole backlog.
        batch_op.create_index(
            "ix_messages_channel_due", ["status", "channel", "priority", "not_before"]
        )
        # Expired claims are found without reading every message in flight.
        batch_op.create_index("ix_messages_lease", ["status", "lease_until"])


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_lease")
        batch_op.drop_index("ix_messages_channel_due")
