"""Async database access bound to one service's schema and role."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlmodel.ext.asyncio.session import AsyncSession as SQLModelAsyncSession

from trellis_shared.settings import ServiceSettings


def create_engine(settings: ServiceSettings) -> AsyncEngine:
    """An engine whose connections see only the service's schema (search_path)."""
    return create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_pre_ping=True,
        connect_args={
            "server_settings": {
                "search_path": settings.db_schema,
                "application_name": f"trellis-{settings.service_name}",
            }
        },
    )


def create_sessionmaker(
    engine: AsyncEngine, settings: ServiceSettings | None = None
) -> async_sessionmaker[SQLModelAsyncSession]:
    """Sessions carry the service's settings in `session.info["settings"]`, so code reached from
    a Kafka handler (which gets only a session and an event) can still emit events."""
    return async_sessionmaker(
        engine, class_=SQLModelAsyncSession, expire_on_commit=False, info={"settings": settings}
    )


def settings_of(session: AsyncSession) -> ServiceSettings:
    """The settings of the service that opened `session`."""
    return session.info["settings"]


@asynccontextmanager
async def transaction(
    sessionmaker: async_sessionmaker[SQLModelAsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One unit of work: commits on success, rolls back on any exception."""
    async with sessionmaker() as session, session.begin():
        yield session
