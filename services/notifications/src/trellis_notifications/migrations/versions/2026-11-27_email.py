"""Email sending: when a queued email was meant to go, and the org admins who get program digests.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # due_at moves with leases and retries; planned_at keeps the first due time, so a message
    # that went out late can say by how much.
    op.add_column("email_delivery", sa.Column("planned_at", sa.DateTime(timezone=True)))
    op.create_table(
        "admin_contact",
        sa.Column("organization_id", sa.Uuid(), primary_key=True),
        sa.Column("person_id", sa.Uuid(), primary_key=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )


def downgrade() -> None:
    op.drop_table("admin_contact")
    op.drop_column("email_delivery", "planned_at")
