"""The plan: agreements, goals, milestones and the progress recorded on goals.

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0005"
down_revision: str | None = "0003"
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
        "agreement",
        sa.Column("mentorship_id", sa.Uuid(), sa.ForeignKey("mentorship.id"), primary_key=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("goals", pg.JSONB(), nullable=False, server_default="[]"),
        sa.Column("mentor_expectations", sa.Text()),
        sa.Column("mentee_expectations", sa.Text()),
        sa.Column("cadence_days", sa.Integer(), nullable=False),
        sa.Column("meeting_minutes", sa.Integer(), nullable=False),
        sa.Column("channels", pg.JSONB(), nullable=False, server_default="[]"),
        sa.Column("boundaries", sa.Text()),
        sa.Column("confidentiality", sa.Text()),
        sa.Column("review_on", sa.Date()),
        _ts("mentor_signed_at", nullable=True),
        _ts("mentee_signed_at", nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
    )
    op.create_table(
        "goal",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("mentorship_id", sa.Uuid(), sa.ForeignKey("mentorship.id"), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("success_criteria", sa.Text()),
        sa.Column("target_date", sa.Date()),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        _ts("completed_at", nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        _ts("created_at"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("status IN ('open', 'completed', 'dropped')", name="ck_goal_status"),
        sa.CheckConstraint("progress BETWEEN 0 AND 100", name="ck_goal_progress"),
    )
    op.create_index("ix_goal_mentorship", "goal", ["mentorship_id", "created_at"])
    op.create_table(
        "milestone",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("goal_id", sa.Uuid(), sa.ForeignKey("goal.id"), nullable=False),
        sa.Column("mentorship_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("due_on", sa.Date()),
        _ts("achieved_at", nullable=True),
        sa.Column("achieved_by", sa.Uuid()),
        _ts("created_at"),
    )
    op.create_index("ix_milestone_goal", "milestone", ["goal_id", "created_at"])
    op.create_table(
        "goal_progress",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("goal_id", sa.Uuid(), sa.ForeignKey("goal.id"), nullable=False),
        sa.Column("mentorship_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("percent", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text()),
        _ts("created_at"),
        sa.CheckConstraint("percent BETWEEN 0 AND 100", name="ck_goal_progress_percent"),
    )
    op.create_index("ix_goal_progress_goal", "goal_progress", ["goal_id", "created_at"])
    # Erasure finds a person's progress notes by author.
    op.create_index("ix_goal_progress_author", "goal_progress", ["organization_id", "author_id"])


def downgrade() -> None:
    for table in ("goal_progress", "milestone", "goal", "agreement"):
        op.drop_table(table)
