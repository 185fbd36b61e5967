"""Directory of people and programs, preferences, queued emails; inbox items get a category.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=None if nullable else sa.func.now(),
    )


def upgrade() -> None:
    op.add_column(
        "inbox_item", sa.Column("category", sa.Text(), nullable=False, server_default="account")
    )
    op.create_table(
        "person_view",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("full_name", sa.Text(), nullable=False),
        sa.Column("email", sa.Text()),
        sa.Column("locale", sa.Text(), nullable=False, server_default="en"),
        sa.Column("time_zone", sa.Text(), nullable=False, server_default="UTC"),
        sa.Column("erased", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("version", sa.Integer(), nullable=False),
        _ts("updated_at"),
    )
    op.create_table(
        "program_view",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _ts("updated_at"),
    )
    op.create_table(
        "preference",
        sa.Column("person_id", sa.Uuid(), primary_key=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("channels", pg.JSONB(), nullable=False),
        sa.Column("quiet_start", sa.Time()),
        sa.Column("quiet_end", sa.Time()),
        sa.Column("digest", sa.Text(), nullable=False),
        sa.Column("digest_time", sa.Time(), nullable=False),
        sa.Column("reminder_leads", pg.JSONB(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _ts("updated_at"),
    )
    op.create_table(
        "email_delivery",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("source_id", sa.Uuid(), nullable=False),
        sa.Column("template", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("critical", sa.Boolean(), nullable=False),
        sa.Column("locale", sa.Text(), nullable=False),
        sa.Column("context", pg.JSONB(), nullable=False),
        sa.Column("to_address", sa.Text()),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("delayed_for", sa.Text()),
        _ts("due_at"),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text()),
        _ts("sent_at", nullable=True),
        _ts("created_at"),
        sa.CheckConstraint(
            "status IN ('queued', 'digest', 'sent', 'failed', 'suppressed')",
            name="ck_email_delivery_status",
        ),
        sa.UniqueConstraint("person_id", "source_id", "template", name="uq_email_delivery_source"),
    )
    op.create_index(
        "ix_email_delivery_due",
        "email_delivery",
        ["due_at"],
        postgresql_where=sa.text("status = 'queued'"),
    )
    op.create_index(
        "ix_email_delivery_digest",
        "email_delivery",
        ["person_id", "due_at"],
        postgresql_where=sa.text("status = 'digest'"),
    )


def downgrade() -> None:
    for table in ("email_delivery", "preference", "program_view", "person_view"):
        op.drop_table(table)
    op.drop_column("inbox_item", "category")
