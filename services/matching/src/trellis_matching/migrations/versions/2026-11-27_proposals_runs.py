"""Proposals and matching runs.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _at(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "proposal",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("mentee_id", sa.Uuid(), nullable=False),
        sa.Column("mentor_id", sa.Uuid(), nullable=False),
        sa.Column("mentor_enrollment_id", sa.Uuid(), nullable=False),
        sa.Column("mentee_enrollment_id", sa.Uuid(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("explanation", pg.JSONB(), nullable=False),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("run_id", sa.Uuid()),
        sa.Column("status", sa.Text(), nullable=False),
        _at("mentee_accepted_at"),
        _at("mentor_accepted_at"),
        sa.Column("declined_by", sa.Text()),
        sa.Column("decline_reason", sa.Text()),
        _at("expires_at", nullable=False),
        _at("decided_at"),
        _at("created_at", nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('proposed', 'accepted', 'declined', 'expired', 'withdrawn')",
            name="ck_proposal_status",
        ),
    )
    op.create_index(
        "uq_proposal_open_pair",
        "proposal",
        ["program_id", "mentee_id", "mentor_id"],
        unique=True,
        postgresql_where=sa.text("status = 'proposed'"),
    )
    op.create_index("ix_proposal_mentor", "proposal", ["organization_id", "mentor_id", "status"])
    op.create_index("ix_proposal_mentee", "proposal", ["organization_id", "mentee_id", "status"])
    op.create_index(
        "ix_proposal_expiry",
        "proposal",
        ["expires_at"],
        postgresql_where=sa.text("status = 'proposed'"),
    )
    op.create_index("ix_proposal_mentor_enrollment", "proposal", ["mentor_enrollment_id", "status"])
    op.create_table(
        "run",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("mode", sa.Text(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("results", pg.JSONB(), nullable=False),
        sa.Column("error", sa.Text()),
        _at("created_at", nullable=False),
        _at("started_at"),
        _at("finished_at"),
    )
    op.create_index("ix_run_program", "run", ["organization_id", "program_id", "created_at"])


def downgrade() -> None:
    op.drop_table("run")
    op.drop_table("proposal")
