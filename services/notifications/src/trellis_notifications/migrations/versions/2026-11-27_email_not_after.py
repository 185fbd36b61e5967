"""Email expiry: a queued email may carry a time past which it is dropped (status `expired`)
instead of sent.

Revision ID: notafter
Revises: 0004
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "notafter"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A meeting reminder retried while SMTP is down must not arrive after the meeting started.
    op.add_column("email_delivery", sa.Column("not_after", sa.DateTime(timezone=True)))
    op.drop_constraint("ck_email_delivery_status", "email_delivery", type_="check")
    op.create_check_constraint(
        "ck_email_delivery_status",
        "email_delivery",
        "status IN ('queued', 'digest', 'sent', 'failed', 'suppressed', 'expired')",
    )


def downgrade() -> None:
    op.execute("UPDATE email_delivery SET status = 'failed' WHERE status = 'expired'")
    op.drop_constraint("ck_email_delivery_status", "email_delivery", type_="check")
    op.create_check_constraint(
        "ck_email_delivery_status",
        "email_delivery",
        "status IN ('queued', 'digest', 'sent', 'failed', 'suppressed')",
    )
    op.drop_column("email_delivery", "not_after")
