"""Mentorships, closing evaluations, and the directory of programs and people from profiles.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

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
    op.create_table(
        "program_view",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("cadence_days", sa.Integer(), nullable=False),
        sa.Column("meeting_minutes", sa.Integer(), nullable=False),
        sa.Column("health_threshold", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _ts("updated_at"),
    )
    op.create_table(
        "person_view",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("full_name", sa.Text(), nullable=False),
        sa.Column("time_zone", sa.Text(), nullable=False),
        sa.Column("locale", sa.Text(), nullable=False),
        sa.Column("erased", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("version", sa.Integer(), nullable=False),
        _ts("updated_at"),
    )
    op.create_table(
        "mentorship",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("match_id", sa.Uuid(), nullable=False, unique=True),
        sa.Column("mentor_id", sa.Uuid(), nullable=False),
        sa.Column("mentee_id", sa.Uuid(), nullable=False),
        sa.Column("match_score", sa.Float()),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("cadence_days", sa.Integer(), nullable=False),
        sa.Column("meeting_minutes", sa.Integer(), nullable=False),
        sa.Column("pause_reason", sa.Text()),
        sa.Column("resume_on", sa.Date()),
        sa.Column("end_reason", sa.Text()),
        _ts("started_at"),
        _ts("paused_at", nullable=True),
        _ts("completed_at", nullable=True),
        _ts("ended_at", nullable=True),
        sa.Column("health_score", sa.Integer()),
        _ts("health_checked_at", nullable=True),
        _ts("at_risk_since", nullable=True),
        _ts("created_at"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'paused', 'completed', 'ended')", name="ck_mentorship_status"
        ),
    )
    op.create_index(
        "ix_mentorship_mentor", "mentorship", ["organization_id", "mentor_id", "status"]
    )
    op.create_index(
        "ix_mentorship_mentee", "mentorship", ["organization_id", "mentee_id", "status"]
    )
    op.create_index(
        "ix_mentorship_program", "mentorship", ["organization_id", "program_id", "status"]
    )
    op.create_table(
        "evaluation",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("mentorship_id", sa.Uuid(), sa.ForeignKey("mentorship.id"), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("side", sa.Text(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("goals_met", sa.Text(), nullable=False),
        sa.Column("would_recommend", sa.Boolean(), nullable=False),
        sa.Column("comments", sa.Text()),
        _ts("created_at"),
        sa.UniqueConstraint("mentorship_id", "author_id"),
    )
    op.create_index("ix_evaluation_mentorship_id", "evaluation", ["mentorship_id"])


def downgrade() -> None:
    for table in ("evaluation", "mentorship", "person_view", "program_view"):
        op.drop_table(table)
