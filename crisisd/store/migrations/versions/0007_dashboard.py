"""dashboard: sign-in codes, sessions, incidents paged by opening time

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import crisisd.store.tables

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_T = crisisd.store.tables.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "signin_codes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("contact", sa.String(length=128), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", _T(), nullable=False),
        sa.Column("expires_at", _T(), nullable=False),
        sa.Column("used_at", _T(), nullable=True),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_signin_codes_contact", "signin_codes", ["contact", "created_at"])
    op.create_table(
        "board_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("contact", sa.String(length=128), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", _T(), nullable=False),
        sa.Column("expires_at", _T(), nullable=False),
        sa.Column("revoked_at", _T(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_incidents_opened", "incidents", ["opened_at"])


def downgrade() -> None:
    op.drop_index("ix_incidents_opened", table_name="incidents")
    op.drop_table("board_sessions")
    op.drop_index("ix_signin_codes_contact", table_name="signin_codes")
    op.drop_table("signin_codes")
