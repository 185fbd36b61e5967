"""Organizations, programs with their matching settings, and enrollments.

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


def upgrade() -> None:
    op.create_table(
        "organization",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("slug", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("slug", name="uq_organization_slug"),
    )
    # program.organization_id and enrollment.organization_id deliberately have no foreign key to
    # organization: the token's `org` claim is the tenant whether or not it has a row here.
    op.create_table(
        "program",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("cohort_starts_on", sa.Date()),
        sa.Column("cohort_ends_on", sa.Date()),
        sa.Column("enrollment_opens_on", sa.Date()),
        sa.Column("enrollment_closes_on", sa.Date()),
        sa.Column("meeting_cadence_days", sa.Integer(), nullable=False),
        sa.Column("meeting_minutes", sa.Integer(), nullable=False),
        sa.Column("matching", pg.JSONB(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('one_to_one', 'group')", name="ck_program_kind"),
    )
    op.create_index(
        "ix_program_organization_created", "program", ["organization_id", "created_at", "id"]
    )
    op.create_table(
        "enrollment",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("program_id", sa.Uuid(), sa.ForeignKey("program.id"), nullable=False),
        sa.Column(
            "person_id", sa.Uuid(), sa.ForeignKey("person.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("capacity", sa.Integer()),
        sa.Column("goals", pg.JSONB(), nullable=False, server_default="[]"),
        sa.Column("topics", pg.ARRAY(sa.Text()), nullable=False, server_default="{}"),
        sa.Column("status", sa.Text(), nullable=False, server_default="active"),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("role IN ('mentor', 'mentee')", name="ck_enrollment_role"),
        sa.CheckConstraint("status IN ('active', 'withdrawn')", name="ck_enrollment_status"),
        sa.CheckConstraint("capacity IS NULL OR capacity >= 0", name="ck_enrollment_capacity"),
    )
    op.create_index(
        "uq_enrollment_active",
        "enrollment",
        ["program_id", "person_id", "role"],
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_index(
        "ix_enrollment_program_created", "enrollment", ["program_id", "created_at", "id"]
    )
    op.create_index("ix_enrollment_person_created", "enrollment", ["person_id", "created_at", "id"])


def downgrade() -> None:
    op.drop_table("enrollment")
    op.drop_table("program")
    op.drop_table("organization")
