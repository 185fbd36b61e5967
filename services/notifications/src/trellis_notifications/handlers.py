"""Every Kafka subscription of notifications, each mapped to a service call."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from trellis_notifications import service
from trellis_shared.contracts.profiles import PersonRegistered
from trellis_shared.events import Event
from trellis_shared.inbox import Subscriptions

subscriptions = Subscriptions()


@subscriptions.on(PersonRegistered)
async def welcome(session: AsyncSession, event: Event[PersonRegistered]) -> None:
    person = event.data
    first_name = person.full_name.split()[0]
    await service.add_inbox_item(
        session=session,
        organization_id=event.tenant,
        person_id=person.person_id,
        source_event_id=event.id,
        kind="welcome",
        title=f"Welcome to Trellis, {first_name}",
        body=("Your profile is ready. Add your skills and goals so we can find the right people."),
        link=f"/profiles/people/{person.person_id}",
    )
