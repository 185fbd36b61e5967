"""Each service's database role can touch its own schema and nothing else."""

import asyncpg
import pytest

from trellis_infra.stack import SERVICES


async def _connect(stack, service):
    return await asyncpg.connect(stack.service_database_url(service).replace("+asyncpg", ""))


@pytest.mark.parametrize("service", SERVICES)
async def test_a_service_role_cannot_read_or_write_another_schema(stack, service):
    conn = await _connect(stack, service)
    try:
        assert await conn.fetchval("SELECT count(*) FROM outbox_message") >= 0
        for other in SERVICES:
            if other == service:
                continue
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetch(f"SELECT * FROM {other}.outbox_message LIMIT 1")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(f"CREATE TABLE {other}.intruder (id int)")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE TABLE public.intruder (id int)")
    finally:
        await conn.close()
