"""The whole profile of a person: languages, skills, availability, styles, preferences.

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

_TEXT_ARRAYS = ("languages", "skill_names", "interests", "communication")
_JSON_LISTS = ("skills", "availability")
_JSON_MAPS = ("demographics", "matching_preferences")


def upgrade() -> None:
    for name in (
        "headline",
        "bio",
        "industry",
        "function",
        "external_id",
        "learning_style",
        "mentoring_style",
    ):
        op.add_column("person", sa.Column(name, sa.Text()))
    op.add_column("person", sa.Column("seniority_level", sa.Integer()))
    op.add_column(
        "person",
        sa.Column("manager_id", sa.Uuid(), sa.ForeignKey("person.id", ondelete="SET NULL")),
    )
    for name in _TEXT_ARRAYS:
        op.add_column(
            "person", sa.Column(name, pg.ARRAY(sa.Text()), nullable=False, server_default="{}")
        )
    for name in _JSON_LISTS:
        op.add_column("person", sa.Column(name, pg.JSONB(), nullable=False, server_default="[]"))
    for name in _JSON_MAPS:
        op.add_column("person", sa.Column(name, pg.JSONB(), nullable=False, server_default="{}"))
    op.add_column(
        "person",
        sa.Column("demographics_opt_in", sa.Boolean(), nullable=False, server_default="false"),
    )
    op.create_index(
        "uq_person_organization_external_id",
        "person",
        ["organization_id", "external_id"],
        unique=True,
        postgresql_where=sa.text("external_id IS NOT NULL"),
    )
    op.drop_index("ix_person_organization_id", "person")
    op.create_index(
        "ix_person_organization_created", "person", ["organization_id", "created_at", "id"]
    )
    op.create_index("ix_person_skill_names", "person", ["skill_names"], postgresql_using="gin")
    op.create_index("ix_person_languages", "person", ["languages"], postgresql_using="gin")
    op.create_index("ix_person_manager_id", "person", ["manager_id"])


def downgrade() -> None:
    for index in (
        "ix_person_manager_id",
        "ix_person_languages",
        "ix_person_skill_names",
        "ix_person_organization_created",
        "uq_person_organization_external_id",
    ):
        op.drop_index(index, "person")
    op.create_index("ix_person_organization_id", "person", ["organization_id"])
    for name in (
        "headline",
        "bio",
        "industry",
        "function",
        "external_id",
        "learning_style",
        "mentoring_style",
        "seniority_level",
        "manager_id",
        "demographics_opt_in",
        *_TEXT_ARRAYS,
        *_JSON_LISTS,
        *_JSON_MAPS,
    ):
        op.drop_column("person", name)
