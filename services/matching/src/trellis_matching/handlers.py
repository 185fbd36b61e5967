"""Every Kafka subscription of matching: profiles' facts into matching's read model."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from trellis_matching import readmodel
from trellis_shared.contracts import profiles as p
from trellis_shared.events import Event
from trellis_shared.inbox import Subscriptions

subscriptions = Subscriptions()


@subscriptions.on(p.ProgramCreated)
@subscriptions.on(p.ProgramUpdated)
async def program_changed(session: AsyncSession, event: Event) -> None:
    await readmodel.record_program(session, event.tenant, event.data)


@subscriptions.on(p.PersonRegistered)
@subscriptions.on(p.PersonUpdated)
async def person_changed(session: AsyncSession, event: Event) -> None:
    await readmodel.record_person(session, event.tenant, event.data)


@subscriptions.on(p.PersonErased)
async def person_erased(session: AsyncSession, event: Event[p.PersonErased]) -> None:
    await readmodel.erase_person(session, event.tenant, event.data.person_id)


@subscriptions.on(p.EnrollmentCreated)
@subscriptions.on(p.EnrollmentUpdated)
async def enrollment_changed(session: AsyncSession, event: Event) -> None:
    await readmodel.record_enrollment(session, event.tenant, event.data)


@subscriptions.on(p.EnrollmentWithdrawn)
async def enrollment_withdrawn(session: AsyncSession, event: Event[p.EnrollmentWithdrawn]) -> None:
    await readmodel.withdraw_enrollment(session, event.tenant, event.data)
