"""Async database access bound to one service's schema and role."""

from __future__ import annotations

import functools
import itertools
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import asyncpg
import sqlalchemy as sa
from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlmodel.ext.asyncio.session import AsyncSession as SQLModelAsyncSession

from trellis_shared import idempotency
from trellis_shared.problems import Problem
from trellis_shared.settings import ServiceSettings

T = TypeVar("T")


def create_engine(settings: ServiceSettings) -> AsyncEngine:
    """An engine whose connections see only the service's schema (search_path)."""
    return create_async_engine(
        settings.database_url,
        # A fixed pool: an overflow connection is closed when it comes back to a full pool, so
        # under steady load above `pool_size` every few requests paid for a new connection (TLS
        # attempt, SCRAM, a backend fork on the server). Callers beyond it wait for one instead.
        pool_size=settings.db_pool_size,
        max_overflow=0,
        pool_timeout=settings.db_pool_timeout_s,
        # No pre-ping: it costs a round trip on every checkout. A connection broken by a database
        # restart fails once, the dialect invalidates the pool, and the caller gets a 503 to retry
        # (consumers retry transient errors by themselves).
        pool_pre_ping=False,
        pool_recycle=1800,
        connect_args={
            "server_settings": {
                "search_path": settings.db_schema,
                "application_name": f"trellis-{settings.service_name}",
            }
        },
    )


def create_sessionmaker(
    engine: AsyncEngine, settings: ServiceSettings | None = None, *, autocommit: bool = False
) -> async_sessionmaker[SQLModelAsyncSession]:
    """Sessions carry the service's settings in `session.info["settings"]`, so code reached from
    a Kafka handler (which gets only a session and an event) can still emit events.

    `autocommit` sessions (same pool) send each statement on its own, without BEGIN and ROLLBACK:
    for reads, which see a fresh snapshot per statement either way (READ COMMITTED), and save two
    round trips. Nothing that writes may use one: a write would not be atomic.
    """
    bind = engine.execution_options(isolation_level="AUTOCOMMIT") if autocommit else engine
    return async_sessionmaker(
        bind, class_=SQLModelAsyncSession, expire_on_commit=False, info={"settings": settings}
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


async def get_in_tenant(
    session: AsyncSession,
    table: type[T],
    id_: uuid.UUID,
    *,
    organization_id: uuid.UUID,
    lock: bool = False,
) -> T:
    """The row `id_` of the caller's organization; another tenant's row is simply not found (404).

    `table` needs `id` and `organization_id` columns. `lock` takes a row lock (FOR UPDATE).
    """
    query = _in_tenant_query(table, lock)
    row = (await session.execute(query, {"id_": id_, "org": organization_id})).scalars().first()
    if row is None:
        raise Problem(404, f"No {_name_of(table)} {id_}")
    return row


@functools.lru_cache(maxsize=256)
def _in_tenant_query(table: type, lock: bool) -> sa.Select:
    # Built once per table: building it cost about as much as running it.
    query = select(table).where(
        table.id == sa.bindparam("id_"), table.organization_id == sa.bindparam("org")
    )
    return query.with_for_update() if lock else query


class Reader:
    """Hot reads of one row, run on a pooled connection's asyncpg driver directly.

    Through an ORM session the same `SELECT` costs ~350-500 µs of CPU, ~320 µs as a Core statement
    (SQLAlchemy's execution and result machinery), ~150 µs here. A row is a dict by column name,
    its values as the dialect's codecs decode them (JSONB as Python objects), for routes that only
    read and answer. The connection comes from the service's one pool; the asyncpg
    instrumentation still traces the statement.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def in_tenant(
        self, table: type, id_: uuid.UUID, *, organization_id: uuid.UUID
    ) -> dict[str, Any]:
        """As `get_in_tenant` (another tenant's row is not found: 404), without the ORM."""
        statement, names = _in_tenant_sql(table, self.engine.dialect)
        values = {"id_": id_, "org": organization_id}
        async with self.engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            try:
                row = await driver.fetchrow(statement, *(values[n] for n in names))
            except Exception as exc:
                if not (isinstance(exc, _CONNECTION_LOST) or driver.is_closed()):
                    raise
                # The server or the network dropped this connection: the pool must not hand it
                # out again, and the caller is told to retry (503), as on the ORM path.
                await conn.invalidate(exc)
                raise OperationalError(statement, values, exc) from exc
        if row is None:
            raise Problem(404, f"No {_name_of(table)} {id_}")
        return dict(row)


# What asyncpg raises when the connection itself is gone or the server is going away (class 08,
# class 57 such as an administrator's termination, the client side's own errors, the socket's),
# and when its protocol lost track of the connection's state (as after a termination arrived
# while it was idle in the pool).
_CONNECTION_LOST = (
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    OSError,
)


@functools.lru_cache(maxsize=256)
def _in_tenant_sql(table: type, dialect: sa.Dialect) -> tuple[str, tuple[str, ...]]:
    compiled = _in_tenant_query(table, False).compile(dialect=dialect)
    return str(compiled), tuple(compiled.positiontup)


async def _reader(request: Request) -> Reader:  # async: a plain def runs in a thread
    return request.app.state.runtime.reader


ReaderDep = Annotated[Reader, Depends(_reader)]
"""Single-row reads without an ORM session, for GET routes that only read (see `Reader`)."""


def _name_of(table: type) -> str:
    return getattr(table, "__tablename__", table.__name__.lower()).replace("_", " ")


async def _request_session(request: Request) -> AsyncIterator[SQLModelAsyncSession]:
    runtime = request.app.state.runtime
    # GET and HEAD only read (a route that writes is a POST, PUT, PATCH or DELETE).
    reading = request.method in ("GET", "HEAD")
    async with (runtime.read_sessionmaker if reading else runtime.sessionmaker)() as session:
        if (claim := request.scope.get("state", {}).get(idempotency.STATE)) is not None:
            idempotency.fence(session, claim)
        yield session


SessionDep = Annotated[SQLModelAsyncSession, Depends(_request_session)]
"""A database session for one request, bound to the service's schema."""


async def upsert_if_newer(session: AsyncSession, table: sa.Table, values: dict[str, Any]) -> None:
    """Insert the row, or overwrite it only when `values["version"]` is newer than the stored one.

    The write of a projection (a service's copy of another's entity) from events: a replayed or
    late event never overwrites a newer state. `table` needs `id`, `version` and `updated_at`.
    """
    await session.execute(_upsert_statement(table, tuple(values)), values)


@dataclass(frozen=True)
class Row:
    """One row of a projection, for `upsert_if_newer` or `upsert_all_if_newer`."""

    table: sa.Table
    values: dict[str, Any]


async def upsert_all_if_newer(session: AsyncSession, rows: list[Row]) -> None:
    """The rows as if each went through `upsert_if_newer` in order, in few statements.

    Projection tables hold no keys to each other, so each table's rows go together (in their
    order). Within a run of rows with the same columns, applying them in order leaves per id the
    stored row or the first of the newest given, so only that one is sent; a run is one
    executemany.
    """
    by_table: dict[sa.Table, list[Row]] = {}
    for row in rows:
        by_table.setdefault(row.table, []).append(row)
    for table, table_rows in by_table.items():
        for keys, run in itertools.groupby(table_rows, key=lambda row: tuple(row.values)):
            newest: dict[Any, dict[str, Any]] = {}
            for row in run:
                kept = newest.get(row.values["id"])
                if kept is None or row.values["version"] > kept["version"]:
                    newest[row.values["id"]] = row.values
            await session.execute(_upsert_statement(table, keys), list(newest.values()))


@functools.lru_cache(maxsize=256)
def _upsert_statement(table: sa.Table, keys: tuple[str, ...]) -> sa.Insert:
    # Built once per table and column set: constructing it (the EXCLUDED alias, the SET clause)
    # cost more than running it in a consumer's batch.
    statement = insert(table)
    changed = {k: statement.excluded[k] for k in keys if k != "id"} | {"updated_at": sa.func.now()}
    return statement.on_conflict_do_update(
        index_elements=["id"], set_=changed, where=table.c.version < statement.excluded.version
    )
