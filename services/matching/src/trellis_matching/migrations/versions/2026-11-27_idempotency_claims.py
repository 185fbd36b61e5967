"""Idempotency claims: a retry may take over a key whose first attempt died mid-request.

Revision ID: idemclaim
Revises: 0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

from trellis_shared.messaging_tables import add_idempotency_claims, drop_idempotency_claims

revision: str = "idemclaim"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_idempotency_claims(op)


def downgrade() -> None:
    drop_idempotency_claims(op)
