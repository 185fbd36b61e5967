"""The background sweep that expires open proposals nobody decided in time."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from trellis_matching.proposals.service import expire_due

log = logging.getLogger("trellis.matching.expiry")
SWEEP_SECONDS = 30.0


async def expire_proposals(runtime: Any, *, every: float = SWEEP_SECONDS) -> None:
    """Every `every` seconds, expire due proposals (several replicas share the work safely)."""
    while True:
        try:
            async with runtime.sessionmaker() as session, session.begin():
                expired = await expire_due(session=session)
            if expired:
                log.info("expired %d proposals", expired)
                continue
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("proposal expiry sweep failed; retrying", exc_info=True)
        await asyncio.sleep(every)
