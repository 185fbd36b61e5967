"""Alembic per service: scripts in the service's package, version table in its own schema."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config

from trellis_shared.db import create_engine
from trellis_shared.settings import ServiceSettings

VERSION_TABLE = "alembic_version"


def alembic_config(migrations_dir: Path, settings: ServiceSettings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("file_template", "%%(year)d-%%(month).2d-%%(day).2d_%%(slug)s")
    config.attributes["settings"] = settings
    return config


def upgrade(migrations_dir: Path, settings: ServiceSettings, revision: str = "heads") -> None:
    command.upgrade(alembic_config(migrations_dir, settings), revision)


def run_env(target_metadata: sa.MetaData | None = None) -> None:
    """The body of every service's migrations/env.py (online mode, async engine)."""
    settings: ServiceSettings = context.config.attributes["settings"]

    def _migrate(connection: sa.Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table_schema=settings.db_schema,
            version_table=VERSION_TABLE,
            include_schemas=False,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def _run() -> None:
        engine = create_engine(settings)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(_migrate)
        finally:
            await engine.dispose()

    asyncio.run(_run())
