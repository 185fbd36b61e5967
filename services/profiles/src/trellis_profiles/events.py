"""How profiles writes its events: to the outbox, inside the caller's transaction."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from trellis_shared.contracts import profiles as contracts
from trellis_shared.events import EventContract
from trellis_shared.outbox import emit, notify_channel
from trellis_shared.settings import ServiceSettings

PRODUCES = (
    contracts.OrganizationCreated,
    contracts.ProgramCreated,
    contracts.ProgramUpdated,
    contracts.PersonRegistered,
    contracts.PersonUpdated,
    contracts.PersonErased,
    contracts.EnrollmentCreated,
    contracts.EnrollmentUpdated,
    contracts.EnrollmentWithdrawn,
    contracts.ConnectionCreated,
    contracts.IntroductionRequested,
    contracts.IntroductionAccepted,
    contracts.IntroductionDeclined,
    contracts.AchievementShared,
)


async def publish(
    session: AsyncSession, settings: ServiceSettings, data: EventContract, *, tenant: uuid.UUID
) -> None:
    """Write `data` to the outbox in the session's transaction; the relay publishes it."""
    await emit(
        session,
        data,
        tenant=tenant,
        source=settings.source,
        channel=notify_channel(settings.db_schema),
    )
