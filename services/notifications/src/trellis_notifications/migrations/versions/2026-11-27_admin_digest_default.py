"""An org admin's at-risk digest is on unless they switch it off.

Revision ID: digeston
Revises: 0004
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "digeston"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows already here stay as they are: an admin who switched the digest off cannot be told
    # apart from one recorded off by the earlier default, and an unwanted email is the worse error.
    op.alter_column("admin_contact", "enabled", server_default=sa.true())


def downgrade() -> None:
    op.alter_column("admin_contact", "enabled", server_default=None)
