"""The dead-letter ledger: what this service's consumer sent to a DLQ, so a replay sends it once.

Revision ID: deadletter
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

from trellis_shared.messaging_tables import create_dead_letter_table, drop_dead_letter_table

revision: str = "deadletter"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_dead_letter_table(op)


def downgrade() -> None:
    drop_dead_letter_table(op)
