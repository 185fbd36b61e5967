"""Mentorships remember when they were last resumed (health's grace restarts there).

Revision ID: 0007
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("mentorship", sa.Column("resumed_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("mentorship", "resumed_at")
