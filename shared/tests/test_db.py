"""Which session a request gets; projection rows upserted one by one and together."""

import asyncio
import random
import uuid
from types import SimpleNamespace

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from trellis_shared.db import (
    Reader,
    Row,
    _request_session,
    create_engine,
    create_sessionmaker,
    upsert_all_if_newer,
    upsert_if_newer,
)
from trellis_shared.problems import Problem
from trellis_shared.settings import ServiceSettings


@pytest.mark.parametrize(
    ("method", "isolation"),
    [("GET", "AUTOCOMMIT"), ("HEAD", "AUTOCOMMIT"), ("POST", None), ("PATCH", None)],
)
async def test_reads_get_an_autocommit_session_and_writes_a_transactional_one(method, isolation):
    settings = ServiceSettings()
    engine = create_engine(settings)  # never connects: the sessions are only looked at
    runtime = SimpleNamespace(
        sessionmaker=create_sessionmaker(engine, settings),
        read_sessionmaker=create_sessionmaker(engine, settings, autocommit=True),
    )
    request = SimpleNamespace(
        method=method, app=SimpleNamespace(state=SimpleNamespace(runtime=runtime)), scope={}
    )
    sessions = _request_session(request)
    session = await anext(sessions)
    assert session.bind.get_execution_options().get("isolation_level") == isolation
    await sessions.aclose()
    await engine.dispose()


def _projection_table(metadata: sa.MetaData, name: str) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("a", sa.Text),
        sa.Column("b", sa.Text),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
        prefixes=["TEMPORARY"],
    )


async def test_rows_upserted_together_end_as_if_upserted_one_by_one(stack):
    """Random projection rows for two tables, interleaved (ids repeated, versions out of order
    and tied, rows with and without column `b`): `upsert_all_if_newer` of the whole list leaves
    each table as `upsert_if_newer` of its rows in order does."""
    metadata = sa.MetaData()
    one_by_one = {t: _projection_table(metadata, f"one_by_one_{t}") for t in "xy"}
    together = {t: _projection_table(metadata, f"together_{t}") for t in "xy"}
    rng = random.Random(9)
    # The admin role: a service's role may not create tables, not even temporary ones.
    engine = create_engine(ServiceSettings(database_url=_asyncpg_url(stack.admin_dsn)))
    try:
        async with engine.connect() as conn:
            await conn.run_sync(metadata.create_all)
            session = AsyncSession(bind=conn)
            for trial in range(50):
                stored = [
                    {"id": i, "a": "stored", "b": "stored", "version": 3} for i in range(0, 8, 2)
                ]
                for table in [*one_by_one.values(), *together.values()]:
                    await session.execute(sa.delete(table))
                    await session.execute(sa.insert(table), stored)
                rows = []
                for n in range(rng.randint(1, 30)):
                    values = {"id": rng.randrange(8), "a": f"{trial}.{n}"}
                    if rng.random() < 0.3:
                        values["b"] = f"{trial}.{n}"
                    values["version"] = rng.randint(1, 6)
                    rows.append((rng.choice("xy"), values))
                for t, values in rows:
                    await upsert_if_newer(session, one_by_one[t], values)
                await upsert_all_if_newer(session, [Row(together[t], v) for t, v in rows])
                for t in "xy":
                    assert await _contents(session, together[t]) == await _contents(
                        session, one_by_one[t]
                    ), rows
    finally:
        await engine.dispose()


async def _contents(session: AsyncSession, table: sa.Table) -> list[tuple]:
    found = await session.execute(
        sa.select(table.c.id, table.c.a, table.c.b, table.c.version).order_by(table.c.id)
    )
    return [tuple(row) for row in found]


def _asyncpg_url(dsn: str) -> str:
    return dsn.replace("postgresql://", "postgresql+asyncpg://", 1)


async def test_the_pool_keeps_its_connections_through_bursts_above_its_size(stack):
    """Bursts of more sessions than the pool holds wait for a connection: the service opens
    `db_pool_size` connections once and keeps them, instead of opening and closing connections
    all the time under steady load (each one a SCRAM exchange and a server process)."""
    engine = create_engine(
        ServiceSettings(database_url=_asyncpg_url(stack.admin_dsn), db_pool_size=3)
    )
    opened = 0

    def count(*_):
        nonlocal opened
        opened += 1

    sa.event.listen(engine.sync_engine, "connect", count)
    busiest = 0
    in_use = 0

    async def one_request() -> None:
        nonlocal busiest, in_use
        async with engine.connect() as conn:
            in_use += 1
            busiest = max(busiest, in_use)
            await conn.execute(sa.text("SELECT pg_sleep(0.01)"))
            in_use -= 1

    try:
        for _burst in range(5):
            await asyncio.gather(*(one_request() for _ in range(12)))
    finally:
        await engine.dispose()
    assert busiest == 3
    assert opened == 3


async def test_a_hot_read_on_a_dropped_connection_says_retry_and_the_next_one_reconnects(stack):
    """`Reader` runs on the pool's driver connection itself: when the server has dropped that
    connection, the read fails as the ORM path would (OperationalError, a 503 to the client) and
    the pool does not hand the dead connection out again."""
    schema = f"reader_{uuid.uuid4().hex[:12]}"

    class Base(DeclarativeBase):
        metadata = sa.MetaData(schema=schema)

    class Thing(Base):
        __tablename__ = "thing"
        id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
        organization_id: Mapped[uuid.UUID]

    # The admin role: a service's role may not create tables.
    engine = create_engine(
        ServiceSettings(database_url=_asyncpg_url(stack.admin_dsn), db_pool_size=1)
    )
    reader = Reader(engine)
    org, missing = uuid.uuid4(), uuid.uuid4()
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.schema.CreateSchema(schema))
            await conn.run_sync(Base.metadata.create_all)
        with pytest.raises(Problem) as first:
            await reader.in_tenant(Thing, missing, organization_id=org)
        async with engine.connect() as conn:
            backend = (await conn.exec_driver_sql("SELECT pg_backend_pid()")).scalar_one()
        admin = await asyncpg.connect(stack.admin_dsn)
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", backend)
        finally:
            await admin.close()
        with pytest.raises(OperationalError):
            await reader.in_tenant(Thing, missing, organization_id=org)
        with pytest.raises(Problem) as again:
            await reader.in_tenant(Thing, missing, organization_id=org)
        async with engine.connect() as conn:
            now = (await conn.exec_driver_sql("SELECT pg_backend_pid()")).scalar_one()
    finally:
        async with engine.begin() as conn:
            await conn.execute(sa.schema.DropSchema(schema, cascade=True))
        await engine.dispose()
    assert first.value.status == again.value.status == 404
    assert now != backend
