"""Keeping matching's copy of programs, people and enrollments in step with profiles' events.

Programs, people and enrollments are projections: each event is one row, upserted only when its
version is newer, so a replayed or late event never overwrites a newer state.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_matching.models import EnrollmentView, PersonView, ProgramView
from trellis_matching.proposals import service as proposals
from trellis_shared.contracts import profiles as contracts
from trellis_shared.db import Row

_PERSON_PRIVATE = {"email", "person_id", "registered_at", "updated_at", "full_name", "version"}


def program_row(tenant: uuid.UUID, data: contracts.ProgramCreated) -> Row:
    """A program's matching settings (created or updated)."""
    return Row(
        ProgramView.__table__,
        {
            "id": data.program_id,
            "organization_id": tenant,
            "name": data.name,
            "settings": data.matching.model_dump(mode="json"),
            "version": data.version,
        },
    )


def person_row(tenant: uuid.UUID, data: contracts.PersonRegistered) -> Row:
    """The attributes matching scores on (registered or updated); no email is kept."""
    profile = data.model_dump(mode="json", exclude=_PERSON_PRIVATE)
    return Row(
        PersonView.__table__,
        {
            "id": data.person_id,
            "organization_id": tenant,
            "full_name": data.full_name,
            "profile": profile,
            "version": data.version,
        },
    )


async def erase_person(session: AsyncSession, tenant: uuid.UUID, person_id: uuid.UUID) -> None:
    """Forget a person entirely; their enrollments leave every program."""
    await session.execute(
        sa.delete(PersonView.__table__).where(
            PersonView.id == person_id, PersonView.organization_id == tenant
        )
    )
    await session.execute(
        sa.delete(EnrollmentView.__table__).where(
            EnrollmentView.person_id == person_id, EnrollmentView.organization_id == tenant
        )
    )
    await proposals.withdraw_open(session=session, organization_id=tenant, person_id=person_id)


def enrollment_row(tenant: uuid.UUID, data: contracts.EnrollmentCreated) -> Row:
    """A person's enrollment in a program: role, capacity, goals, topics and status."""
    return Row(
        EnrollmentView.__table__,
        {
            "id": data.enrollment_id,
            "organization_id": tenant,
            "program_id": data.program_id,
            "person_id": data.person_id,
            "role": data.role,
            "capacity": data.capacity,
            "goals": [g.model_dump(mode="json") for g in data.goals],
            "topics": list(data.topics),
            "status": data.status,
            "version": data.version,
        },
    )


async def withdraw_enrollment(
    session: AsyncSession, tenant: uuid.UUID, data: contracts.EnrollmentWithdrawn
) -> None:
    await session.execute(
        sa.update(EnrollmentView.__table__)
        .where(EnrollmentView.id == data.enrollment_id, EnrollmentView.organization_id == tenant)
        .values(status="withdrawn", updated_at=sa.func.now())
    )
    await proposals.withdraw_open(
        session=session, organization_id=tenant, enrollment_id=data.enrollment_id
    )
