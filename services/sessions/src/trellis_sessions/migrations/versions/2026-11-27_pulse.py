"""The pulse: check-ins from each side and feedback with its visibility.

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


def _created_at() -> sa.Column:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )


def upgrade() -> None:
    op.create_table(
        "checkin",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("mentorship_id", sa.Uuid(), sa.ForeignKey("mentorship.id"), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("side", sa.Text(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("blockers", sa.Text()),
        sa.Column("note", sa.Text()),
        _created_at(),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name="ck_checkin_rating"),
    )
    op.create_index("ix_checkin_mentorship", "checkin", ["mentorship_id", "created_at"])
    op.create_index("ix_checkin_author", "checkin", ["organization_id", "author_id"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("mentorship_id", sa.Uuid(), sa.ForeignKey("mentorship.id"), nullable=False),
        # The meeting table comes from the meetings branch (0004): no foreign key across branches.
        sa.Column("meeting_id", sa.Uuid()),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("side", sa.Text(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comments", sa.Text()),
        sa.Column("visibility", sa.Text(), nullable=False),
        _created_at(),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name="ck_feedback_rating"),
        sa.CheckConstraint(
            "visibility IN ('shared', 'private', 'program_admin')", name="ck_feedback_visibility"
        ),
        sa.UniqueConstraint("meeting_id", "author_id", name="uq_feedback_meeting_author"),
    )
    op.create_index("ix_feedback_mentorship", "feedback", ["mentorship_id", "created_at"])
    op.create_index("ix_feedback_author", "feedback", ["organization_id", "author_id"])


def downgrade() -> None:
    for table in ("feedback", "checkin"):
        op.drop_table(table)
