"""Who can be matched in a program: its settings and its active enrollments (read model)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from trellis_matching.models import EnrollmentView, ProgramView
from trellis_shared.contracts.profiles import MatchingSettings
from trellis_shared.problems import Problem


async def program(
    session: AsyncSession, organization_id: uuid.UUID, program_id: uuid.UUID
) -> ProgramView:
    """The program as matching knows it; unknown (or not yet announced) programs are not found."""
    found = (
        await session.exec(
            select(ProgramView).where(
                ProgramView.id == program_id, ProgramView.organization_id == organization_id
            )
        )
    ).first()
    if found is None:
        raise Problem(404, f"No program {program_id}")
    return found


def settings(view: ProgramView) -> MatchingSettings:
    return MatchingSettings.model_validate(view.settings)


async def enrollment(
    session: AsyncSession,
    organization_id: uuid.UUID,
    program_id: uuid.UUID,
    person_id: uuid.UUID,
    role: str,
    *,
    field: str,
    lock: bool = False,
) -> EnrollmentView:
    """The person's active enrollment in the role, or a 422 naming `field`."""
    query = select(EnrollmentView).where(
        EnrollmentView.organization_id == organization_id,
        EnrollmentView.program_id == program_id,
        EnrollmentView.person_id == person_id,
        EnrollmentView.role == role,
        EnrollmentView.status == "active",
    )
    if lock:
        query = query.with_for_update()
    found = (await session.exec(query)).first()
    if found is None:
        raise Problem(
            422,
            f"Invalid {field}: {person_id} is not enrolled as {role} in this program",
            errors=[{"field": field, "message": f"not enrolled as {role}"}],
        )
    return found


def capacity(mentor: EnrollmentView, program_settings: MatchingSettings) -> int:
    return (
        mentor.capacity if mentor.capacity is not None else program_settings.default_mentor_capacity
    )


async def mentor_load(session: AsyncSession, mentor_enrollment_id: uuid.UUID) -> tuple[int, int]:
    """(accepted, open) proposals holding the mentor's slots."""
    from trellis_matching.proposals.models import Proposal

    rows = (
        await session.exec(
            select(Proposal.status, sa.func.count())
            .where(
                Proposal.mentor_enrollment_id == mentor_enrollment_id,
                Proposal.status.in_(("accepted", "proposed")),
            )
            .group_by(Proposal.status)
        )
    ).all()
    counts = dict(rows)
    return counts.get("accepted", 0), counts.get("proposed", 0)
