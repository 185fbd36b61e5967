"""The life of an enrollment after `service.enroll`: reading, changing and withdrawing it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_profiles.events import publish
from trellis_profiles.people.models import Person
from trellis_profiles.programs.models import Enrollment, EnrollmentUpdate
from trellis_profiles.programs.service import (
    check_role_fields,
    enrollment_snapshot,
    get,
    invalid,
)
from trellis_shared.concurrency import require_if_match
from trellis_shared.contracts import profiles as contracts
from trellis_shared.db import get_in_tenant
from trellis_shared.pagination import keyset_page
from trellis_shared.problems import Problem
from trellis_shared.settings import ServiceSettings


async def get_enrollment(
    *,
    session: AsyncSession,
    organization_id: uuid.UUID,
    enrollment_id: uuid.UUID,
    lock: bool = False,
) -> Enrollment:
    """An enrollment in the organization; another tenant's is simply not found."""
    return await get_in_tenant(
        session, Enrollment, enrollment_id, organization_id=organization_id, lock=lock
    )


async def list_program_enrollments(
    *,
    session: AsyncSession,
    organization_id: uuid.UUID,
    program_id: uuid.UUID,
    role: str | None,
    status: str | None,
    visible_to: uuid.UUID | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Enrollment], str | None]:
    """A program's enrollments, oldest first; `visible_to` limits them to what a member sees."""
    await get(session=session, organization_id=organization_id, program_id=program_id)
    query = select(Enrollment).where(
        Enrollment.organization_id == organization_id, Enrollment.program_id == program_id
    )
    if role:
        query = query.where(Enrollment.role == role)
    if status:
        query = query.where(Enrollment.status == status)
    if visible_to is not None:
        # Mentors' offers are there to be browsed; a mentee's goals are theirs and the admins'.
        query = query.where(sa.or_(Enrollment.role == "mentor", Enrollment.person_id == visible_to))
    return await keyset_page(session, query, Enrollment, limit=limit, cursor=cursor)


async def list_person_enrollments(
    *,
    session: AsyncSession,
    organization_id: uuid.UUID,
    person_id: uuid.UUID,
    limit: int,
    cursor: str | None,
) -> tuple[list[Enrollment], str | None]:
    """A person's enrollments in every program of the organization, oldest first."""
    found = await session.scalar(
        select(Person.id).where(Person.id == person_id, Person.organization_id == organization_id)
    )
    if found is None:
        raise Problem(404, f"No person {person_id}")
    query = select(Enrollment).where(
        Enrollment.organization_id == organization_id, Enrollment.person_id == person_id
    )
    return await keyset_page(session, query, Enrollment, limit=limit, cursor=cursor)


async def _get_own(
    session: AsyncSession,
    organization_id: uuid.UUID,
    enrollment_id: uuid.UUID,
    only_person: uuid.UUID | None,
) -> Enrollment:
    enrollment = await get_enrollment(
        session=session, organization_id=organization_id, enrollment_id=enrollment_id, lock=True
    )
    if only_person is not None and enrollment.person_id != only_person:
        raise Problem(403, "Only the enrolled person or an org admin may change this enrollment")
    if enrollment.status != "active":
        raise Problem(
            409, f"Enrollment {enrollment_id} is already withdrawn", slug="enrollment-withdrawn"
        )
    return enrollment


async def withdraw(
    *,
    session: AsyncSession,
    settings: ServiceSettings,
    organization_id: uuid.UUID,
    enrollment_id: uuid.UUID,
    only_person: uuid.UUID | None = None,
) -> Enrollment:
    """Take the person out of the program; `only_person` restricts it to their own enrollment."""
    enrollment = await _get_own(session, organization_id, enrollment_id, only_person)
    now = datetime.now(UTC)
    enrollment.status = "withdrawn"
    enrollment.withdrawn_at = now
    enrollment.updated_at = now
    enrollment.version += 1
    session.add(enrollment)
    await session.flush()
    await publish(
        session,
        settings,
        contracts.EnrollmentWithdrawn(
            enrollment_id=enrollment.id,
            program_id=enrollment.program_id,
            person_id=enrollment.person_id,
            role=enrollment.role,
            withdrawn_at=now,
        ),
        tenant=organization_id,
    )
    return enrollment


async def update_enrollment(
    *,
    session: AsyncSession,
    settings: ServiceSettings,
    organization_id: uuid.UUID,
    enrollment_id: uuid.UUID,
    data: EnrollmentUpdate,
    if_match: str | None,
    only_person: uuid.UUID | None = None,
) -> Enrollment:
    """Change an active enrollment's capacity, goals or topics, if the caller saw its version."""
    enrollment = await _get_own(session, organization_id, enrollment_id, only_person)
    require_if_match(if_match, enrollment.version)
    changes = data.model_dump(mode="json", exclude_unset=True)
    for name in ("goals", "topics"):
        if name in changes and changes[name] is None:
            raise invalid(name, "cannot be null; send [] to clear")
    if not changes:
        return enrollment
    program = await get(
        session=session, organization_id=organization_id, program_id=enrollment.program_id
    )
    goals = changes.get("goals", enrollment.goals)
    topics = changes.get("topics", enrollment.topics)
    capacity = changes.get("capacity", enrollment.capacity)
    enrollment.capacity = check_role_fields(program, enrollment.role, capacity, goals, topics)
    enrollment.goals = goals
    enrollment.topics = list(dict.fromkeys(topics))
    enrollment.version += 1
    enrollment.updated_at = datetime.now(UTC)
    session.add(enrollment)
    await session.flush()
    await publish(
        session,
        settings,
        contracts.EnrollmentUpdated(**enrollment_snapshot(enrollment)),
        tenant=organization_id,
    )
    return enrollment
