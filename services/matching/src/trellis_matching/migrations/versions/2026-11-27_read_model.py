"""Matching's read model: programs, people and enrollments as profiles announces them.

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


def _stamp() -> sa.Column:
    return sa.Column(
        "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )


def upgrade() -> None:
    op.create_table(
        "program_view",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("settings", pg.JSONB(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _stamp(),
    )
    op.create_table(
        "person_view",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("full_name", sa.Text(), nullable=False),
        sa.Column("profile", pg.JSONB(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _stamp(),
    )
    op.create_table(
        "enrollment_view",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("capacity", sa.Integer()),
        sa.Column("goals", pg.JSONB(), nullable=False),
        sa.Column("topics", pg.JSONB(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _stamp(),
    )
    op.create_index(
        "ix_enrollment_view_program_role", "enrollment_view", ["program_id", "role", "status"]
    )


def downgrade() -> None:
    for table in ("enrollment_view", "person_view", "program_view"):
        op.drop_table(table)
