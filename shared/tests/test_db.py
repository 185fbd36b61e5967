"""Which session a request gets: reads without a transaction, writes in one."""

from types import SimpleNamespace

import pytest

from trellis_shared.db import _request_session, create_engine, create_sessionmaker
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
