"""Meetings: series (an RRULE in a zone's wall time), one row per occurrence, private notes and
calendar feed tokens.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0004"
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
        "meeting_series",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("mentorship_id", sa.Uuid(), sa.ForeignKey("mentorship.id"), nullable=False),
        sa.Column("rrule", sa.Text(), nullable=False),
        sa.Column("time_zone", sa.Text(), nullable=False),
        sa.Column("local_start", sa.DateTime(timezone=False), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Uuid()),
        _ts("created_at"),
    )
    op.create_table(
        "meeting",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("mentorship_id", sa.Uuid(), sa.ForeignKey("mentorship.id"), nullable=False),
        sa.Column("series_id", sa.Uuid(), sa.ForeignKey("meeting_series.id")),
        sa.Column("occurrence", sa.Integer()),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("time_zone", sa.Text(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("mode", sa.Text(), nullable=False),
        sa.Column("location", sa.Text()),
        sa.Column("agenda", sa.Text()),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("cancel_reason", sa.Text()),
        _ts("cancelled_at", nullable=True),
        sa.Column("cancelled_by", sa.Uuid()),
        _ts("completed_at", nullable=True),
        sa.Column("attended", JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("shared_notes", sa.Text()),
        sa.Column("shared_notes_by", sa.Uuid()),
        sa.Column("sequence", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_by", sa.Uuid()),
        _ts("created_at"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('scheduled', 'cancelled', 'completed')", name="ck_meeting_status"
        ),
        sa.CheckConstraint("mode IN ('video', 'in_person', 'phone')", name="ck_meeting_mode"),
        sa.CheckConstraint("ends_at > starts_at", name="ck_meeting_ends_after_start"),
    )
    op.create_index("ix_meeting_mentorship_starts", "meeting", ["mentorship_id", "starts_at"])
    op.create_index("ix_meeting_series", "meeting", ["series_id", "occurrence"])
    op.create_table(
        "meeting_note",
        sa.Column("meeting_id", sa.Uuid(), sa.ForeignKey("meeting.id"), primary_key=True),
        sa.Column("author_id", sa.Uuid(), primary_key=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("body", sa.Text()),
        _ts("updated_at"),
    )
    op.create_table(
        "calendar_feed",
        sa.Column("organization_id", sa.Uuid(), primary_key=True),
        sa.Column("person_id", sa.Uuid(), primary_key=True),
        sa.Column("token_sha256", sa.Text(), nullable=False, unique=True),
        _ts("created_at"),
    )


def downgrade() -> None:
    for table in ("calendar_feed", "meeting_note", "meeting", "meeting_series"):
        op.drop_table(table)
