"""Events profiles emits, written to the outbox inside the caller's transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from trellis_profiles.models import Person
from trellis_shared.contracts.profiles import PersonErased, PersonRegistered
from trellis_shared.outbox import emit, notify_channel
from trellis_shared.settings import ServiceSettings

PRODUCES = (PersonRegistered, PersonErased)


async def person_registered(
    session: AsyncSession, settings: ServiceSettings, person: Person
) -> None:
    await emit(
        session,
        PersonRegistered(
            person_id=person.id,
            full_name=person.full_name,
            email=person.email,
            time_zone=person.time_zone,
            locale=person.locale,
            registered_at=person.created_at,
        ),
        tenant=person.organization_id,
        source=settings.source,
        channel=notify_channel(settings.db_schema),
    )
