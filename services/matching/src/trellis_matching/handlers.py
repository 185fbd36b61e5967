"""Every Kafka subscription of matching: profiles' facts into matching's read model."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from trellis_matching import readmodel
from trellis_shared.contracts import profiles as p
from trellis_shared.db import Row
from trellis_shared.events import Event
from trellis_shared.inbox import Subscriptions

subscriptions = Subscriptions()


@subscriptions.projects(p.ProgramCreated)
@subscriptions.projects(p.ProgramUpdated)
def program_changed(event: Event) -> Row:
    return readmodel.program_row(event.tenant, event.data)


@subscriptions.projects(p.PersonRegistered)
@subscriptions.projects(p.PersonUpdated)
def person_changed(event: Event) -> Row:
    return readmodel.person_row(event.tenant, event.data)


@subscriptions.on(p.PersonErased)
async def person_erased(session: AsyncSession, event: Event[p.PersonErased]) -> None:
    await readmodel.erase_person(session, event.tenant, event.data.person_id)


@subscriptions.projects(p.EnrollmentCreated)
@subscriptions.projects(p.EnrollmentUpdated)
def enrollment_changed(event: Event) -> Row:
    return readmodel.enrollment_row(event.tenant, event.data)


@subscriptions.on(p.EnrollmentWithdrawn)
async def enrollment_withdrawn(session: AsyncSession, event: Event[p.EnrollmentWithdrawn]) -> None:
    await readmodel.withdraw_enrollment(session, event.tenant, event.data)
