"""The background sweep that resumes paused mentorships on the date they said they would."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from trellis_sessions.mentorships.service import resume_due

log = logging.getLogger("trellis.sessions.resume")
SWEEP_SECONDS = 300.0


async def resume_paused(runtime: Any, *, every: float = SWEEP_SECONDS) -> None:
    """Every `every` seconds, resume what is due (several replicas share the work safely)."""
    while True:
        try:
            async with runtime.sessionmaker() as session, session.begin():
                resumed = await resume_due(session=session)
            if resumed:
                log.info("resumed %d paused mentorships", resumed)
                continue
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("resume sweep failed; retrying", exc_info=True)
        await asyncio.sleep(every)
