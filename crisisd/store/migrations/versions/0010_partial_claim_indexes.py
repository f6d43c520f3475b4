"""partial claim indexes: pending messages in the due indexes, claims in the lease index,
messages that ended unsent in their own

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 23:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_PENDING = "status = 'pending'"
_SENDING = "status = 'sending'"
# name, columns, the condition of the rows it holds
_CLAIM = (
    ("ix_messages_due", ["status", "priority", "not_before", "id"], _PENDING),
    ("ix_messages_channel_due", ["status", "channel", "priority", "not_before", "id"], _PENDING),
    ("ix_messages_lease", ["status", "lease_until"], _SENDING),
)
_RECIPIENT = "ix_messages_recipient"
_ENDED = ("ix_messages_ended", "status IN ('failed', 'cancelled')")


def upgrade() -> None:
    # Every change of status (pending -> sending -> sent) rewrote an entry in each of the
    # three claim indexes, which hold every message ever sent. Partial, they hold only the
    # messages they find: a claim takes its messages out of the due indexes and puts them
    # in the lease index, a record takes them out of it, and a sent message is in none.
    # Existing rows of every status are indexed as they stand (CREATE INDEX reads them).
    for name, columns, where in _CLAIM:
        op.drop_index(name, table_name="messages")
        op.create_index(
            name,
            "messages",
            columns,
            sqlite_where=sa.text(where),
            postgresql_where=sa.text(where),
        )
    # Recording an outcome sets not_before, which this index held for no query's sake (the
    # few questions to one person are sorted as they are read).
    op.drop_index(_RECIPIENT, table_name="messages")
    op.create_index(_RECIPIENT, "messages", ["recipient", "purpose"])
    # The depth by status used to be counted over ix_messages_due; now it is the total less
    # what the partial indexes count, and the few messages that ended unsent are here.
    name, where = _ENDED
    op.create_index(
        name, "messages", ["status"], sqlite_where=sa.text(where), postgresql_where=sa.text(where)
    )


def downgrade() -> None:
    op.drop_index(_ENDED[0], table_name="messages")
    op.drop_index(_RECIPIENT, table_name="messages")
    op.create_index(_RECIPIENT, "messages", ["recipient", "purpose", "not_before"])
    for name, columns, _where in _CLAIM:
        op.drop_index(name, table_name="messages")
        op.create_index(name, "messages", columns)
