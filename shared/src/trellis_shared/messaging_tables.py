"""The outbox, inbox, dead-letter and idempotency tables each service keeps in its own schema.

They are plain SQLAlchemy tables without a schema: the connection's search_path (the service's
schema) decides where they live. Each service's first migration creates them with
`create_messaging_tables`.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

metadata = sa.MetaData()

outbox_message = sa.Table(
    "outbox_message",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("event_id", pg.UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("tenant", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("headers", pg.JSONB, nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column("traceparent", sa.Text),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    sa.Column("published_at", sa.DateTime(timezone=True)),
)
sa.Index(
    "ix_outbox_message_unpublished",
    outbox_message.c.id,
    postgresql_where=outbox_message.c.published_at.is_(None),
)

inbox_message = sa.Table(
    "inbox_message",
    metadata,
    sa.Column("consumer", sa.Text, primary_key=True),
    sa.Column("event_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column(
        "processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)


# What a consumer sent to its dead-letter topic, by the record's place in the log (its topic,
# partition, offset and timestamp: a recreated topic reuses offsets, not timestamps). Claimed in a
# transaction held across the DLQ publish, so a replayed record (its offset commit lost to a
# rebalance or a crash) or one read by two owners at once is dead-lettered once.
dead_letter = sa.Table(
    "dead_letter",
    metadata,
    sa.Column("consumer", sa.Text, primary_key=True),
    sa.Column("topic", sa.Text, primary_key=True),
    sa.Column("partition", sa.Integer, primary_key=True),
    sa.Column("offset", sa.BigInteger, primary_key=True),
    sa.Column("record_timestamp", sa.BigInteger, primary_key=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("event_id", pg.UUID(as_uuid=True)),
    sa.Column(
        "dead_lettered_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)


def create_dead_letter_table(op) -> None:
    """The dead-letter ledger (a later migration of each service)."""
    dead_letter.create(op.get_bind())


def drop_dead_letter_table(op) -> None:
    dead_letter.drop(op.get_bind())


def create_messaging_tables(op) -> None:  # op: alembic.op
    """Create the outbox and inbox tables (call from a service's first migration)."""
    bind = op.get_bind()
    outbox_message.create(bind)
    inbox_message.create(bind)


def drop_messaging_tables(op) -> None:
    inbox_message.drop(op.get_bind())
    outbox_message.drop(op.get_bind())


idempotency_record = sa.Table(
    "idempotency_record",
    metadata,
    sa.Column("tenant", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("principal", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("request_hash", sa.Text, nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("response_headers", pg.JSONB),
    sa.Column("response_body", sa.LargeBinary),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    sa.Column("completed_at", sa.DateTime(timezone=True)),
    # Which attempt holds the key (a retry takes over an attempt that died), and when that
    # attempt's own transaction committed its effect (written in that very transaction).
    sa.Column("claim_token", pg.UUID(as_uuid=True)),
    sa.Column("committed_at", sa.DateTime(timezone=True)),
)


def create_idempotency_table(op) -> None:
    """Create the idempotency table (a later migration of each service)."""
    idempotency_record.create(op.get_bind())


def drop_idempotency_table(op) -> None:
    idempotency_record.drop(op.get_bind())


def add_idempotency_claims(op) -> None:
    """The claim columns, for a table made before them (a new one already has them)."""
    op.execute(
        "ALTER TABLE idempotency_record ADD COLUMN IF NOT EXISTS claim_token uuid,"
        " ADD COLUMN IF NOT EXISTS committed_at timestamptz"
    )


def drop_idempotency_claims(op) -> None:
    op.execute(
        "ALTER TABLE idempotency_record DROP COLUMN IF EXISTS claim_token,"
        " DROP COLUMN IF EXISTS committed_at"
    )
