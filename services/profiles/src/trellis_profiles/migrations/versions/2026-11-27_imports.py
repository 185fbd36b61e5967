"""Bulk imports of people: the job, its pending rows, and its per-row error report.

Revision ID: 0006
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0006"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "person_import",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("format", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("processed_rows", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("updated", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("unchanged", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("failed_rows", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("enrollments_created", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("error", sa.Text()),
        sa.Column("requested_by", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'completed', 'failed')",
            name="ck_person_import_status",
        ),
    )
    op.create_index(
        "ix_person_import_organization_created",
        "person_import",
        ["organization_id", "created_at", "id"],
    )
    # The jobs a restarted service resumes.
    op.create_index(
        "ix_person_import_pending",
        "person_import",
        ["created_at"],
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )
    op.create_table(
        "person_import_row",
        sa.Column(
            "import_id",
            sa.Uuid(),
            sa.ForeignKey("person_import.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("row_number", sa.Integer(), primary_key=True),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("data", pg.JSONB()),
        sa.Column("errors", pg.JSONB()),
    )
    op.create_table(
        "person_import_error",
        sa.Column(
            "import_id",
            sa.Uuid(),
            sa.ForeignKey("person_import.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("row_number", sa.Integer(), primary_key=True),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.Text()),
        sa.Column("errors", pg.JSONB(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("person_import_error")
    op.drop_table("person_import_row")
    op.drop_table("person_import")
