"""The network: connections, introductions and achievements.

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _person(name: str) -> sa.Column:
    # Erasing a person removes every edge, introduction and achievement that names them.
    return sa.Column(
        name, sa.Uuid(), sa.ForeignKey("person.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "connection",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        _person("person_a_id"),
        _person("person_b_id"),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("source_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint(
            "organization_id", "person_a_id", "person_b_id", name="uq_connection_pair"
        ),
        sa.CheckConstraint("person_a_id < person_b_id", name="ck_connection_canonical_order"),
        sa.CheckConstraint("origin IN ('mentorship', 'introduction')", name="ck_connection_origin"),
    )
    # Indexes lead with the person: ids are unique across tenants, and erasure's cascades look
    # rows up by person alone.
    op.create_index("ix_connection_person_a", "connection", ["person_a_id"])
    op.create_index("ix_connection_person_b", "connection", ["person_b_id"])

    op.create_table(
        "introduction",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        _person("introducer_id"),
        _person("from_person_id"),
        _person("to_person_id"),
        sa.Column("note", sa.Text()),
        sa.Column("status", sa.Text(), nullable=False, server_default="open"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint(
            "status IN ('open', 'accepted', 'declined')", name="ck_introduction_status"
        ),
        sa.CheckConstraint("from_person_id <> to_person_id", name="ck_introduction_two_people"),
    )
    op.create_index(
        "uq_introduction_open_pair",
        "introduction",
        [
            "organization_id",
            sa.text("least(from_person_id, to_person_id)"),
            sa.text("greatest(from_person_id, to_person_id)"),
        ],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
    )
    for index, column in (
        ("ix_introduction_to", "to_person_id"),
        ("ix_introduction_from", "from_person_id"),
        ("ix_introduction_introducer", "introducer_id"),
    ):
        op.create_index(index, "introduction", [column, "created_at", "id"])

    op.create_table(
        "achievement",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        _person("person_id"),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("url", sa.Text()),
        sa.Column("achieved_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('milestone', 'certificate', 'goal', 'other')", name="ck_achievement_kind"
        ),
    )
    op.create_index("ix_achievement_person", "achievement", ["person_id", "created_at", "id"])


def downgrade() -> None:
    op.drop_table("achievement")
    op.drop_table("introduction")
    op.drop_table("connection")
