"""Live inbox updates: one LISTEN connection per process wakes the person's open streams.

An inbox item NOTIFYs its person's id when its transaction commits; the hub wakes that person's
streams, which then read what is new from the database. The notification only says "look": the
data always comes from the table, so a wake-up lost while reconnecting costs nothing but a
moment — every stream looks again after a reconnect.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from trellis_notifications.dispatch import INBOX_CHANNEL
from trellis_shared.app import asyncpg_dsn

log = logging.getLogger("trellis.notifications.stream")


class InboxHub:
    def __init__(self, database_url: str) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self._waiting: dict[uuid.UUID, set[asyncio.Queue[None]]] = defaultdict(set)

    @asynccontextmanager
    async def subscribe(self, person_id: uuid.UUID) -> AsyncIterator[asyncio.Queue[None]]:
        """A queue that receives a wake-up whenever the person's inbox may have changed."""
        wake: asyncio.Queue[None] = asyncio.Queue(maxsize=1)
        self._waiting[person_id].add(wake)
        try:
            yield wake
        finally:
            self._waiting[person_id].discard(wake)
            if not self._waiting[person_id]:
                del self._waiting[person_id]

    def _wake(self, person_id: uuid.UUID) -> None:
        for wake in self._waiting.get(person_id, ()):
            if wake.empty():  # one pending wake-up is enough: the stream reads everything new
                wake.put_nowait(None)

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            self._wake(uuid.UUID(payload))
        except ValueError:
            log.warning("ignored a malformed inbox notification %r", payload)

    async def run(self, _runtime: Any) -> None:
        """Keep a LISTEN connection open for as long as the service runs (a background job)."""
        while True:
            conn = None
            try:
                conn = await asyncpg.connect(self._dsn)
                await conn.add_listener(INBOX_CHANNEL, self._on_notify)
                for person_id in list(self._waiting):
                    self._wake(person_id)  # catch up on anything missed while disconnected
                while not conn.is_closed():
                    await asyncio.sleep(5)
                    await conn.execute("SELECT 1")
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("inbox LISTEN connection lost; reconnecting", exc_info=True)
                await asyncio.sleep(1)
            finally:
                if conn is not None and not conn.is_closed():
                    await conn.close()
