"""Stream tickets: single-use tickets that open the live inbox stream without a bearer header.

Revision ID: tickets
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "tickets"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stream_ticket",
        # SHA-256 of the ticket, hex: the table holds nothing that opens a stream.
        sa.Column("ticket_hash", sa.String(64), primary_key=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("ix_stream_ticket_expires", "stream_ticket", ["expires_at"])


def downgrade() -> None:
    op.drop_table("stream_ticket")
