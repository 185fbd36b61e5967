"""Meeting reminders and check-in prompts: reminder rows, and the meeting and mentorship views
they follow.

Revision ID: 0006
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
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
        "reminder",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("other_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("meeting_id", sa.Uuid(), nullable=False),
        sa.Column("lead_minutes", sa.Integer(), nullable=False),
        _ts("starts_at"),
        sa.Column("sequence", sa.Integer(), nullable=False),
        _ts("due_at"),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("source_id", sa.Uuid(), nullable=False),
        _ts("sent_at", nullable=True),
        sa.Column("late_by", sa.Interval()),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        _ts("created_at"),
        _ts("updated_at"),
        sa.CheckConstraint(
            "status IN ('scheduled', 'sent', 'cancelled', 'skipped')", name="ck_reminder_status"
        ),
        sa.CheckConstraint("lead_minutes > 0", name="ck_reminder_lead"),
        sa.UniqueConstraint("person_id", "meeting_id", "lead_minutes", name="uq_reminder_lead"),
    )
    op.create_index(
        "ix_reminder_due", "reminder", ["due_at"], postgresql_where=sa.text("status = 'scheduled'")
    )
    op.create_index("ix_reminder_meeting", "reminder", ["meeting_id"])
    op.create_table(
        "meeting_view",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("mentorship_id", sa.Uuid(), nullable=False),
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("mentor_id", sa.Uuid(), nullable=False),
        sa.Column("mentee_id", sa.Uuid(), nullable=False),
        _ts("starts_at"),
        _ts("ends_at"),
        sa.Column("time_zone", sa.Text(), nullable=False),
        sa.Column("mode", sa.Text(), nullable=False),
        sa.Column("location", sa.Text()),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        _ts("updated_at"),
    )
    op.create_table(
        "mentorship_view",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("mentor_id", sa.Uuid(), nullable=False),
        sa.Column("mentee_id", sa.Uuid(), nullable=False),
        sa.Column("cadence_days", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        _ts("next_prompt_at", nullable=True),
        _ts("last_prompted_at", nullable=True),
        _ts("changed_at"),
        _ts("updated_at"),
        sa.CheckConstraint(
            "status IN ('active', 'paused', 'completed', 'ended')", name="ck_mentorship_view_status"
        ),
    )
    op.create_index(
        "ix_mentorship_view_prompt",
        "mentorship_view",
        ["next_prompt_at"],
        postgresql_where=sa.text("status = 'active'"),
    )


def downgrade() -> None:
    for table in ("mentorship_view", "meeting_view", "reminder"):
        op.drop_table(table)
