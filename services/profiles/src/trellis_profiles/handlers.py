"""Every Kafka subscription of profiles, each mapped to a service call."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from trellis_profiles.network import service as network
from trellis_shared.contracts.matching import MatchAccepted
from trellis_shared.db import settings_of
from trellis_shared.events import Event
from trellis_shared.inbox import Subscriptions

subscriptions = Subscriptions()


@subscriptions.on(MatchAccepted)
async def connect_mentor_and_mentee(session: AsyncSession, event: Event[MatchAccepted]) -> None:
    match = event.data
    # Does nothing when either person was erased since, or the two are already connected.
    await network.connect(
        session=session,
        settings=settings_of(session),
        organization_id=event.tenant,
        people=(match.mentor_id, match.mentee_id),
        origin="mentorship",
        source_id=match.match_id,
    )
